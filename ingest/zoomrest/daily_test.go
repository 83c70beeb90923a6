package zoomrest

import (
	"net/http"
	"testing"
	"time"
)

// A daily 429 stops its category until Zoom's Retry-After, bounded: a time
// years ahead (a misread, a wrong clock) must not stop it for good, nor one
// already past.
func TestDailyUntilBounded(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		retryAfter string
		want       time.Time
	}{
		{"2026-11-25T00:00:00Z", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{"2031-01-01T00:00:00Z", now.Add(maxDailyWait)},
		{"2026-11-24T09:00:00Z", now.Add(time.Minute)},
	} {
		until, ok := dailyUntil(http.Header{"Retry-After": {c.retryAfter}, "X-Ratelimit-Type": {"Daily-limit"}}, now)
		if !ok || !until.Equal(c.want) {
			t.Errorf("Retry-After %s: until %s (%v), want %s", c.retryAfter, until, ok, c.want)
		}
	}
}
