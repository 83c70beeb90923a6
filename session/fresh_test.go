package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// fetches returns a channel that gets a value each time src ends a fetch.
func fetches(src *Source) chan struct{} {
	ch := make(chan struct{}, 16)
	src.afterFetch = func() { ch <- struct{}{} }
	return ch
}

func waitFetch(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch ended within 10 s")
	}
}

// Finding 3: a caller with a valid cached token never waits behind a
// refresh, however slow the endpoint.
func TestCachedTokenNeverWaitsForRefresh(t *testing.T) {
	ts := newTokenServer(t)
	clk := &clock{t: time.Now()}
	src := newS2S(ts, Options{Now: clk.Now})
	first, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts.release = make(chan struct{}) // the endpoint hangs from now on
	defer close(ts.release)
	clk.Add(57 * time.Minute) // refresh due, 3 minutes of validity left
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		tok, err := src.Token(ctx)
		cancel()
		if err != nil || tok != first {
			t.Fatalf("with a refresh in flight got %v, %v; want the cached token at once", tok, err)
		}
	}
	if n := ts.n.Load(); n > 2 {
		t.Errorf("%d token requests: refreshes must be single-flight", n)
	}
}

// Finding 2: KeepFresh replaces the token before it expires, with nobody
// asking, so that a reconnect finds a valid one.
func TestKeepFreshRefreshesAheadOfExpiry(t *testing.T) {
	ts := newTokenServer(t)
	ts.answer = func(n int64, w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"access-token-%d","token_type":"bearer","expires_in":2}`, n)
		return true
	}
	src := newS2S(ts, Options{})
	fetched := fetches(src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { src.KeepFresh(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFetch(t, fetched) // the first token, fetched at once
	first, _ := src.Token(context.Background())
	for i := range 2 {
		waitFetch(t, fetched)
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tok == first || !time.Now().Before(first.Expiry) {
			t.Fatalf("refresh %d: token %v at %s, want a new one before %s", i+1, tok.Expiry, time.Now(), first.Expiry)
		}
		first = tok
	}
}

// Finding 7: however often the credentials are refused, the next attempt
// is at most MaxRetryWait away, and each kind of failure is logged loudly
// once with what to do, each attempt at debug.
func TestRefusedCredentialsRetriedWithin30s(t *testing.T) {
	ts := newTokenServer(t)
	ts.answer = zoomError(401, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`)
	clk := &clock{t: time.Now()}
	var logs bytes.Buffer
	src := newS2S(ts, Options{Now: clk.Now, Logger: zerolog.New(&logs)})
	for i := range 12 {
		if _, err := src.Token(context.Background()); err == nil {
			t.Fatal("no error")
		}
		src.mu.Lock()
		wait := src.retryAt.Sub(clk.Now())
		src.mu.Unlock()
		if wait > MaxRetryWait || wait <= 0 {
			t.Fatalf("attempt %d: next attempt in %s, want at most %s", i+1, wait, MaxRetryWait)
		}
		clk.Add(wait)
	}
	if n := strings.Count(logs.String(), `"level":"error"`); n != 1 {
		t.Errorf("%d error-level lines for 12 identical refusals, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"action":"check the app's client id`) {
		t.Errorf("the error line does not say what to do:\n%s", logs.String())
	}
	if got := testutil.ToFloat64(src.errs.WithLabelValues(LabelInvalidClient)); got != 12 {
		t.Errorf("token_errors_total{kind=invalid_client} = %v, want 12", got)
	}
	ts.answer = nil // the app is re-activated
	clk.Add(MaxRetryWait)
	if _, err := src.Token(context.Background()); err != nil {
		t.Errorf("after the endpoint healed: %v", err)
	}
}

// Finding 8: a hung endpoint costs one HTTP timeout, then a retry.
func TestHungEndpointTimesOutAndRetries(t *testing.T) {
	if d := newSource(nil, Options{}).opts.HTTPClient.Timeout; d != DefaultHTTPTimeout || d > 10*time.Second {
		t.Errorf("default token request timeout %s, want %s", d, DefaultHTTPTimeout)
	}
	ts := newTokenServer(t)
	hang := make(chan struct{})
	defer close(hang)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	}
	src := newS2S(ts, Options{HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}, TransientBackoff: 10 * time.Millisecond})
	_, err := src.Token(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Label != LabelTimeout || e.Kind != KindTransient {
		t.Fatalf("hung endpoint: %v, want a transient timeout", err)
	}
	if _, err := src.Token(context.Background()); err != nil {
		t.Errorf("retry after the timeout: %v", err)
	}
}

// Zoom's OAuth errors that need a person: each gets its own kind, the
// meaning and what to do, whatever the surrounding wording.
func TestOAuthErrorsNeedAPerson(t *testing.T) {
	for _, oe := range OAuthErrors {
		t.Run(oe.Label, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.answer = zoomError(400, fmt.Sprintf(`{"code":%d,"message":"something Zoom may reword","error":"invalid_request"}`, oe.Code))
			var logs bytes.Buffer
			src := newS2S(ts, Options{Logger: zerolog.New(&logs)})
			_, err := src.Token(context.Background())
			var e *Error
			if !errors.As(err, &e) || e.Label != oe.Label || e.Kind != KindCredential {
				t.Fatalf("error %v, want kind %s", err, oe.Label)
			}
			if !strings.Contains(err.Error(), oe.Means) || !strings.Contains(err.Error(), oe.Action) {
				t.Errorf("error %q does not say what it means and what to do", err)
			}
			if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), `"kind":"`+oe.Label+`"`) {
				t.Errorf("logs:\n%s", logs.String())
			}
			if got := testutil.ToFloat64(src.errs.WithLabelValues(oe.Label)); got != 1 {
				t.Errorf("token_errors_total{kind=%s} = %v", oe.Label, got)
			}
		})
	}
	if _, ok := Explain(`build_connection: "Token is invalid (4741)"`); !ok {
		t.Errorf("Explain missed a code in a build_connection's content")
	}
	if _, ok := Explain(`"Token is invalid"`); ok {
		t.Errorf("Explain found a code where there is none")
	}
}
