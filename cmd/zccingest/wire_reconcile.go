package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/reconcile"
)

// wireReconcile starts the gap reconciler in its own goroutine, when the
// config has it on, and returns what stops it and waits for it. It
// publishes through n with JetStream acks, apart from the pipeline's
// buffer: a slow reconciliation never holds up a live event.
func wireReconcile(ctx context.Context, cfg *config.Config, n *natsout.Conn, rest reconcile.REST, reg prometheus.Registerer, log zerolog.Logger) (stop func()) {
	rc := cfg.Reconcile
	if !rc.Enabled || cfg.NATS.StreamName() == "" {
		return func() {}
	}
	log = log.With().Str("component", "reconcile").Logger()
	// zoom.account_id is "" with an OAuth app: every account's gaps.
	r, err := reconcile.New(reconcile.Options{
		Conn: n.NATS, Stream: cfg.NATS.StreamName(), SubjectPrefix: cfg.NATS.SubjectPrefix, Publisher: n, REST: rest,
		AccountID: cfg.Zoom.AccountID, Node: cfg.Coverage.Node, Replicas: cfg.NATS.StreamReplicas,
		Margin: rc.Margin.D(), MaxGap: rc.MaxGap.D(), Settle: settle(rc.Settle.D()), Logger: log, Registerer: reg,
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

// settle maps reconcile.settle to reconcile.Options.Settle, where 0 means
// the default and a negative value no wait.
func settle(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
