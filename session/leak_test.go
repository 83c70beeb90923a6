package session

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A token server that misbehaves in every way, quoting back what it was
// sent, must still not get a secret into an error or a log line.
func TestNoSecretLeaks(t *testing.T) {
	const refreshToken = "refresh-token-SECRET-3456"
	const issuedRefresh = "issued-refresh-SECRET-7890"
	ts := newTokenServer(t)
	var log bytes.Buffer
	var errs []string
	echo := func(status int) func(int64, http.ResponseWriter, *http.Request) bool {
		return func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"reason":"you sent %s and %s","error":"%s"}`, r.Header.Get("Authorization"), r.PostForm.Encode(), r.PostForm.Get("refresh_token"))
			return true
		}
	}
	logger := zerolog.New(&log)
	file := filepath.Join(t.TempDir(), "rt")
	os.WriteFile(file, []byte(refreshToken), 0o600)

	for _, status := range []int{400, 401, 500, 503} {
		ts.answer = echo(status)
		for _, src := range []*Source{
			newS2S(ts, Options{Logger: logger}),
			NewOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, Options{Logger: logger}),
		} {
			_, err := src.Token(context.Background())
			if err == nil {
				t.Fatalf("status %d: no error", status)
			}
			errs = append(errs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
		}
	}
	// A good answer whose access token then shows up in an error text.
	ts.answer = func(_ int64, w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"access-SECRET-1","token_type":"bearer","refresh_token":"%s","expires_in":3600}`, issuedRefresh)
		return true
	}
	src := NewOAuthApp(OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, Options{Logger: logger})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	errs = append(errs, src.Redact("dial wss://ws.zoom.us/ws?subscriptionId=x&access_token="+tok.AccessToken+": refused"),
		src.Redact("token "+tok.AccessToken+" refresh "+issuedRefresh), fmt.Sprint(tok))
	// Exchange failing on a closed server.
	ts.Close()
	_, err = Exchange(context.Background(), OAuthApp{ClientID: testClientID, ClientSecret: testClientSecret, TokenURL: ts.URL, RefreshTokenFile: file}, "code-SECRET-42", "https://x/cb", &http.Client{Timeout: time.Second})
	errs = append(errs, fmt.Sprint(err))

	all := log.String() + strings.Join(errs, "\n")
	if !strings.Contains(all, "REDACTED") {
		t.Errorf("nothing was redacted; the test did not exercise the paths:\n%s", all)
	}
	for _, secret := range []string{testClientSecret, basicAuth(testClientID, testClientSecret), refreshToken, issuedRefresh, "access-SECRET-1", "code-SECRET-42", "SECRET"} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q leaked:\n%s", secret, all)
		}
	}
}
