package main

import (
	"context"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/reconcile"
	"github.com/zccingest/zccingest/session"
)

// wireReconcile starts the gap reconciler in its own goroutine, when the
// config has it on, and returns what stops it and waits for it. It
// publishes through n with JetStream acks, apart from the pipeline's
// buffer: a slow reconciliation never holds up a live event.
func wireReconcile(ctx context.Context, cfg *config.Config, n *natsout.Conn, tokens *session.Source, reg prometheus.Registerer, log zerolog.Logger) (stop func()) {
	rc := cfg.Reconcile
	if !rc.Enabled || cfg.NATS.StreamName() == "" {
		return func() {}
	}
	log = log.With().Str("component", "reconcile").Logger()
	rest, err := newReconcileREST(cfg, tokens, log)
	if err != nil || rest == nil {
		log.Warn().Err(err).Msg("gap reconciliation off: no Zoom REST client")
		return func() {}
	}
	// zoom.account_id is "" with an OAuth app: every account's gaps.
	r, err := reconcile.New(reconcile.Options{
		Conn: n.NATS, Stream: cfg.NATS.StreamName(), SubjectPrefix: cfg.NATS.SubjectPrefix, Publisher: n, REST: rest,
		AccountID: cfg.Zoom.AccountID, Node: reconcileNode(cfg), Replicas: cfg.NATS.StreamReplicas,
		Margin: rc.Margin.D(), MaxGap: rc.MaxGap.D(), Logger: log, Registerer: reg,
	})
	if err != nil {
		log.Error().Err(err).Msg("gap reconciliation off")
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	return func() { cancel(); <-done }
}

// newReconcileREST returns the Zoom REST client the reconciler asks, nil
// while this build has none. MERGER: package zoomrest (REST helper) fills
// it in:
//
//	return zoomrest.New(zoomrest.Options{
//		Token:      func(ctx context.Context) (string, error) { t, err := tokens.Token(ctx); if err != nil { return "", err }; return t.AccessToken, nil },
//		Invalidate: tokens.Invalidate,
//		RequestsPerMinute: cfg.Reconcile.RequestsPerMinute,
//		Logger: log, ...
//	})
//
// and reconcile's REST types become aliases of zoomrest's (see
// ingest/reconcile/rest.go).
var newReconcileREST = func(cfg *config.Config, tokens *session.Source, log zerolog.Logger) (reconcile.REST, error) {
	return nil, nil
}

// reconcileNode names this node in reconciliation leases. MERGER: the
// coverage helper's coverage.node replaces it; the default is the same,
// the host name made safe and cut to 64 bytes.
func reconcileNode(cfg *config.Config) string {
	host, _ := os.Hostname()
	b := []byte(host)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	if len(b) == 0 {
		return "node"
	}
	return string(b)
}
