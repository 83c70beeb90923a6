package session

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const (
	testClientID     = "client-id-1234"
	testClientSecret = "client-secret-SECRET-5678"
	testAccountID    = "account-9012"
)

// tokenServer plays Zoom's token endpoint.
type tokenServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	forms    []map[string]string
	n        atomic.Int64
	// answer decides the reply to request n (from 1); nil: a token.
	answer  func(n int64, w http.ResponseWriter, r *http.Request) bool
	release chan struct{} // when set, each request waits for it
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.n.Add(1)
		r.ParseForm()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		ts.mu.Lock()
		ts.requests = append(ts.requests, r)
		ts.forms = append(ts.forms, form)
		ts.mu.Unlock()
		if ts.release != nil {
			<-ts.release
		}
		if ts.answer != nil && ts.answer(n, w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"access-token-%d","token_type":"bearer","expires_in":3600,"scope":"contact_center:read:task:admin user:read:admin","api_url":"https://api.zoom.us"}`, n)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newS2S(ts *tokenServer, opts Options) *Source {
	return NewServerToServer(ServerToServer{
		AccountID: testAccountID, ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL + "/oauth/token",
	}, opts)
}

func TestS2SRequestShape(t *testing.T) {
	ts := newTokenServer(t)
	tok, err := newS2S(ts, Options{}).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "access-token-1" {
		t.Errorf("AccessToken = %q", tok.AccessToken)
	}
	if strings.Join(tok.Scopes, " ") != "contact_center:read:task:admin user:read:admin" {
		t.Errorf("Scopes = %v", tok.Scopes)
	}
	r, form := ts.requests[0], ts.forms[0]
	if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.URL.RawQuery != "" {
		t.Errorf("query string %q: parameters belong in the body", r.URL.RawQuery)
	}
	if form["grant_type"] != "account_credentials" || form["account_id"] != testAccountID || len(form) != 2 {
		t.Errorf("form = %v", form)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testClientID+":"+testClientSecret))
	if got := r.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

func TestCachingAndEarlyRefresh(t *testing.T) {
	ts := newTokenServer(t)
	clk := &clock{t: time.Now()}
	src := newS2S(ts, Options{Now: clk.Now})
	ctx := context.Background()
	first, _ := src.Token(ctx)
	clk.Add(50 * time.Minute) // 10 minutes left: still fresh
	again, _ := src.Token(ctx)
	if again != first || ts.n.Load() != 1 {
		t.Fatalf("second call fetched again (%d requests)", ts.n.Load())
	}
	clk.Add(6 * time.Minute) // 4 minutes left: inside the 5-minute window
	fetched := fetches(src)
	// The cached token is still valid: it comes back at once, and the
	// refresh runs in the background.
	if again, err := src.Token(ctx); err != nil || again != first {
		t.Fatalf("inside the refresh window got %v, %v; want the cached token at once", again, err)
	}
	waitFetch(t, fetched)
	next, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessToken == first.AccessToken || ts.n.Load() != 2 {
		t.Errorf("no refresh 4 minutes before expiry (%d requests)", ts.n.Load())
	}
	if again, _ := src.Token(ctx); again != next || ts.n.Load() != 2 {
		t.Errorf("the refreshed token was not cached (%d requests)", ts.n.Load())
	}
}

func TestSingleFlight(t *testing.T) {
	ts := newTokenServer(t)
	ts.release = make(chan struct{})
	src := newS2S(ts, Options{})
	var wg sync.WaitGroup
	toks := make([]*Token, 10)
	for i := range toks {
		wg.Go(func() {
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		})
	}
	close(ts.release)
	wg.Wait()
	if n := ts.n.Load(); n != 1 {
		t.Errorf("10 concurrent callers made %d requests, want 1", n)
	}
	for _, tok := range toks {
		if tok == nil || tok.AccessToken != "access-token-1" {
			t.Fatalf("callers got different tokens: %v", tok)
		}
	}
}

func TestInvalidate(t *testing.T) {
	ts := newTokenServer(t)
	src := newS2S(ts, Options{})
	ctx := context.Background()
	first, _ := src.Token(ctx)
	src.Invalidate("some-other-token")
	if again, _ := src.Token(ctx); again != first {
		t.Errorf("invalidating another token dropped the cached one")
	}
	src.Invalidate(first.AccessToken)
	next, _ := src.Token(ctx)
	if next.AccessToken == first.AccessToken {
		t.Errorf("Invalidate did not force a new token")
	}
}

func zoomError(status int, body string) func(int64, http.ResponseWriter, *http.Request) bool {
	return func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
		return true
	}
}

func TestFailureClasses(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answer     func(int64, http.ResponseWriter, *http.Request) bool
		closed     bool
		kind       Kind
		reason     string
		minBackoff time.Duration
	}{
		{"invalid_client 400", zoomError(400, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`), false, KindCredential, "Invalid client_id or client_secret", 8 * time.Second},
		{"invalid_client 401", zoomError(401, `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`), false, KindCredential, "Invalid client_id or client_secret", 8 * time.Second},
		{"account missing", zoomError(400, `{"reason":"Account does not exist","error":"invalid_request"}`), false, KindCredential, "Account does not exist", 8 * time.Second},
		{"server error", zoomError(503, `{"reason":"busy"}`), false, KindTransient, "busy", 800 * time.Millisecond},
		{"network", nil, true, KindTransient, "", 800 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.answer = tc.answer
			url := ts.URL
			if tc.closed {
				ts.Close()
			}
			clk := &clock{t: time.Now()}
			src := NewServerToServer(ServerToServer{AccountID: testAccountID, ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: url}, Options{Now: clk.Now})
			_, err := src.Token(context.Background())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.Kind != tc.kind || e.Reason != tc.reason {
				t.Errorf("kind %s reason %q, want %s %q", e.Kind, e.Reason, tc.kind, tc.reason)
			}
			if tc.reason != "" && !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not carry Zoom's reason", err)
			}
			// The backoff: a caller asking at once waits, and no request
			// goes out before the backoff has passed.
			src.mu.Lock()
			wait := src.retryAt.Sub(clk.Now())
			src.mu.Unlock()
			if wait < tc.minBackoff || wait > tc.minBackoff*5/4 {
				t.Errorf("backoff %s, want about %s", wait, tc.minBackoff*5/4)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			before := ts.n.Load()
			if _, err := src.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("second call inside the backoff: %v, want it to wait", err)
			}
			if ts.n.Load() != before {
				t.Errorf("a request went out inside the backoff")
			}
		})
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	src := newSource(nil, Options{})
	cred := &Error{Kind: KindCredential}
	prev := time.Duration(0)
	for n := 1; n <= 10; n++ {
		d := src.backoff(cred, n)
		// A refused credential can be fixed at any moment: never more
		// than MaxRetryWait between attempts.
		if d < prev*4/5 || d > MaxRetryWait {
			t.Errorf("credential backoff %d = %s after %s", n, d, prev)
		}
		prev = d
	}
	if d := src.backoff(errors.New("x"), 30); d > 30*time.Second || d < 24*time.Second {
		t.Errorf("transient cap = %s", d)
	}
}

