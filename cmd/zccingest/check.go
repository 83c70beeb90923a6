package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/zoomrest"
	"github.com/zccingest/zccingest/session"
)

// cmdCheck validates the config, connects to NATS, fetches a token,
// compares the granted scopes with those the events need, and opens each
// subscription once unless told not to.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := fs.String("config", "", "configuration `file`")
	skipWS := fs.Bool("skip-websocket", false, "do not open the subscriptions. Use it against a node that is running: where Zoom allows one\n"+
		"connection per subscription, check's connection closes the node's, and events in between are lost")
	if done, rc := parseFlags(fs, args, stderr); done {
		return rc
	}
	cfg, rc := loadConfig(*path, stderr)
	if cfg == nil {
		return rc
	}
	fmt.Fprintf(stdout, "config %s: ok (%d subscriptions)\n", *path, len(cfg.Subscriptions))
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stdout, "config: WARNING: %s\n", w)
	}
	problems := checkNATS(ctx, cfg.NATS, stdout)
	if cfg.WAL.Enabled {
		if err := writableDir(cfg.WAL.Dir); err != nil {
			fmt.Fprintf(stdout, "wal: FAIL: wal.dir: %v\n", err)
			problems++
		} else {
			fmt.Fprintf(stdout, "wal: %s writable (fsync %s, at most %s)\n", cfg.WAL.Dir, cfg.WAL.Fsync, size(int64(cfg.WAL.MaxBytes)))
		}
	}
	src := newTokenSource(cfg.Zoom, zerolog.Nop())
	tok, err := src.Token(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "token: FAIL: %v\n", err)
		problems++
	} else {
		fmt.Fprintf(stdout, "token: ok, expires %s\nscopes granted: %s\n", tok.Expiry.Format("15:04:05"), strings.Join(tok.Scopes, " "))
		for _, need := range eventScopesMissing(cfg, tok.Scopes) {
			problems++
			fmt.Fprintf(stdout, "scopes: MISSING for %s: one of %s\n", need.Events, strings.Join(need.Scopes, ", "))
		}
		for _, need := range session.MissingOptional(tok.Scopes) {
			fmt.Fprintf(stdout, "scopes: not granted for %s (only needed if you subscribe to them): one of %s\n", need.Events, strings.Join(need.Scopes, ", "))
		}
		if cfg.Reconcile.Enabled || cfg.State.Enabled && cfg.NATS.StreamName() != "" {
			// The REST calls of the gap reconciliation and the live-state
			// refresh: without them run goes on, and those features say
			// what failed.
			for _, s := range zoomrest.MissingScopes(tok.Scopes) {
				fmt.Fprintf(stdout, "scopes: not granted for REST %s (%s), used by gap reconciliation and the live-state refresh: one of %s, %s\n", s.Endpoint, s.Path, s.Granular, s.Classic)
			}
		}
		if *skipWS {
			fmt.Fprintln(stdout, "subscriptions: not opened (--skip-websocket)")
		} else {
			problems += checkSubscriptions(ctx, cfg, src, tok, stdout)
		}
	}
	problems += checkArchive(ctx, cfg, stdout)
	if problems > 0 {
		fmt.Fprintf(stdout, "%d problem(s) found\n", problems)
		return exitFail
	}
	fmt.Fprintln(stdout, "all good")
	return exitOK
}
