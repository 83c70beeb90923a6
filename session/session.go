// Package session gets Zoom access tokens: from a Server-to-Server OAuth app
// (account credentials grant) or from an OAuth app (rotating refresh
// tokens). A Source caches the token, refreshes it well before it expires,
// fetches once however many callers ask at the same time, and backs off after
// a failure so that no caller can make it loop.
package session

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
)

// A Token is an access token and what came with it.
type Token struct {
	AccessToken string
	Expiry      time.Time
	Scopes      []string // the response's scope, split

	refreshAt time.Time
}

// String keeps a token printed by mistake out of logs.
func (t *Token) String() string { return "session.Token{AccessToken:<redacted>}" }

// fetcher gets a new token from Zoom.
type fetcher func(ctx context.Context, client *http.Client) (*oauth2.Token, error)

// Options tune a Source; the zero value is what production uses.
type Options struct {
	HTTPClient *http.Client     // default: 30 s timeout
	Logger     zerolog.Logger   // default: discard
	Now        func() time.Time // default: time.Now
	// RefreshBefore is how long before expiry a token is replaced; default
	// 5 minutes, or a fifth of the token's lifetime if that is shorter.
	RefreshBefore time.Duration
	// Backoff after a failure: transient ones (5xx, network) start at
	// TransientBackoff (1 s) and double to 30 s; credential ones (4xx) start
	// at CredentialBackoff (30 s) and double to 5 minutes. Jitter takes up
	// to a fifth off each wait.
	TransientBackoff, CredentialBackoff time.Duration
}

// A Source hands out access tokens. It is safe for concurrent use.
type Source struct {
	fetch   fetcher
	opts    Options
	secrets []string // what Redact hides besides access tokens

	sem chan struct{} // one fetch at a time

	mu       sync.Mutex
	tok      *Token
	recent   []string // recent access tokens, for Redact
	failures int
	retryAt  time.Time
}

func newSource(f fetcher, opts Options, secrets ...string) *Source {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
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
		opts.CredentialBackoff = 30 * time.Second
	}
	var nonEmpty []string
	for _, s := range secrets {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return &Source{fetch: f, opts: opts, secrets: nonEmpty, sem: make(chan struct{}, 1)}
}

// Token returns a valid access token: the cached one while it is fresh,
// otherwise a new one. While fetches fail it keeps returning the cached
// token as long as that has not expired, and it never fetches again before
// the backoff has passed: a caller that asks too soon waits.
func (s *Source) Token(ctx context.Context) (*Token, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()

	s.mu.Lock()
	tok, retryAt := s.tok, s.retryAt
	s.mu.Unlock()
	now := s.opts.Now()
	if tok != nil && now.Before(tok.refreshAt) {
		return tok, nil
	}
	usable := tok != nil && now.Before(tok.Expiry.Add(-10*time.Second))
	if now.Before(retryAt) {
		if usable {
			return tok, nil
		}
		t := time.NewTimer(retryAt.Sub(now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}

	ot, err := s.fetch(ctx, s.opts.HTTPClient)
	if err != nil {
		err = s.classify(err)
		s.mu.Lock()
		s.failures++
		wait := s.backoff(err, s.failures)
		s.retryAt = s.opts.Now().Add(wait)
		s.mu.Unlock()
		s.opts.Logger.Warn().Err(err).Dur("retry_in", wait).Bool("cached_token_usable", usable).Msg("token request failed")
		if usable && ctx.Err() == nil {
			return tok, nil
		}
		return nil, err
	}
	tok = s.newToken(ot)
	s.mu.Lock()
	s.tok, s.failures, s.retryAt = tok, 0, time.Time{}
	s.recent = append(s.recent, tok.AccessToken)
	if len(s.recent) > 8 {
		s.recent = s.recent[1:]
	}
	s.mu.Unlock()
	s.opts.Logger.Info().Time("expires", tok.Expiry).Msg("access token fetched")
	return tok, nil
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
	early := min(s.opts.RefreshBefore, t.Expiry.Sub(now)/5)
	t.refreshAt = t.Expiry.Add(-early)
	return t
}

// Invalidate tells the source that Zoom rejected the token: the next Token
// call fetches a new one (subject to the backoff of earlier failures).
func (s *Source) Invalidate(accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken == accessToken {
		s.tok = nil
	}
}

// Redact hides in s every secret the source knows: the client secret, refresh
// tokens, recent access tokens, and any access_token query parameter.
func (s *Source) Redact(str string) string {
	s.mu.Lock()
	secrets := append(append([]string(nil), s.secrets...), s.recent...)
	s.mu.Unlock()
	return RedactString(str, secrets...)
}

func (s *Source) addSecret(secret string) {
	if secret == "" {
		return
	}
	s.mu.Lock()
	s.secrets = append(s.secrets, secret)
	s.mu.Unlock()
}

func (s *Source) backoff(err error, failures int) time.Duration {
	base, ceiling := s.opts.TransientBackoff, 30*s.opts.TransientBackoff
	var e *Error
	if errors.As(err, &e) && e.Kind == KindCredential {
		base, ceiling = s.opts.CredentialBackoff, 10*s.opts.CredentialBackoff
	}
	d := base << min(failures-1, 20)
	if d > ceiling || d <= 0 {
		d = ceiling
	}
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}
