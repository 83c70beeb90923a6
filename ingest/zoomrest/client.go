// Package zoomrest is a client of Zoom Contact Center's REST API, for the
// calls that rebuild what a WebSocket gap lost and that refresh the live
// state: engagements and their timelines, recording statuses, recordings,
// agent status history and users.
//
// It keeps Zoom's rules, which are account-wide and shared by every app of
// the account: it follows every page sequentially (a next_page_token lasts
// 15 minutes, so an expired one restarts the query), stops when analytics
// paging serves a page it served before, splits windows longer than a
// month, sends times with an explicit offset (Zoom reads a time ending in
// 'Z' in the request's timezone, not as UTC), paces itself by the
// X-RateLimit-* headers, waits out per-second 429s, stops a category's
// calls until a daily 429's Retry-After, and never spends more than its
// own per-minute budget. A list method that fails part-way returns what it
// listed so far with the error.
package zoomrest

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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// Options configure a Client.
type Options struct {
	// BaseURL is the API's base; default https://api.zoom.us/v2.
	BaseURL string
	// Token returns the session's access token.
	Token func(ctx context.Context) (string, error)
	// Invalidate is called with a token Zoom refused (401), so that the
	// next Token fetches anew; may be nil.
	Invalidate func(accessToken string)
	// HTTPClient sends the requests; default: 30 s timeout, redirects refused.
	HTTPClient *http.Client
	// RequestsPerMinute is this client's own budget, on top of Zoom's
	// limits (which every app of the account shares); default 600.
	RequestsPerMinute int
	// Timezone is not sent: requests carry explicit UTC offsets, which
	// Zoom uses whatever the timezone, and responses then come in UTC.
	Timezone string
	// PageSize overrides the page_size asked for (default 100 for
	// engagements and status history, 300 for recordings and users).
	PageSize int
	// MaxPages bounds the pages of one query; default 1000.
	MaxPages int
	// MaxWait bounds one wait for a per-second limit; default 1 minute.
	MaxWait time.Duration
	Logger  zerolog.Logger
	// Registerer takes zccingest_rest_requests_total{endpoint,code} and
	// zccingest_rest_wait_seconds_total; nil registers nothing.
	Registerer prometheus.Registerer
}

// ErrNotFound is returned (wrapped) when Zoom has no such engagement: E2
// answers so until an ended engagement has been processed.
var ErrNotFound = errors.New("zoomrest: not found")

// ErrDailyLimit is wrapped by a *DailyLimitError.
var ErrDailyLimit = errors.New("zoomrest: daily rate limit reached")

// A DailyLimitError says Zoom refused a category of calls for the day:
// no call of that category is sent before Until.
type DailyLimitError struct {
	Endpoint string
	Category string
	Until    time.Time
}

func (e *DailyLimitError) Error() string {
	return fmt.Sprintf("zoomrest: %s: Zoom's daily limit of %s calls is reached; no more before %s",
		e.Endpoint, e.Category, e.Until.UTC().Format(time.RFC3339))
}

func (e *DailyLimitError) Unwrap() error { return ErrDailyLimit }

// An APIError is a response Zoom refused with.
type APIError struct {
	Endpoint string
	Status   int
	Code     int    // Zoom's error code, when the body had one
	Message  string // Zoom's message, bounded, without the token
}

func (e *APIError) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusUnauthorized:
		hint = " (the access token was refused twice)"
	case http.StatusForbidden:
		hint = " (missing scope? 'zccingest check' lists what the REST calls need)"
	}
	return fmt.Sprintf("zoomrest: %s: HTTP %d: %s%s", e.Endpoint, e.Status, e.Message, hint)
}

// errPageTokenExpired is Zoom's 400 for a next_page_token older than 15
// minutes; the list restarts its query.
var errPageTokenExpired = errors.New("next_page_token invalid or expired")

// Limits of what one response may cost.
const (
	maxBody      = 16 << 20
	maxIDLen     = 256
	maxAttempts  = 10 // for a 429 or a server error, per request
	maxRestarts  = 3  // of a query whose page token expired
	maxRangeDays = 28 // per query: Zoom's maximum is one month
)

// Endpoint names, as metrics label them.
const (
	epEngagements     = "engagements"
	epEngagement      = "engagement"
	epRecordingStatus = "recording_status"
	epRecordings      = "recordings"
	epStatusHistory   = "status_history"
	epUsers           = "users"
)

// categories are the endpoints' rate-limit categories, as far as known
// (zoom-rest.md §1; E2 and E4 unknown, taken as Light). Zoom's
// X-RateLimit-Category header, when present, says better.
var categories = map[string]string{
	epEngagements: "Medium", epEngagement: "Light", epRecordingStatus: "Light",
	epRecordings: "Medium", epStatusHistory: "Heavy", epUsers: "Medium",
}

