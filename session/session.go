// Package session gets Zoom access tokens: from a Server-to-Server OAuth app
// (account credentials grant) or from an OAuth app (rotating refresh
// tokens). A Source caches the token and, with KeepFresh running, replaces
// it well before it expires, so that a reconnect never waits for Zoom's
// token endpoint. Reading a valid cached token never blocks; fetches are
// single-flight; after a failure the next attempt waits a backoff, never
// longer than MaxRetryWait.
package session

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// MaxRetryWait bounds the wait between two token attempts, whatever failed:
// a refused credential can be fixed at any moment (an app re-activated, a
// secret rotated, an incident at Zoom over), and while a subscription has
// no token every minute waited is a minute of events lost.
const MaxRetryWait = 30 * time.Second

// DefaultHTTPTimeout bounds one token request. A hung endpoint costs this
// much before the retry; with the cache refreshed ahead of expiry no
// reconnect waits for it.
const DefaultHTTPTimeout = 10 * time.Second

// A Token is an access token and what came with it.
type Token struct {
	AccessToken string
	Expiry      time.Time
	Scopes      []string // the response's scope, split

	refreshAt   time.Time
	usableUntil time.Time // past this the token may expire on its way to Zoom
}

// String keeps a token printed by mistake out of logs.
func (t *Token) String() string { return "session.Token{AccessToken:<redacted>}" }

// fetcher gets a new token from Zoom.
type fetcher func(ctx context.Context, client *http.Client) (*oauth2.Token, error)

// Options tune a Source; the zero value is what production uses.
type Options struct {
	HTTPClient *http.Client     // default: DefaultHTTPTimeout, no redirects followed
	Logger     zerolog.Logger   // default: discard
	Now        func() time.Time // default: time.Now
	// RefreshBefore is how long before expiry a token is replaced; default
	// 5 minutes, or half the token's lifetime if that is shorter.
	RefreshBefore time.Duration
	// Backoff after a failure: transient ones (5xx, network, timeout) start
	// at TransientBackoff (1 s), credential ones (4xx) at CredentialBackoff
	// (10 s); both double up to MaxRetryWait. Jitter takes up to a fifth
	// off each wait.
	TransientBackoff, CredentialBackoff time.Duration
}

// A Source hands out access tokens. It is safe for concurrent use.
type Source struct {
	fetch   fetcher
	opts    Options
	secrets []string // what Redact hides besides access tokens: the credentials, for good
	rotated []string // and the last refresh tokens (addSecret), bounded
	flight  singleflight.Group
	errs    *prometheus.CounterVec // kind
	wake    chan struct{}          // Invalidate wakes KeepFresh

	mu       sync.Mutex
	tok      *Token
	recent   []string // recent access tokens, for Redact
	failures int
	retryAt  time.Time
	loud     map[string]time.Time // error label → when it was last logged at error level

	afterFetch func() // tests: called when a fetch has ended
}

func newSource(f fetcher, opts Options, secrets ...string) *Source {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Timeout: DefaultHTTPTimeout,
			// A redirect would carry the credentials elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshBefore == 0 {
		opts.RefreshBefore = 5 * time.Minute
	}
	if opts.TransientBackoff == 0 {
		opts.TransientBackoff = time.Second
	}
	if opts.CredentialBackoff == 0 {
		opts.CredentialBackoff = 10 * time.Second
	}
	var nonEmpty []string
	for _, s := range secrets {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return &Source{
		fetch: f, opts: opts, secrets: nonEmpty, wake: make(chan struct{}, 1), loud: map[string]time.Time{},
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_token_errors_total",
			Help: "Failed token requests, by kind (invalid_client, invalid_account, invalid_grant, the Zoom OAuth errors that need a person, rejected, server_error, network, timeout).",
		}, []string{"kind"}),
	}
}

// Collector is the source's metric, zccingest_token_errors_total{kind}.
func (s *Source) Collector() prometheus.Collector { return s.errs }

