package coverage_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/coverage"
	"github.com/zccingest/zccingest/test/testnats"
)

// store is coverage.Store on one connection, as cmd's is.
type store struct {
	js jetstream.JetStream
	mu sync.Mutex
	kv jetstream.KeyValue
}

func (s *store) Bucket(ctx context.Context) (jetstream.KeyValue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, nil
	}
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: coverage.Bucket, History: 1})
	if err != nil {
		return nil, err
	}
	s.kv = kv
	return kv, nil
}

func (s *store) Publish(ctx context.Context, m *events.Message) error {
	_, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data})
	return err
}

var registries sync.Map // *coverage.Ledger → *prometheus.Registry

func newLedger(t *testing.T, js jetstream.JetStream, node string, subs ...string) (*coverage.Ledger, *testnats.LogBuffer) {
	t.Helper()
	logs := &testnats.LogBuffer{}
	reg := prometheus.NewRegistry()
	l, err := coverage.New(coverage.Options{Node: node, Account: "acct", SubjectPrefix: "zoom", Subscriptions: subs,
		Store: &store{js: js}, Interval: 50 * time.Millisecond, StaleAfter: time.Second, Logger: zerolog.New(logs), Registerer: reg})
	registries.Store(l, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return l, logs
}

// gapsIn returns the gaps in the stream.
func gapsIn(t *testing.T, js jetstream.JetStream) []events.Gap {
	t.Helper()
	ctx := testnats.Timeout(t, 5*time.Second)
	st, err := js.Stream(ctx, "ZOOM_EVENTS")
	if err != nil {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil
	}
	var out []events.Gap
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil || !strings.HasSuffix(m.Subject, ".system.gap") {
			continue
		}
		var g events.Gap
		if err := json.Unmarshal(m.Data, &g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling NATS: nothing to wait on
	}
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return js
}

// A gap that begins and ends while NATS is down is published once NATS is
// back: the ledger keeps the intervals in memory and retries.
func TestGapThroughNATSOutage(t *testing.T) {
	port, dir := testnats.FreePort(t), t.TempDir()
	ns := testnats.Start(t, testnats.Options{Port: port, StoreDir: dir})
	js := connect(t, ns.ClientURL())
	ctx := testnats.Timeout(t, 10*time.Second)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	l, logs := newLedger(t, js, "n1", "a", "b")
	t0 := time.Now()
	l.OnState("a", true, t0, "")
	l.OnState("b", true, t0.Add(time.Millisecond), "")
	waitFor(t, "the record", func() bool { return l.View().Covered })

	ns.Shutdown()
	ns.WaitForShutdown()
	l.OnState("a", false, t0.Add(100*time.Millisecond), "read_error")
	// A rotation of b: the new connection opens before the old one
	// ends, so b stays open throughout it.
	l.OnState("b", true, t0.Add(150*time.Millisecond), "")
	l.OnState("b", false, t0.Add(160*time.Millisecond), "")
	l.OnState("b", false, t0.Add(200*time.Millisecond), "read_error")
	l.OnState("b", true, t0.Add(700*time.Millisecond), "")
	// /readyz says so, and names the leg open now from memory.
	waitFor(t, "the outage noticed", func() bool { return strings.Contains(strings.Join(l.Ready(), "\n"), "ledger not shared") })
	if got := strings.Join(l.Ready(), "\n"); !strings.Contains(got, "covered by n1/b") || strings.Contains(got, "n1/a") {
		t.Errorf("/readyz lines during the outage:\n%s", got)
	}
	ns = testnats.Start(t, testnats.Options{Port: port, StoreDir: dir})
	var gaps []events.Gap
	waitFor(t, "the gap published", func() bool { gaps = gapsIn(t, js); return len(gaps) > 0 })
	g := gaps[0]
	if len(gaps) != 1 || g.From != t0.Add(200*time.Millisecond).UnixMilli() || g.To != t0.Add(700*time.Millisecond).UnixMilli() ||
		g.Cause != "disconnected" || strings.Join(g.Subscriptions, ",") != "a,b" {
		t.Errorf("gaps %+v\n%s", gaps, logs.String())
	}
	waitFor(t, "a log line saying the ledger recovered", func() bool { return strings.Contains(logs.String(), "coverage ledger shared again") })
	// The marker says it is published; status reads it back.
	kv, err := js.KeyValue(ctx, coverage.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := coverage.Published(ctx, kv, "acct")
	if err != nil || len(pub) != 1 || pub[0].ID != g.ID {
		t.Errorf("published gaps %+v, %v", pub, err)
	}
}

// Two nodes of a pair see the same gap (both their legs closed) and it is
// in the stream once; a third view of the same records (status) agrees.
func TestTwoNodesOneGap(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{})
	js := connect(t, ns.ClientURL())
	ctx := testnats.Timeout(t, 10*time.Second)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	l1, _ := newLedger(t, js, "n1", "a")
	l2, _ := newLedger(t, connect(t, ns.ClientURL()), "n2", "b")
	t0 := time.Now()
	l1.OnState("a", true, t0, "")
	l2.OnState("b", true, t0, "")
	both := func(l *coverage.Ledger) bool {
		return strings.Contains(strings.Join(l.Ready(), " "), "n1/a") && strings.Contains(strings.Join(l.Ready(), " "), "n2/b")
	}
	waitFor(t, "each node seeing the other", func() bool { return both(l1) && both(l2) })
	l1.OnState("a", false, t0.Add(100*time.Millisecond), "read_error")
	l2.OnState("b", false, t0.Add(120*time.Millisecond), "read_error")
	l2.OnState("b", true, t0.Add(300*time.Millisecond), "")
	l1.OnState("a", true, t0.Add(310*time.Millisecond), "")
	var gaps []events.Gap
	waitFor(t, "the gap", func() bool { gaps = gapsIn(t, js); return len(gaps) > 0 })
	// Both nodes go round a few more times: nothing more is published.
	waitFor(t, "both ledgers past the gap", func() bool {
		return len(l1.View().Gaps) == 1 && len(l2.View().Gaps) == 1
	})
	for range 2 {
		at := l2.View().At
		waitFor(t, "another round", func() bool { return l2.View().At > at && l1.View().At > at })
	}
	gaps = gapsIn(t, js)
	if len(gaps) != 1 || gaps[0].From != t0.Add(120*time.Millisecond).UnixMilli() || gaps[0].To != t0.Add(300*time.Millisecond).UnixMilli() ||
		strings.Join(gaps[0].Nodes, ",") != "n1,n2" {
		t.Fatalf("gaps in the stream: %+v", gaps)
	}
	// Each node counts the gap's 180 ms once, under the configured account.
	for _, l := range []*coverage.Ledger{l1, l2} {
		reg, _ := registries.Load(l)
		want := `
# HELP zccingest_uncovered_seconds_total Seconds in gaps (no subscription of the account open on any node), counted when each gap ends.
# TYPE zccingest_uncovered_seconds_total counter
zccingest_uncovered_seconds_total{account="acct"} 0.18
`
		if err := testutil.GatherAndCompare(reg.(*prometheus.Registry), strings.NewReader(want), "zccingest_uncovered_seconds_total"); err != nil {
			t.Error(err)
		}
		if r := l.View().Ratio; r <= 0.3 || r >= 1 {
			t.Errorf("coverage ratio %f: some 180 ms of a few hundred were uncovered", r)
		}
	}
	kv, _ := js.KeyValue(ctx, coverage.Bucket)
	recs, err := coverage.Records(ctx, kv, "acct")
	if err != nil {
		t.Fatal(err)
	}
	v := coverage.Analyze("acct", recs, time.Now(), time.Second, time.Hour, 0)
	if len(v.Gaps) != 1 || v.Gaps[0].ID != gaps[0].ID || !v.Covered {
		t.Errorf("status's view: %+v", v)
	}
	// n1's a was down 100-310 ms, n2's b covered 100-120 only: the gap
	// tells it, no interruption.
	if in := l2.View().Interruptions; len(in) != 0 {
		t.Errorf("interruptions %+v", in)
	}
	if _, err := kv.Get(ctx, coverage.GapKey("acct", gaps[0].From)); errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Error("no marker for the gap")
	}
}