// Client calls Zoom Contact Center's REST API. It is safe for concurrent
// use; list methods page sequentially.
type Client struct {
	opts Options
	base string
	lim  *rate.Limiter
	m    *metrics

	mu    sync.Mutex
	pace  map[string]time.Time // category → no call before (X-RateLimit-Remaining 0)
	daily map[string]time.Time // category → no call before (daily 429)
}

// New returns a client.
func New(opts Options) (*Client, error) {
	if opts.Token == nil {
		return nil, errors.New("zoomrest: Options.Token is required")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://api.zoom.us/v2"
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("zoomrest: BaseURL %q is not an http(s) URL without query", truncate(opts.BaseURL, 100))
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is answered as an error, never followed
			},
		}
	}
	if opts.RequestsPerMinute <= 0 {
		opts.RequestsPerMinute = 600
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = 1000
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Minute
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Client{
		opts: opts, base: strings.TrimRight(opts.BaseURL, "/"), m: m,
		lim:  rate.NewLimiter(rate.Every(time.Minute/time.Duration(opts.RequestsPerMinute)), 1),
		pace: map[string]time.Time{}, daily: map[string]time.Time{},
	}, nil
}

// get sends one GET and returns the body of a 2xx answer.
func (c *Client) get(ctx context.Context, endpoint, path string, q url.Values) ([]byte, error) {
	category := categories[endpoint]
	rawURL := c.base + path
	if len(q) > 0 {
		rawURL += "?" + q.Encode()
	}
	retried401 := false
	for attempt := 1; ; attempt++ {
		if err := c.waitTurn(ctx, endpoint, category); err != nil {
			return nil, err
		}
		token, err := c.opts.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("zoomrest: %s: getting an access token: %w", endpoint, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, fmt.Errorf("zoomrest: %s: %w", endpoint, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			c.m.requests.WithLabelValues(endpoint, "error").Inc()
			if ctx.Err() != nil {
				return nil, fmt.Errorf("zoomrest: %s: %w", endpoint, ctx.Err())
			}
			if attempt < 4 {
				if err := c.sleep(ctx, backoff(attempt)); err != nil {
					return nil, fmt.Errorf("zoomrest: %s: %w", endpoint, err)
				}
				continue
			}
			return nil, fmt.Errorf("zoomrest: %s: %s", endpoint, redact(transportError(err), token))
		}
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		c.m.requests.WithLabelValues(endpoint, strconv.Itoa(resp.StatusCode)).Inc()
		if cat := resp.Header.Get("X-RateLimit-Category"); knownCategory(cat) {
			category = cat
		}
		c.notePace(category, resp.Header)
		if readErr != nil {
			return nil, fmt.Errorf("zoomrest: %s: reading the response: %s", endpoint, redact(readErr.Error(), token))
		}
		if len(body) > maxBody {
			return nil, fmt.Errorf("zoomrest: %s: response larger than %d MiB", endpoint, maxBody>>20)
		}
		if resp.StatusCode/100 == 2 {
			return body, nil
		}
		apiErr := newAPIError(endpoint, resp.StatusCode, body, token)
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !retried401:
			retried401 = true
			if c.opts.Invalidate != nil {
				c.opts.Invalidate(token)
			}
			continue
		case resp.StatusCode == http.StatusNotFound:
			return nil, fmt.Errorf("zoomrest: %s: %s: %w", endpoint, apiErr.Message, ErrNotFound)
		case resp.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(apiErr.Message), "next page token"):
			return nil, fmt.Errorf("zoomrest: %s: %w", endpoint, errPageTokenExpired)
		case resp.StatusCode == http.StatusTooManyRequests:
			if until, ok := dailyUntil(resp.Header, time.Now()); ok {
				c.mu.Lock()
				c.daily[category] = until
				c.mu.Unlock()
				c.opts.Logger.Warn().Str("endpoint", endpoint).Str("category", category).Time("until", until).
					Msg("Zoom's daily rate limit reached; no more calls of this category until then")
				return nil, &DailyLimitError{Endpoint: endpoint, Category: category, Until: until}
			}
			if attempt >= maxAttempts {
				return nil, apiErr
			}
			wait := min(perSecondWait(resp.Header, time.Now(), attempt), c.opts.MaxWait)
			c.opts.Logger.Debug().Str("endpoint", endpoint).Str("category", category).Dur("wait", wait).Msg("Zoom per-second rate limit; waiting")
			if err := c.sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("zoomrest: %s: %w", endpoint, err)
			}
			continue
		case resp.StatusCode >= 500 && attempt < 4:
			if err := c.sleep(ctx, backoff(attempt)); err != nil {
				return nil, fmt.Errorf("zoomrest: %s: %w", endpoint, err)
			}
			continue
		}
		return nil, apiErr
	}
}

