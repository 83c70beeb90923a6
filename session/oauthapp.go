package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
)

// OAuthApp is an OAuth app's credentials. Its refresh token lives in
// RefreshTokenFile: Zoom rotates it on every refresh, so each new one is
// written there, atomically, before the access token that came with it is
// used.
type OAuthApp struct {
	ClientID         string
	ClientSecret     string
	TokenURL         string
	RefreshTokenFile string
}

func (a OAuthApp) config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     a.ClientID,
		ClientSecret: a.ClientSecret,
		Endpoint:     oauth2.Endpoint{TokenURL: a.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
		RedirectURL:  redirectURI,
	}
}

// NewOAuthApp returns a Source of refresh-token grants.
func NewOAuthApp(a OAuthApp, opts Options) *Source {
	store := &RefreshTokenFile{Path: a.RefreshTokenFile, Logger: opts.Logger}
	var src *Source
	conf := a.config("")
	fetch := func(ctx context.Context, client *http.Client) (*oauth2.Token, error) {
		rt, err := store.Load()
		if err != nil {
			return nil, &Error{Kind: KindCredential, Label: LabelRefreshFile, Advice: "run 'zccingest token exchange'", msg: err.Error(), err: err}
		}
		src.addSecret(rt)
		// Zoom rotates the token on refresh: a process that could not
		// leave the new one in the file, usable by its owner, must not
		// refresh at all.
		if err := store.CheckOwner(); err != nil {
			return nil, &Error{Kind: KindCredential, msg: err.Error(), err: err}
		}
		ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
		tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
		if err != nil {
			return nil, err
		}
		if tok.RefreshToken != "" && tok.RefreshToken != rt {
			src.addSecret(tok.RefreshToken)
			if err := store.Save(tok.RefreshToken); err != nil {
				// The old refresh token is spent. Going on with the new
				// one, which the store keeps in memory, is all that works;
				// only a restart needs the file, so say that loudly.
				opts.Logger.Error().Str("error", src.Redact(err.Error())).Str("refresh_token_file", a.RefreshTokenFile).
					Msg("the rotated refresh token could not be stored; going on with it in memory. Fix the file before a restart, or run 'zccingest token exchange' again")
			}
		}
		return tok, nil
	}
	src = newSource(fetch, opts, a.ClientSecret, basicAuth(a.ClientID, a.ClientSecret))
	return src
}

// Exchange swaps an authorization code (from the app's install redirect) for
// tokens and stores the refresh token. It returns the granted scopes.
func Exchange(ctx context.Context, a OAuthApp, code, redirectURI string, client *http.Client) ([]string, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: refuseRedirect}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, err := a.config(redirectURI).Exchange(ctx, code)
	if err != nil {
		src := newSource(nil, Options{}, a.ClientSecret, code)
		return nil, src.classify(err)
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("session: Zoom returned no refresh token")
	}
	if err := (&RefreshTokenFile{Path: a.RefreshTokenFile}).Save(tok.RefreshToken); err != nil {
		return nil, err
	}
	scope, _ := tok.Extra("scope").(string)
	return strings.Fields(scope), nil
}

// RefreshTokenFile stores the current refresh token. Save replaces it
// atomically: a crash leaves either the old token or the new one, whole.
type RefreshTokenFile struct {
	Path string
	// Logger hears of a file that cannot be read (the token in memory is
	// used then, and it may have been spent by another process).
	Logger zerolog.Logger

	// beforeRename, when set, runs between writing the temporary file and
	// renaming it into place; tests use it to crash there.
	beforeRename func() error

	mu      sync.Mutex
	current string // the last token loaded or saved
	unsaved bool   // Save could not write current: the file holds a spent token
}

// Load returns the stored token. It reads the file each time, because
// another process may have rotated the token since: 'zccingest check'
// against the same app, or a second node sharing the file. Only after a
// Save that could not write the file does it return the token in memory;
// and if the file has gone it falls back on the last token it knew.
func (f *RefreshTokenFile) Load() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unsaved {
		return f.current, nil
	}
	b, err := os.ReadFile(f.Path)
	if err != nil {
		if f.current != "" {
			f.Logger.Error().Err(err).Str("refresh_token_file", f.Path).
				Msg("the refresh-token file cannot be read; using the token last read from it, which another process may have rotated since. Fix the file's owner or mode")
			return f.current, nil
		}
		return "", fmt.Errorf("session: reading the refresh token (zoom.oauth_app.refresh_token_file; run 'zccingest token exchange' first): %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		if f.current != "" {
			return f.current, nil
		}
		return "", fmt.Errorf("session: %s is empty; run 'zccingest token exchange'", f.Path)
	}
	f.current = tok
	return tok, nil
}

// geteuid is os.Geteuid; a test pretends to be another user.
var geteuid = os.Geteuid

// CheckOwner says whether Save could replace the file and leave it as it
// is now: owned by the same user, with the same mode. A process of another
// user (say, 'zccingest check' run as root against the service's file)
// that is not root cannot, and a refresh it made would rotate the token
// into a file the service cannot read: the service's next refresh would
// present a spent token. Such a process is refused before it refreshes.
func (f *RefreshTokenFile) CheckOwner() error {
	st, err := os.Stat(f.Path)
	if err != nil {
		return nil // Save creates it, owned by this process
	}
	uid, _, ok := owner(st)
	if !ok || uid == geteuid() || geteuid() == 0 {
		return nil
	}
	return fmt.Errorf("session: %s belongs to uid %d, and this process runs as uid %d: a refresh would rotate the refresh token into a file its owner could no longer use. Run this command as the file's owner (the service's user)",
		f.Path, uid, geteuid())
}

// Save writes token to a temporary file beside Path, syncs it, renames it
// over Path and syncs the directory. A file that exists keeps its mode and,
// when root replaces another user's file, its owner; a new one is 0600.
func (f *RefreshTokenFile) Save(token string) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.current = token
	defer func() { f.unsaved = err != nil }()
	mode, uid, gid, keepOwner := os.FileMode(0o600), 0, 0, false
	if st, err := os.Stat(f.Path); err == nil {
		mode = st.Mode().Perm()
		var ok bool
		uid, gid, ok = owner(st)
		keepOwner = ok && uid != geteuid()
	}
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.Path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	if keepOwner {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return fmt.Errorf("session: saving the refresh token: keeping the file's owner (uid %d): %w", uid, err)
		}
	}
	if _, err := tmp.WriteString(token + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	if f.beforeRename != nil {
		if err := f.beforeRename(); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("session: saving the refresh token: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// owner returns the file's user and group where the system says.
func owner(st os.FileInfo) (uid, gid int, ok bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(sys.Uid), int(sys.Gid), true
}

// refuseRedirect stops a token request at a redirect: the request carries
// the client secret, and the next hop is nobody we configured.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("session: the token endpoint redirected to %s://%s; redirects are not followed (check zoom.token_url)", req.URL.Scheme, req.URL.Host)
}
