package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/zccingest/zccingest/session"
)

// cmdToken: 'token exchange' swaps an OAuth app's authorization code for
// tokens and stores the refresh token where the config says.
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "exchange" {
		fmt.Fprintln(stderr, "usage: zccingest token exchange --config FILE --code CODE --redirect-uri URI")
		return exitConfig
	}
	fs := flag.NewFlagSet("token exchange", flag.ContinueOnError)
	path := fs.String("config", "", "configuration `file` (with zoom.oauth_app)")
	code := fs.String("code", "", "the authorization `code` from the install redirect")
	redirect := fs.String("redirect-uri", "", "the app's redirect `URI`, exactly as registered")
	if done, rc := parseFlags(fs, args[1:], stderr); done {
		return rc
	}
	cfg, rc := loadConfig(*path, stderr)
	if cfg == nil {
		return rc
	}
	if cfg.Zoom.OAuthApp == nil {
		fmt.Fprintln(stderr, "zccingest: zoom.oauth_app: token exchange is for OAuth apps; this config uses a Server-to-Server app")
		return exitConfig
	}
	if *code == "" || *redirect == "" {
		fmt.Fprintln(stderr, "zccingest: --code and --redirect-uri are required")
		return exitConfig
	}
	scopes, err := session.Exchange(ctx, oauthApp(cfg.Zoom), *code, *redirect, nil)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest: token exchange: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "refresh token stored in %s\nscopes: %s\n", cfg.Zoom.OAuthApp.RefreshTokenFile, strings.Join(scopes, " "))
	return exitOK
}
