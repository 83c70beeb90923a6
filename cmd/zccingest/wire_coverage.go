package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/coverage"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/zoomws"
)

// coverageWiring is run's coverage ledger: made before the ingester (its
// /readyz lines), started with the sockets, stopped after they closed.
type coverageWiring struct {
	cfg  *config.Config
	n    *natsout.Conn
	log  zerolog.Logger
	l    *coverage.Ledger // nil: off (core NATS only)
	stop func()
}

// wireCoverage prepares the ledger and adds its lines to /readyz. With
// core NATS only (nats.stream: "") there is no KV to share it in: it is off,
// and one warning says so.
func wireCoverage(cfg *config.Config, n *natsout.Conn, opts *ingest.Options, log zerolog.Logger) *coverageWiring {
	w := &coverageWiring{cfg: cfg, n: n, log: log, stop: func() {}}
	if cfg.NATS.StreamName() == "" {
		log.Warn().Msg("nats.stream is empty (core NATS only): coverage ledger, gaps, interruptions and connection changes are off; they need JetStream")
		return w
	}
	opts.Ready = w.ready
	return w
}

// start makes the ledger (its metrics in in's registry), has the sockets
// report to it and to in (single-leg events), and runs it until stop.
func (w *coverageWiring) start(in *ingest.Ingester, zo *zoomws.Options) error {
	zo.OnState = in.OnState
	if w.cfg.NATS.StreamName() == "" {
		return nil
	}
	var subs []string
	for _, s := range w.cfg.Subscriptions {
		subs = append(subs, s.Name)
	}
	c := w.cfg.Coverage
	l, err := coverage.New(coverage.Options{
		Node: c.Node, Account: w.cfg.Zoom.AccountID, SubjectPrefix: w.cfg.NATS.SubjectPrefix, Subscriptions: subs,
		Store:    &coverageStore{n: w.n, replicas: w.cfg.NATS.StreamReplicas},
		Interval: c.Interval.D(), StaleAfter: c.StaleAfter.D(), Window: c.Window.D(),
		Logger: w.log, Registerer: in.Registry(),
	})
	if err != nil {
		return fmt.Errorf("coverage: %w", err)
	}
	w.l = l
	zo.OnState = func(sub string, open bool, at time.Time, reason string) {
		in.OnState(sub, open, at, reason)
		l.OnState(sub, open, at, reason)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	w.stop = func() { cancel(); <-done }
	return nil
}

func (w *coverageWiring) ready() []string {
	if w.l == nil {
		return nil
	}
	return w.l.Ready()
}

// coverageStore is coverage.Store on run's NATS connection, which natsout
// may replace: the bucket and JetStream context follow it.
type coverageStore struct {
	n        *natsout.Conn
	replicas int

	mu sync.Mutex
	nc *nats.Conn
	js jetstream.JetStream
	kv jetstream.KeyValue
}

func (s *coverageStore) jetStream() (jetstream.JetStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc := s.n.NATS(); nc != s.nc {
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		s.nc, s.js, s.kv = nc, js, nil
	}
	return s.js, nil
}

func (s *coverageStore) Bucket(ctx context.Context) (jetstream.KeyValue, error) {
	js, err := s.jetStream()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	kv := s.kv
	s.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err = js.KeyValue(ctx, coverage.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      coverage.Bucket,
			Description: "zccingest coverage ledger: <account>.<node> records, <account>.gap.<from> and <account>.interruption.<node>.<sub>.<from> markers",
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    max(s.replicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, coverage.Bucket)
		}
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.kv = kv
	s.mu.Unlock()
	return kv, nil
}

func (s *coverageStore) Publish(ctx context.Context, m *events.Message) error {
	js, err := s.jetStream()
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, &nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data})
	return err
}