func TestCachedTokenServesThroughOutage(t *testing.T) {
	ts := newTokenServer(t)
	clk := &clock{t: time.Now()}
	var log bytes.Buffer
	src := newS2S(ts, Options{Now: clk.Now, Logger: zerolog.New(&log)})
	first, _ := src.Token(context.Background())
	ts.answer = zoomError(500, `{}`)
	clk.Add(57 * time.Minute) // refresh due, token valid for 3 more minutes
	fetched := fetches(src)
	tok, err := src.Token(context.Background())
	if err != nil || tok != first {
		t.Errorf("during an outage got %v, %v; want the cached token", tok, err)
	}
	waitFetch(t, fetched)
	if ts.n.Load() != 2 || !strings.Contains(log.String(), `"cached_token_usable":true,"message":"token request failed"`) {
		t.Errorf("the failed refresh was not attempted and logged (%d requests):\n%s", ts.n.Load(), log.String())
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	ts := newTokenServer(t)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"access-%d","token_type":"bearer","refresh_token":"refresh-%d","expires_in":3600,"scope":"a b"}`, n, n)
		return true
	}
	file := filepath.Join(t.TempDir(), "refresh-token")
	os.WriteFile(file, []byte("refresh-0\n"), 0o600)
	clk := &clock{t: time.Now()}
	src := NewOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, Options{Now: clk.Now})
	for i := 1; i <= 3; i++ {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("access-%d", i); tok.AccessToken != want {
			t.Errorf("token %q, want %q", tok.AccessToken, want)
		}
		if form := ts.forms[i-1]; form["grant_type"] != "refresh_token" || form["refresh_token"] != fmt.Sprintf("refresh-%d", i-1) {
			t.Errorf("request %d form = %v", i, form)
		}
		b, _ := os.ReadFile(file)
		if got := strings.TrimSpace(string(b)); got != fmt.Sprintf("refresh-%d", i) {
			t.Errorf("stored %q after refresh %d", got, i)
		}
		fi, _ := os.Stat(file)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", fi.Mode().Perm())
		}
		clk.Add(time.Hour)
	}
}

// TestRefreshTokenRotatedElsewhere: 'zccingest check', or a second node
// sharing the file, rotates the refresh token while run holds a cached
// access token. Run's next refresh must use the token in the file, not the
// spent one it read at start.
func TestRefreshTokenRotatedElsewhere(t *testing.T) {
	ts := newTokenServer(t)
	var mu sync.Mutex
	valid := "refresh-0"
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("refresh_token") != valid {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"reason":"Invalid Token!","error":"invalid_request"}`)
			return true
		}
		valid = fmt.Sprintf("refresh-%d", n)
		fmt.Fprintf(w, `{"access_token":"access-%d","token_type":"bearer","refresh_token":"%s","expires_in":3600,"scope":"a"}`, n, valid)
		return true
	}
	file := filepath.Join(t.TempDir(), "refresh-token")
	os.WriteFile(file, []byte("refresh-0\n"), 0o600)
	app := OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}
	clk := &clock{t: time.Now()}
	run := NewOAuthApp(app, Options{Now: clk.Now})
	if _, err := run.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOAuthApp(app, Options{}).Token(context.Background()); err != nil { // check
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	tok, err := run.Token(context.Background())
	if err != nil {
		t.Fatalf("refresh after the token was rotated elsewhere: %v", err)
	}
	if tok.AccessToken != "access-3" {
		t.Errorf("token %q, want access-3", tok.AccessToken)
	}
}

