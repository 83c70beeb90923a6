package zoomrest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/zoomrest"
)

// Server errors are retried three times; a 429 without Zoom's headers (a
// per-user limit seen on the forum) is backed off and retried, not taken
// for a daily stop.
func TestRetries(t *testing.T) {
	defer func(d time.Duration) { *zoomrest.BackoffBase = d }(*zoomrest.BackoffBase)
	*zoomrest.BackoffBase = time.Millisecond
	for _, tc := range []struct {
		name     string
		failures int
		status   int
		ok       bool
	}{
		{"503 three times", 3, http.StatusServiceUnavailable, true},
		{"503 four times", 4, http.StatusServiceUnavailable, false},
		{"bare 429 twice", 2, http.StatusTooManyRequests, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if int(n.Add(1)) <= tc.failures {
					w.WriteHeader(tc.status)
					return
				}
				w.Write([]byte(`{"users":[{"user_id":"u1","status_name":"Ready"}]}`))
			}))
			defer srv.Close()
			c, err := zoomrest.New(zoomrest.Options{BaseURL: srv.URL, Token: func(context.Context) (string, error) { return "t", nil }, RequestsPerMinute: 600_000})
			if err != nil {
				t.Fatal(err)
			}
			users, err := c.Users(ctxT(t))
			if tc.ok != (err == nil) || (tc.ok && len(users) != 1) {
				t.Errorf("users %v, err %v; want ok %v", users, err, tc.ok)
			}
			var ae *zoomrest.APIError
			if !tc.ok && (!errors.As(err, &ae) || ae.Status != tc.status || ae.Endpoint != "users") {
				t.Errorf("err = %v, want an APIError naming the endpoint", err)
			}
		})
	}
}
