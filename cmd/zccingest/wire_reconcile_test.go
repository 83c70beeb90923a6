package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/reconcile"
	"github.com/zccingest/zccingest/test/testnats"
)

type agentsOnlyREST struct{ rows []reconcile.AgentStatus }

func (agentsOnlyREST) Engagements(context.Context, time.Time, time.Time) ([]reconcile.Engagement, error) {
	return nil, nil
}
func (agentsOnlyREST) Engagement(context.Context, string) (*reconcile.EngagementDetail, error) {
	return nil, reconcile.ErrNotFound
}
func (agentsOnlyREST) RecordingStatus(context.Context, string) (*reconcile.RecordingStatus, error) {
	return nil, reconcile.ErrNotFound
}
func (r agentsOnlyREST) StatusHistory(context.Context, time.Time, time.Time) ([]reconcile.AgentStatus, error) {
	return r.rows, nil
}

// run's wiring: a gap in the stream comes back as a rebuilt event on the
// live subject and a summary, through the same NATS connection.
func TestWireReconcile(t *testing.T) {
	srv := testnats.Start(t, testnats.Options{})
	cfg, err := config.Parse([]byte("zoom: {account_id: acct, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\nnats: {url: '" + srv.ClientURL() + "'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testnats.Timeout(t, 60*time.Second)
	n, err := natsout.Connect(ctx, natsOptions(cfg.NATS, "test", zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	to := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	from := to.Add(-time.Minute)
	rest := agentsOnlyREST{[]reconcile.AgentStatus{{UserID: "u-1", StatusID: "1", StatusName: "Ready", StartTime: from.Add(10 * time.Second)}}}
	stop := wireReconcile(ctx, cfg, n, rest, prometheus.NewRegistry(), zerolog.New(zerolog.NewTestWriter(t)))
	defer stop()

	g := events.Gap{ID: events.GapID(events.SystemGap, "acct", from.UnixMilli(), to.UnixMilli(), ""), Kind: events.SystemGap,
		AccountID: "acct", From: from.UnixMilli(), To: to.UnixMilli(), Cause: "process_down"}
	body, _ := json.Marshal(g)
	errs := make([]error, 1)
	n.Publish(ctx, []*events.Message{{Subject: events.SystemSubject("zoom", "acct", events.SystemGap), ID: g.ID,
		Header: events.Header{events.HeaderMsgID: {g.ID}}, Data: body}}, errs)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	js, _ := jetstream.New(n.NATS())
	cons, err := js.OrderedConsumer(ctx, "ZOOM_EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"zoom.acct.cc.user.status_changed", events.SystemSubject("zoom", "acct", events.SystemReconciled)}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]jetstream.Msg{}
	for len(got) < 2 {
		m, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
		if err != nil {
			t.Fatalf("after %d messages: %v", len(got), err)
		}
		got[m.Subject()] = m
	}
	if m := got["zoom.acct.cc.user.status_changed"]; m.Headers().Get(events.HeaderSource) != events.SourceREST {
		t.Errorf("rebuilt event headers %v", m.Headers())
	}
	var s events.Reconciled
	if err := json.Unmarshal(got["zoom.acct.system.reconciled"].Data(), &s); err != nil || s.Recovered["contact_center.user_status_changed"] != 1 || !s.Complete {
		t.Errorf("summary %+v (%v)", s, err)
	}
}

// Off in the config, or with core NATS only: nothing starts.
func TestWireReconcileOff(t *testing.T) {
	for _, extra := range []string{"reconcile: {enabled: false}\n", "nats: {stream: ''}\n"} {
		cfg, err := config.Parse([]byte("zoom: {account_id: acct, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\n" + extra))
		if err != nil {
			t.Fatal(err)
		}
		// With no NATS connection, a reconciler wired anyway would
		// panic on its first use of it.
		wireReconcile(context.Background(), cfg, nil, agentsOnlyREST{}, nil, zerolog.Nop())()
	}
}