// Token returns a valid access token. A cached token that is not about to
// expire is returned at once, even while a refresh is due or failing (the
// refresh then runs in the background). Without one, the caller waits for
// the one fetch in flight, or for the backoff of the last failure to pass
// and then for a fetch; ctx ends only this caller's wait.
func (s *Source) Token(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	tok, retryAt := s.tok, s.retryAt
	s.mu.Unlock()
	now := s.opts.Now()
	if tok != nil && now.Before(tok.refreshAt) {
		return tok, nil
	}
	if tok != nil && now.Before(tok.usableUntil) {
		if !now.Before(retryAt) {
			s.flight.DoChan("token", s.refresh) // in the background: nobody waits
		}
		return tok, nil
	}
	if now.Before(retryAt) {
		t := time.NewTimer(retryAt.Sub(now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	ch := s.flight.DoChan("token", s.refresh)
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Token), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cached returns the cached token if it is valid for a while yet (10 s,
// or a tenth of its lifetime if shorter), else nil; it never fetches and never waits.
func (s *Source) Cached() *Token {
	s.mu.Lock()
	tok := s.tok
	s.mu.Unlock()
	if tok == nil || !s.opts.Now().Before(tok.usableUntil) {
		return nil
	}
	return tok
}

// KeepFresh refreshes the cached token ahead of its expiry until ctx is
// done, and fetches one at once when there is none (at start, after
// Invalidate), so that a reconnect finds a valid token in the cache.
func (s *Source) KeepFresh(ctx context.Context) {
	for {
		s.mu.Lock()
		due := s.retryAt
		if s.tok != nil && s.tok.refreshAt.After(due) {
			due = s.tok.refreshAt
		}
		s.mu.Unlock()
		if d := due.Sub(s.opts.Now()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.wake:
				t.Stop()
				continue
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		select {
		case r := <-s.flight.DoChan("token", s.refresh):
			_ = r // logged and counted by refresh
		case <-ctx.Done():
			return
		}
	}
}

// refresh fetches a token and caches it; it runs once at a time, under
// singleflight, on no caller's context (a caller giving up must not fail
// the fetch the others wait for): the HTTP client's timeout bounds it.
func (s *Source) refresh() (any, error) {
	s.mu.Lock()
	old := s.tok
	s.mu.Unlock()
	now := s.opts.Now()
	usable := old != nil && now.Before(old.usableUntil)
	start := time.Now()
	if s.afterFetch != nil {
		defer s.afterFetch()
	}
	ot, err := s.fetch(context.Background(), s.opts.HTTPClient)
	if err != nil {
		err = s.classify(err)
		s.failed(err, usable, time.Since(start))
		return nil, err
	}
	tok := s.newToken(ot)
	s.mu.Lock()
	s.tok, s.failures, s.retryAt = tok, 0, time.Time{}
	s.recent = append(s.recent, tok.AccessToken)
	if len(s.recent) > 8 {
		s.recent = s.recent[1:]
	}
	s.loud = map[string]time.Time{} // a later failure is news again
	s.mu.Unlock()
	s.opts.Logger.Info().Time("expires", tok.Expiry).Str("took", time.Since(start).Round(time.Millisecond).String()).Msg("access token fetched")
	return tok, nil
}

// failed records a failed fetch: the backoff, the metric, and the log. A
// kind of failure gets one error-level line saying what to do when it first
// appears, and again every 5 minutes while it lasts; each attempt is
// logged at debug.
func (s *Source) failed(err error, usable bool, took time.Duration) {
	var e *Error
	errors.As(err, &e)
	s.errs.WithLabelValues(e.Label).Inc()
	now := s.opts.Now()
	s.mu.Lock()
	s.failures++
	wait := s.backoff(err, s.failures)
	s.retryAt = now.Add(wait)
	failures := s.failures
	last, seen := s.loud[e.Label]
	loud := !seen || now.Sub(last) >= 5*time.Minute
	if loud {
		s.loud[e.Label] = now
	}
	s.mu.Unlock()
	ev := s.opts.Logger.Debug()
	switch {
	case loud && e.Kind == KindCredential:
		ev = s.opts.Logger.Error()
	case loud:
		ev = s.opts.Logger.Warn()
	}
	ev = ev.Str("kind", e.Label).Str("error", err.Error()).Int("attempts", failures).
		Str("retry_in", wait.Round(time.Millisecond).String()).Str("took", took.Round(time.Millisecond).String()).
		Bool("cached_token_usable", usable)
	if e.Advice != "" {
		ev = ev.Str("action", e.Advice)
	}
	ev.Msg("token request failed")
}

func (s *Source) newToken(ot *oauth2.Token) *Token {
	now := s.opts.Now()
	t := &Token{AccessToken: ot.AccessToken, Expiry: ot.Expiry}
	if t.Expiry.IsZero() {
		t.Expiry = now.Add(time.Hour) // Zoom's documented lifetime
	}
	if scope, ok := ot.Extra("scope").(string); ok {
		t.Scopes = strings.Fields(scope)
	}
	life := t.Expiry.Sub(now)
	t.refreshAt = t.Expiry.Add(-min(s.opts.RefreshBefore, life/2))
	if floor := now.Add(time.Second); t.refreshAt.Before(floor) {
		t.refreshAt = floor // a token that is already expiring must not make KeepFresh spin
	}
	t.usableUntil = t.Expiry.Add(-min(10*time.Second, life/10))
	return t
}

// Invalidate tells the source that Zoom rejected the token: the next Token
// call, or KeepFresh at once, fetches a new one (subject to the backoff of
// earlier failures). Another token than the cached one changes nothing.
func (s *Source) Invalidate(accessToken string) {
	s.mu.Lock()
	dropped := s.tok != nil && s.tok.AccessToken == accessToken
	if dropped {
		s.tok = nil
	}
	s.mu.Unlock()
	if dropped {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Redact hides in s every secret the source knows: the client secret, refresh
// tokens, recent access tokens, and any access_token query parameter.
func (s *Source) Redact(str string) string {
	s.mu.Lock()
	secrets := append(append(append([]string(nil), s.secrets...), s.rotated...), s.recent...)
	s.mu.Unlock()
	return RedactString(str, secrets...)
}

func (s *Source) addSecret(secret string) {
	if secret == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Added at every refresh attempt: keep each once, and only the most
	// recent, or every Redact would walk a list that grows for ever.
	if slices.Contains(s.secrets, secret) || slices.Contains(s.rotated, secret) {
		return
	}
	s.rotated = append(s.rotated, secret)
	if len(s.rotated) > maxRotated {
		s.rotated = append(s.rotated[:0:0], s.rotated[len(s.rotated)-maxRotated:]...)
	}
}

// maxRotated bounds the refresh tokens a Source remembers for Redact: the
// last rotations' (older ones are spent). The client secret stays always.
const maxRotated = 16

func (s *Source) backoff(err error, failures int) time.Duration {
	base := s.opts.TransientBackoff
	var e *Error
	if errors.As(err, &e) && e.Kind == KindCredential {
		base = s.opts.CredentialBackoff
	}
	d := base << min(failures-1, 20)
	if d > MaxRetryWait || d <= 0 {
		d = MaxRetryWait
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}
