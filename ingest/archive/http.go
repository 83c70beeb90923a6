package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// An httpError is a response Zoom refused with. Body holds at most a few KiB
// of Zoom's explanation, never a token (the request carries it in a header).
type httpError struct {
	Status int
	Body   string
	What   string
}

func (e *httpError) Error() string {
	if e.Status == 0 { // refused before any request
		return e.What + ": " + e.Body
	}
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = " (the access token was refused: check the app is activated and its refresh token current; 'zccingest token exchange' renews it)"
	case http.StatusForbidden:
		hint = " (missing scope: the app needs recording:read:admin, or archiving:read:list_archived_files:admin)"
	case http.StatusNotFound:
		hint = " (is archiving enabled for the account, and archive.api_url right?)"
	}
	return fmt.Sprintf("%s: HTTP %d: %s%s", e.What, e.Status, e.Body, hint)
}

// transient reports whether trying again later can help.
func (e *httpError) transient() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// pageTokenExpired reports Zoom's answer to a next_page_token older than
// 15 minutes: 400 with code 300 "The next page token is invalid or expired."
func (e *httpError) pageTokenExpired() bool {
	return e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Body), "next page token")
}

// get sends an authenticated GET and returns a 2xx response. It waits out
// 429s (Retry-After, else a growing backoff) and fetches a fresh token once
// on a 401; any other refusal is an *httpError.
func (p *Poller) get(ctx context.Context, rawURL, what string, withToken bool) (*http.Response, error) {
	refreshed := false
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		var token string
		if withToken {
			tok, err := p.opts.Tokens.Token(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: getting an access token: %w", what, err)
			}
			token = tok.AccessToken
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := p.opts.HTTPClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", what, p.redact(err))
		}
		if resp.StatusCode/100 == 2 {
			p.noteRateLimit(resp.Header)
			return resp, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		herr := &httpError{Status: resp.StatusCode, Body: p.opts.Tokens.Redact(strings.TrimSpace(string(body))), What: what}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && withToken && !refreshed:
			refreshed = true
			p.opts.Tokens.Invalidate(token)
			continue
		case resp.StatusCode == http.StatusTooManyRequests && attempt < p.opts.MaxAttempts:
			wait := retryAfter(resp.Header, p.opts.Now(), attempt, p.opts.RetryWait)
			wait = min(wait, p.opts.MaxRetryAfter)
			p.m.rateLimited.Inc()
			p.opts.Logger.Warn().Str("what", what).Dur("retry_in", wait).
				Str("category", resp.Header.Get("X-RateLimit-Category")).Str("type", resp.Header.Get("X-RateLimit-Type")).
				Msg("Zoom rate limit reached; waiting")
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			continue
		}
		return nil, herr
	}
}

// noteRateLimit logs when a rate limit is about to be reached, so an
// operator sees the reason before the 429s start.
func (p *Poller) noteRateLimit(h http.Header) {
	if rem := h.Get("X-RateLimit-Remaining"); rem != "" {
		if n, err := strconv.Atoi(rem); err == nil && n <= 1 {
			p.opts.Logger.Warn().Str("remaining", rem).Str("category", h.Get("X-RateLimit-Category")).
				Str("type", h.Get("X-RateLimit-Type")).Msg("Zoom rate limit almost exhausted")
		}
	}
}

// retryAfter reads Retry-After, in seconds or as a date (Zoom's daily limit
// gives an ISO-8601 time), else backs off by attempt with jitter.
func retryAfter(h http.Header, now time.Time, attempt int, base time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		for _, layout := range []string{time.RFC3339, http.TimeFormat, "2006-01-02T15:04:05Z0700"} {
			if t, err := time.Parse(layout, v); err == nil {
				return max(t.Sub(now), 0)
			}
		}
	}
	d := base << min(attempt-1, 6)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// redact turns an HTTP client error into text without secrets: url.Error
// quotes the URL, and a download URL may carry a signed query.
func (p *Poller) redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue = &url.Error{Op: ue.Op, URL: safeURL(ue.URL), Err: ue.Err}
		err = ue
	}
	return p.opts.Tokens.Redact(err.Error())
}

// safeURL drops the query and user info of a URL for logs and errors.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// refuseForeignRedirect keeps the client from following a redirect off
// https (or off loopback): Go drops the Authorization header on a redirect
// to another host, but a signed query would still travel.
func refuseForeignRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if req.URL.Scheme != "https" && !isLoopbackHost(req.URL.Hostname()) {
		return fmt.Errorf("refusing a redirect to %s", safeURL(req.URL.String()))
	}
	return nil
}