// TestUnwritableRefreshTokenFile: a rotated token that cannot be stored
// must not cost the access token that came with it, nor the next refresh.
func TestUnwritableRefreshTokenFile(t *testing.T) {
	ts := newTokenServer(t)
	dir := filepath.Join(t.TempDir(), "state")
	file := filepath.Join(dir, "refresh-token")
	os.Mkdir(dir, 0o700)
	os.WriteFile(file, []byte("refresh-0\n"), 0o600)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			// The directory turns into a file: no Save can work now,
			// whoever runs the test.
			os.RemoveAll(dir)
			os.WriteFile(dir, nil, 0o600)
		}
		if want := fmt.Sprintf("refresh-%d", n-1); r.PostForm.Get("refresh_token") != want {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"reason":"Invalid Token!","error":"invalid_request"}`)
			return true
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"access-%d","token_type":"bearer","refresh_token":"refresh-%d","expires_in":3600,"scope":"a"}`, n, n)
		return true
	}
	var logs bytes.Buffer
	clk := &clock{t: time.Now()}
	src := NewOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file},
		Options{Now: clk.Now, Logger: zerolog.New(&logs)})
	for i := 1; i <= 2; i++ {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if want := fmt.Sprintf("access-%d", i); tok.AccessToken != want {
			t.Errorf("refresh %d: token %q, want %q", i, tok.AccessToken, want)
		}
		clk.Add(time.Hour)
	}
	if !strings.Contains(logs.String(), "could not be stored") || strings.Contains(logs.String(), "refresh-1") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestSaveCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "refresh-token")
	if err := (&RefreshTokenFile{Path: file}).Save("old-token"); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	f := &RefreshTokenFile{Path: file, beforeRename: func() error { return crash }}
	if err := f.Save("new-token"); !errors.Is(err, crash) {
		t.Fatalf("Save = %v", err)
	}
	b, _ := os.ReadFile(file)
	if string(b) != "old-token\n" {
		t.Errorf("after a crash before rename the file holds %q, want the old token whole", b)
	}
	// The old token is spent: this process goes on with the new one.
	if tok, err := f.Load(); err != nil || tok != "new-token" {
		t.Errorf("Load after a failed Save = %q, %v; want the unsaved new token", tok, err)
	}
	// A fresh process reads the old token, and the next save completes.
	if tok, err := (&RefreshTokenFile{Path: file}).Load(); err != nil || tok != "old-token" {
		t.Errorf("Load = %q, %v", tok, err)
	}
	if err := (&RefreshTokenFile{Path: file}).Save("new-token"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(file)
	if string(b) != "new-token\n" {
		t.Errorf("file = %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestExchange(t *testing.T) {
	ts := newTokenServer(t)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"a","token_type":"bearer","refresh_token":"first-refresh","expires_in":3600,"scope":"contact_center:read:task:admin"}`)
		return true
	}
	file := filepath.Join(t.TempDir(), "sub", "refresh-token")
	scopes, err := Exchange(context.Background(), OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, "the-code", "https://example.com/cb", nil)
	if err != nil {
		t.Fatal(err)
	}
	form := ts.forms[0]
	if form["grant_type"] != "authorization_code" || form["code"] != "the-code" || form["redirect_uri"] != "https://example.com/cb" {
		t.Errorf("form = %v", form)
	}
	b, _ := os.ReadFile(file)
	if string(b) != "first-refresh\n" || len(scopes) != 1 {
		t.Errorf("stored %q scopes %v", b, scopes)
	}
}

func TestMissingScopes(t *testing.T) {
	missing := Missing([]string{"contact_center:read:task:admin", "user:read:admin"})
	if len(missing) != 2 {
		t.Fatalf("missing = %v", missing)
	}
	for _, m := range missing {
		if !strings.Contains(m.Events, "contact_center.user_") && !strings.Contains(m.Events, "contact_center.engagement_") {
			t.Errorf("unexpected need %v", m)
		}
	}
	all := []string{"user:read:admin", "contact_center_task:read:admin", "contact_center:read:user:admin", "contact_center:read:engagement:admin"}
	if m := Missing(all); len(m) != 0 {
		t.Errorf("Missing(all) = %v", m)
	}
}

func TestMissingOptionalScopes(t *testing.T) {
	m := MissingOptional([]string{"contact_center:read:recording:admin"})
	if len(m) != 1 || !strings.Contains(m[0].Events, "voice_rtms") {
		t.Errorf("MissingOptional = %v, want the RTMS need only", m)
	}
	if m := Missing([]string{"user:read:admin", "contact_center_task:read:admin", "contact_center:read:user:admin", "contact_center:read:engagement:admin"}); len(m) != 0 {
		t.Errorf("an optional need made Missing: %v", m)
	}
}
