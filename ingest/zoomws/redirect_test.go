package zoomws

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zccingest/zccingest/test/sim"
)

// A WebSocket endpoint that answers with a redirect gets no second request
// anywhere: the token rides in the URL's query, and following would give
// it (and its Referer) to whoever the Location names.
func TestRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer redirector.Close()

	r := newRig(t, sim.Options{}, []string{"a"}, func(o *Options, _ *Client) {
		o.WebSocketURL = "ws" + strings.TrimPrefix(redirector.URL, "http") + "/ws"
	})
	r.until(t, "a failed dial", func() bool { return r.reconnects("a", reasonDial) >= 2 })
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect was followed: %d requests reached its target", n)
	}
}