// Markers of gaps that began before the retention (a day) are purged; a
// recent one stays.
func TestOldMarkersPruned(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{})
	js := connect(t, ns.ClientURL())
	ctx := testnats.Timeout(t, 10*time.Second)
	st := &store{js: js}
	kv, err := st.Bucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	oldKey := coverage.GapKey("acct", now.Add(-25*time.Hour).UnixMilli())
	oldInt := coverage.InterruptionKey("acct", "n2", "b", now.Add(-30*time.Hour).UnixMilli())
	recent := coverage.GapKey("acct", now.Add(-time.Hour).UnixMilli())
	for _, k := range []string{oldKey, oldInt, recent} {
		if _, err := kv.Put(ctx, k, []byte(`{"id":"x","published":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	newLedger(t, js, "n1", "a")
	gone := func(k string) bool {
		_, err := kv.Get(ctx, k)
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	}
	waitFor(t, "the old markers purged", func() bool { return gone(oldKey) && gone(oldInt) })
	if gone(recent) {
		t.Error("a marker of an hour ago was purged")
	}
}

// A connection flapping all day keeps the record bounded: the latest 5,000
// intervals of a subscription, the oldest dropped.
func TestIntervalsBounded(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{})
	js := connect(t, ns.ClientURL())
	l, _ := newLedger(t, js, "n1", "a")
	t0 := time.Now().Add(-time.Hour)
	for i := range 5100 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		l.OnState("a", true, at, "")
		l.OnState("a", false, at.Add(50*time.Millisecond), "read_error")
	}
	ctx := testnats.Timeout(t, 10*time.Second)
	kv, err := (&store{js: js}).Bucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rec coverage.Record
	waitFor(t, "the record of every interval", func() bool {
		e, err := kv.Get(ctx, coverage.RecordKey("acct", "n1"))
		if err != nil || json.Unmarshal(e.Value(), &rec) != nil {
			return false
		}
		iv := rec.Subs["a"].Intervals
		return len(iv) > 0 && iv[len(iv)-1][0] == t0.Add(5099*100*time.Millisecond).UnixMilli()
	})
	if iv := rec.Subs["a"].Intervals; len(iv) != 5000 || iv[0][0] != t0.Add(100*100*time.Millisecond).UnixMilli() {
		t.Errorf("%d intervals, the first from %d", len(iv), iv[0][0])
	}
}
