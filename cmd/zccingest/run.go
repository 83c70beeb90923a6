package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/zoomws"
)

// cmdRun is the service: every subscription to NATS until SIGINT/SIGTERM.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, _, rc := configArgs("run", args, stderr)
	if cfg == nil {
		return rc
	}
	if len(cfg.Subscriptions) == 0 {
		// Valid for 'zccingest archive' alone; run would idle.
		fmt.Fprintln(stderr, "zccingest: config: subscriptions: run needs at least one (this file configures only the archive poller: run 'zccingest archive')")
		return exitConfig
	}
	log := newLogger(cfg.Log, stderr)
	if rc := startChecks(cfg, log, stderr); rc != exitOK {
		return rc
	}
	if cfg.WAL.Enabled {
		if err := writableDir(cfg.WAL.Dir); err != nil {
			fmt.Fprintf(stderr, "zccingest: config: wal.dir: not writable: %v\n", err)
			return exitConfig
		}
	}
	tokens := newTokenSource(cfg.Zoom, log)
	n, err := natsout.Connect(ctx, natsOptions(cfg.NATS, "zccingest", log))
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	defer n.Close()
	opts := ingestOptions(cfg, n, log)
	opts.Redact = tokens.Redact
	// Before the sockets open, Run publishes what a killed process left.
	opts.WAL = walOptions(cfg.WAL)
	cov := wireCoverage(cfg, n, &opts, log)
	in, err := ingest.New(opts)
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	zo := zoomwsOptions(cfg, tokens, in, log)
	if err := cov.start(in, &zo); err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	defer cov.stop() // after the sockets closed: their ends are in the last record
	if cfg.State.Enabled && cfg.NATS.StreamName() != "" {
		// A few calls on start and after each gap: a budget of its own,
		// apart from the reconciler's.
		rest, err := newRESTClient(cfg, tokens, stateRESTPerMinute, in.Registry(), log.With().Str("component", "state").Logger())
		if err != nil {
			log.Error().Err(err).Msg("startup failed")
			return exitFail
		}
		defer startState(ctx, cfg, n, in.Registry(), restUsers{rest}, log)()
	} else {
		defer startState(ctx, cfg, n, in.Registry(), nil, log)()
	}
	ws, err := zoomws.New(zo)
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	if cfg.HTTP.Listen != "off" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			log.Error().Err(err).Str("key", "http.listen").Msg("startup failed")
			return exitFail
		}
		srv := &http.Server{Handler: in.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info().Str("listen", ln.Addr().String()).Msg("serving /metrics, /healthz, /readyz")
	}
	if cfg.Reconcile.Enabled {
		rest, err := newRESTClient(cfg, tokens, cfg.Reconcile.RequestsPerMinute, in.Registry(), log.With().Str("component", "reconcile").Logger())
		if err != nil {
			log.Error().Err(err).Msg("startup failed")
			return exitFail
		}
		defer wireReconcile(ctx, cfg, n, rest, in.Registry(), log)()
	}
	log.Info().Int("subscriptions", len(cfg.Subscriptions)).Str("stream", cfg.NATS.StreamName()).Msg("zccingest running")
	if err := in.Run(ctx, ws); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("stopped with an error")
		return exitFail
	}
	return exitOK
}
