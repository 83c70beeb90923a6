package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func rotatingServer(t *testing.T) *tokenServer {
	ts := newTokenServer(t)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"access-%d","token_type":"bearer","refresh_token":"refresh-%d","expires_in":3600,"scope":"a"}`, n, n)
		return true
	}
	return ts
}

// A process of another user that is not root (a 'zccingest check' run by
// the wrong account) must not refresh: the rotated token would land in a
// file the service cannot use, or not land at all. It says why, and Zoom
// never sees the request.
func TestRefreshRefusedForAnotherUsersFile(t *testing.T) {
	ts := rotatingServer(t)
	file := filepath.Join(t.TempDir(), "refresh-token")
	os.WriteFile(file, []byte("refresh-0\n"), 0o600)
	st, _ := os.Stat(file)
	uid, _, ok := owner(st)
	if !ok {
		t.Skip("no file owners here")
	}
	src := NewOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, Options{})
	geteuid = func() int { return uid + 1 } // someone else, and not root
	t.Cleanup(func() { geteuid = os.Geteuid })
	_, err := src.Token(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCredential || !strings.Contains(err.Error(), fmt.Sprintf("belongs to uid %d", uid)) {
		t.Fatalf("Token = %v, want a credential error naming the owner", err)
	}
	if n := ts.n.Load(); n != 0 {
		t.Errorf("%d token requests; a refresh must not be tried", n)
	}
	if b, _ := os.ReadFile(file); string(b) != "refresh-0\n" {
		t.Errorf("file now holds %q", b)
	}
}

// Root replacing another user's file (check run with sudo against the
// service's file) keeps the file's owner and mode, so the service can read
// the rotated token.
func TestSaveKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another user")
	}
	file := filepath.Join(t.TempDir(), "refresh-token")
	os.WriteFile(file, []byte("refresh-0\n"), 0o600)
	if err := os.Chown(file, 65534, 65534); err != nil {
		t.Skip(err)
	}
	os.Chmod(file, 0o640)
	f := &RefreshTokenFile{Path: file}
	if err := f.CheckOwner(); err != nil {
		t.Fatalf("CheckOwner as root: %v", err)
	}
	if err := f.Save("refresh-1"); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(file)
	uid, gid, _ := owner(st)
	if uid != 65534 || gid != 65534 || st.Mode().Perm() != 0o640 {
		t.Errorf("after Save: uid %d gid %d mode %v; want 65534 65534 0640", uid, gid, st.Mode().Perm())
	}
}

// A refresh-token file that cannot be read is logged every time, not
// passed over for the token in memory without a word.
func TestUnreadableRefreshTokenFileIsLogged(t *testing.T) {
	ts := rotatingServer(t)
	file := filepath.Join(t.TempDir(), "refresh-token")
	os.WriteFile(file, []byte("refresh-0\n"), 0o600)
	var logs bytes.Buffer
	clk := &clock{t: time.Now()}
	src := NewOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file},
		Options{Now: clk.Now, Logger: zerolog.New(&logs)})
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The file becomes unreadable (here: a directory in its place, which
	// fails for root too).
	os.Remove(file)
	os.Mkdir(file, 0o700)
	clk.Add(time.Hour)
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the refresh-token file cannot be read") {
		t.Errorf("no log of the unreadable file:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "refresh-1") {
		t.Errorf("logs hold a refresh token:\n%s", logs.String())
	}
}

// The exchange's own HTTP client follows no redirect: the request carries
// the client secret and the code.
func TestExchangeRefusesRedirect(t *testing.T) {
	ts := newTokenServer(t)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	file := filepath.Join(t.TempDir(), "refresh-token")
	_, err := Exchange(context.Background(), OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, "the-code", "https://example.com/cb", nil)
	if err == nil || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Fatalf("Exchange = %v, want the redirect refused", err)
	}
	if n := ts.n.Load(); n != 1 {
		t.Errorf("%d requests reached the endpoint; the redirect was followed", n)
	}
	if strings.Contains(err.Error(), "the-code") || strings.Contains(err.Error(), testClientSecret) {
		t.Errorf("error leaks a secret: %v", err)
	}
}

// The token request follows no redirect: it carries the client secret.
func TestTokenRequestRefusesRedirect(t *testing.T) {
	ts := newTokenServer(t)
	ts.answer = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	_, err := newS2S(ts, Options{}).Token(context.Background())
	if err == nil {
		t.Fatal("a redirect answered with a token")
	}
	if n := ts.n.Load(); n != 1 {
		t.Errorf("%d requests reached the endpoint; the redirect was followed", n)
	}
	if strings.Contains(err.Error(), testClientSecret) {
		t.Errorf("error leaks the secret: %v", err)
	}
}

// A secret added at every refresh attempt is kept once, and the list is
// bounded: Redact runs on hot paths.
func TestSecretsBounded(t *testing.T) {
	s := newSource(nil, Options{}, "client-secret-value")
	for i := range 1000 {
		s.addSecret("refresh-token-same")
		s.addSecret(fmt.Sprintf("refresh-token-%04d", i))
	}
	s.mu.Lock()
	n := len(s.rotated)
	s.mu.Unlock()
	if n > maxRotated {
		t.Errorf("%d refresh tokens remembered, want at most %d", n, maxRotated)
	}
	if got := s.Redact("x refresh-token-0999 y client-secret-value"); strings.Contains(got, "0999") || strings.Contains(got, "client-secret-value") {
		t.Errorf("the newest refresh token or the client secret is not redacted: %q", got)
	}
}
