package main

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/state"
	"github.com/zccingest/zccingest/ingest/zoomrest"
)

// startState starts the live-state builder (ZOOM_AGENTS, ZOOM_ENGAGEMENTS)
// beside the ingester, when JetStream and the state section are on; users
// lists the agents from Zoom's REST API (nil: no REST refresh; restUsers
// adapts a *zoomrest.Client). The returned stop ends it and waits.
func startState(ctx context.Context, cfg *config.Config, n *natsout.Conn, reg prometheus.Registerer, users state.UserLister, log zerolog.Logger) (stop func()) {
	if !cfg.State.Enabled {
		return func() {}
	}
	if cfg.NATS.StreamName() == "" {
		log.Warn().Str("key", "nats.stream").Msg(`JetStream is off (nats.stream: ""): the live state (state.*) needs the events stream and is not kept`)
		return func() {}
	}
	b, err := state.New(state.Options{
		NATS:              func() *nats.Conn { return n.NATS() },
		Stream:            cfg.NATS.StreamName(),
		SubjectPrefix:     cfg.NATS.SubjectPrefix,
		AccountID:         cfg.Zoom.AccountID,
		Users:             users,
		EndedTTL:          cfg.State.EndedTTL.D(),
		AgentsBucket:      cfg.State.AgentsBucket,
		EngagementsBucket: cfg.State.EngagementsBucket,
		Replicas:          cfg.NATS.StreamReplicas,
		Logger:            log,
		Registerer:        reg,
	})
	if err != nil { // options from a validated config: a bug
		log.Error().Err(err).Msg("live state not started")
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// restUsers lists the agents through a zoomrest client, for the state's
// refresh on start and after each gap.
type restUsers struct{ c *zoomrest.Client }

func (r restUsers) Users(ctx context.Context) ([]state.RESTUser, error) {
	us, err := r.c.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]state.RESTUser, len(us))
	for i, u := range us {
		out[i] = state.RESTUser(u)
	}
	return out, nil
}
