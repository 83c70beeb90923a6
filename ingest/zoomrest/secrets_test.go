package zoomrest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/zoomrest"
)

const secret = "sim-access-SECRET-do-not-leak"

// Whatever Zoom (or something in between) answers, the access token is
// in no error and no log line: not when the body quotes the request's
// Authorization header, not on a redirect, not when the connection fails.
func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-RateLimit-Type", "QPS")
			w.WriteHeader(status)
			w.Write([]byte(`{"code":1,"message":"refused ` + r.Header.Get("Authorization") + `"}`))
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/contact_center/users", echo(http.StatusForbidden))
	mux.HandleFunc("/v2/contact_center/engagements/bad", echo(http.StatusBadRequest))
	mux.HandleFunc("/v2/contact_center/engagements/gone", echo(http.StatusNotFound))
	mux.HandleFunc("/v2/contact_center/engagements/err", echo(http.StatusInternalServerError))
	mux.HandleFunc("/v2/contact_center/engagements/auth", echo(http.StatusUnauthorized))
	mux.HandleFunc("/v2/contact_center/engagements/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/?t="+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), http.StatusFound)
	})
	mux.HandleFunc("/v2/contact_center/engagements/plain", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream said "+r.Header.Get("Authorization"), http.StatusBadGateway)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer func(d time.Duration) { *zoomrest.BackoffBase = d }(*zoomrest.BackoffBase)
	*zoomrest.BackoffBase = time.Millisecond
	var logs bytes.Buffer
	c, err := zoomrest.New(zoomrest.Options{
		BaseURL: srv.URL + "/v2", Token: func(context.Context) (string, error) { return secret, nil },
		Logger: zerolog.New(&logs).Level(zerolog.DebugLevel), RequestsPerMinute: 600_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	_, e := c.Users(ctx)
	errs = append(errs, e)
	for _, id := range []string{"bad", "gone", "err", "auth", "moved", "plain"} {
		_, e := c.Engagement(ctx, id)
		errs = append(errs, e)
	}
	srv.Close()
	_, e = c.RecordingStatus(ctx, "any") // connection refused
	errs = append(errs, e)
	for _, e := range errs {
		if e == nil {
			t.Fatalf("no error")
		}
		if strings.Contains(e.Error(), secret) || strings.Contains(e.Error(), "SECRET") {
			t.Errorf("error carries the token: %v", e)
		}
	}
	if !errors.Is(errs[2], zoomrest.ErrNotFound) {
		t.Errorf("404: %v, want ErrNotFound", errs[2])
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("log carries the token: %s", logs.String())
	}
}

// A response larger than 16 MiB is refused rather than read whole.
func TestBodyBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"users":[`))
		chunk := bytes.Repeat([]byte(`{"user_id":"x"},`), 1<<16)
		for range 20 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := zoomrest.New(zoomrest.Options{BaseURL: srv.URL, Token: func(context.Context) (string, error) { return "t", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Users(context.Background()); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("err = %v, want the size refusal", err)
	}
}

// A server that always gives a next page is stopped at MaxPages.
func TestPagesBounded(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Write([]byte(`{"next_page_token":"tok` + strings.Repeat("x", n) + `","users":[{"user_id":"u` + strings.Repeat("y", n) + `"}]}`))
	}))
	defer srv.Close()
	c, err := zoomrest.New(zoomrest.Options{BaseURL: srv.URL, Token: func(context.Context) (string, error) { return "t", nil }, MaxPages: 5, RequestsPerMinute: 600_000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // unbounded paging fails here, not by hanging
	defer cancel()
	if _, err := c.Users(ctx); err == nil || n != 5 {
		t.Errorf("err = %v after %d pages, want an error after 5", err, n)
	}
}
