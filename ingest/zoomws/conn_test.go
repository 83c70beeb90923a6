package zoomws

import (
	"testing"
	"time"
)

func TestRetryWait(t *testing.T) {
	up := connResult{reason: reasonClosed, built: true}
	rejected := connResult{reason: reasonBuildFailed}
	dial := connResult{reason: reasonDial}
	for _, tc := range []struct {
		name         string
		failures     int
		res          connResult
		wantFailures int
		immediate    bool
	}{
		{"after a connection that was up", 3, up, 0, true},
		{"first rejected token", 0, rejected, 1, true},
		{"rejected again", 1, rejected, 2, false},
		{"dial failure", 0, dial, 1, false},
		{"dial failure after a rejected token", 1, dial, 2, false},
	} {
		n, wait := retryWait(tc.failures, tc.res)
		if n != tc.wantFailures || (wait == 0) != tc.immediate {
			t.Errorf("%s: failures %d wait %s; want %d, immediate %v", tc.name, n, wait, tc.wantFailures, tc.immediate)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n <= 20; n++ {
		d := backoff(n)
		ceiling := min(100*time.Millisecond<<min(n-1, 12), 30*time.Second)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("backoff(%d) = %s, want within [%s, %s]", n, d, ceiling/2, ceiling)
		}
	}
}
