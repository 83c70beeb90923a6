package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zccingest/zccingest/session"
)

// cmdToken: 'token exchange' swaps an OAuth app's authorization code for
// tokens and stores the refresh token where the config says.
func cmdToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "exchange" {
		fmt.Fprintln(stderr, "usage: zccingest token exchange --config FILE --redirect-uri URI [--code CODE] (the code from $"+codeEnv+" or standard input)")
		return exitConfig
	}
	fs := flag.NewFlagSet("token exchange", flag.ContinueOnError)
	path := fs.String("config", "", "configuration `file` (with zoom.oauth_app)")
	code := fs.String("code", "", "the authorization `code` from the install redirect. Visible to every user of the host in the process list while\nthe command runs: prefer $"+codeEnv+", or standard input (the default, and --code -)")
	redirect := fs.String("redirect-uri", "", "the app's redirect `URI`, exactly as registered")
	forArchive := fs.Bool("archive", false, "for archive.oauth_app, the archiving app, instead of zoom.oauth_app")
	if done, rc := parseFlags(fs, args[1:], stderr); done {
		return rc
	}
	cfg, rc := loadConfig(*path, stderr)
	if cfg == nil {
		return rc
	}
	app, ok := exchangeApp(cfg, *forArchive, stderr)
	if !ok {
		return exitConfig
	}
	if *redirect == "" {
		fmt.Fprintln(stderr, "zccingest: --redirect-uri is required")
		return exitConfig
	}
	if *code != "" && *code != "-" {
		fmt.Fprintln(stderr, "zccingest: warning: --code shows the authorization code to every user of this host (ps); prefer $"+codeEnv+" or standard input")
	}
	c, err := authCode(*code, os.Getenv, os.Stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest: %v\n", err)
		return exitConfig
	}
	scopes, err := session.Exchange(ctx, app, c, *redirect, nil)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest: token exchange: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "refresh token stored in %s\nscopes: %s\n", app.RefreshTokenFile, strings.Join(scopes, " "))
	return exitOK
}

// codeEnv names the environment variable that may carry the code.
const codeEnv = "ZCCINGEST_AUTH_CODE"

// authCode takes the authorization code from --code, else $ZCCINGEST_AUTH_CODE,
// else the first line of standard input (or from standard input at once
// with --code -). A code is a short token: anything longer is no code.
func authCode(flagValue string, getenv func(string) string, stdin io.Reader, stderr io.Writer) (string, error) {
	code := flagValue
	if code == "" {
		code = getenv(codeEnv)
	}
	if code == "" || code == "-" {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprint(stderr, "authorization code: ")
		}
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the authorization code from standard input: %w", err)
		}
		code = strings.TrimSpace(line)
	}
	if code == "" {
		return "", fmt.Errorf("no authorization code: give it on standard input, in $%s, or with --code", codeEnv)
	}
	if len(code) > 2048 || strings.ContainsFunc(code, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return "", errors.New("the authorization code is not a plain token (copy the code= value of the redirect)")
	}
	return code, nil
}