func knownCategory(c string) bool {
	switch c {
	case "Light", "Medium", "Heavy", "Resource-intensive":
		return true
	}
	return false
}

// waitTurn holds a call until its category may go (daily stop: an error;
// per-second pace: a wait) and the client's own budget allows it.
func (c *Client) waitTurn(ctx context.Context, endpoint, category string) error {
	now := time.Now()
	c.mu.Lock()
	until := c.daily[category]
	if category == "Heavy" && c.daily["Resource-intensive"].After(until) {
		until = c.daily["Resource-intensive"] // the daily cap is shared
	}
	pace := c.pace[category]
	c.mu.Unlock()
	if now.Before(until) {
		return &DailyLimitError{Endpoint: endpoint, Category: category, Until: until}
	}
	if d := pace.Sub(now); d > 0 {
		if err := c.sleep(ctx, min(d, c.opts.MaxWait)); err != nil {
			return fmt.Errorf("zoomrest: %s: %w", endpoint, err)
		}
	}
	t0 := time.Now()
	if err := c.lim.Wait(ctx); err != nil {
		return fmt.Errorf("zoomrest: %s: waiting for the request budget: %w", endpoint, err)
	}
	c.m.wait.Add(time.Since(t0).Seconds())
	return nil
}

// notePace keeps the next call of a category past the current second when
// Zoom says none of its per-second calls remain.
func (c *Client) notePace(category string, h http.Header) {
	if h.Get("X-RateLimit-Remaining") != "0" || strings.EqualFold(h.Get("X-RateLimit-Type"), "Daily-limit") {
		return
	}
	next := time.Now().Truncate(time.Second).Add(time.Second)
	if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 && s < 1<<40 {
		next = time.Unix(s, 0)
	}
	c.mu.Lock()
	if next.After(c.pace[category]) {
		c.pace[category] = next
	}
	c.mu.Unlock()
}

// maxDailyWait bounds how long a daily 429 stops a category.
const maxDailyWait = 25 * time.Hour

// dailyUntil reads a daily 429: X-RateLimit-Type Daily-limit, or a
// Retry-After written as a date-time (Zoom writes ISO 8601, not seconds).
func dailyUntil(h http.Header, now time.Time) (time.Time, bool) {
	ra := strings.TrimSpace(h.Get("Retry-After"))
	var until time.Time
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", http.TimeFormat} {
		if t, err := time.Parse(layout, ra); err == nil {
			until = t
			break
		}
	}
	daily := strings.EqualFold(h.Get("X-RateLimit-Type"), "Daily-limit")
	if !daily && until.IsZero() {
		return time.Time{}, false
	}
	switch {
	case until.IsZero():
		// A daily refusal without a usable time: the next midnight UTC,
		// when Zoom's daily counters are understood to reset.
		until = now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	case until.Before(now):
		// A time already past (clocks apart): try again in a minute.
		until = now.Add(time.Minute)
	case until.After(now.Add(maxDailyWait)):
		// A daily quota resets within a day: a time further off is a
		// misread or a wrong clock, not a reason to stop for good.
		until = now.Add(maxDailyWait)
	}
	return until, true
}

// perSecondWait reads a per-second 429: until X-RateLimit-Reset (Unix
// seconds), else Retry-After seconds, else a growing backoff; jittered so
// that the apps sharing the account do not all come back at once.
func perSecondWait(h http.Header, now time.Time, attempt int) time.Duration {
	jitter := time.Duration(rand.Int64N(int64(100 * time.Millisecond)))
	if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 && s < 1<<40 {
		return max(time.Unix(s, 0).Sub(now), 0) + jitter
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s >= 0 {
		return time.Duration(min(s, 3600))*time.Second + jitter
	}
	return backoff(attempt)
}

// backoffBase is the first retry's wait after a server error or a 429
// without a usable time.
var backoffBase = 250 * time.Millisecond

func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 6)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	c.m.wait.Add(d.Seconds())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func newAPIError(endpoint string, status int, body []byte, token string) *APIError {
	e := &APIError{Endpoint: endpoint, Status: status}
	var z struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if jsonUnmarshal(body, &z) == nil && z.Message != "" {
		e.Code, e.Message = z.Code, z.Message
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	e.Message = truncate(strings.ToValidUTF8(redact(e.Message, token), "?"), 300)
	return e
}

// redact removes the access token from text that may quote a request.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[token]")
}

// transportError words an HTTP client error without the query (url.Error
// quotes the whole URL).
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return (&url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}).Error()
		}
	}
	return err.Error()
}
