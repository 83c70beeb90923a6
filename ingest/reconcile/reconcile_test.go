package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/reconcile"
	"github.com/zccingest/zccingest/test/testnats"
)

const (
	acct   = "acct-1"
	prefix = "zoom"
	stream = "ZOOM_EVENTS"
)

// A scenario: a gap [60 s, 120 s] after t0, an hour ago.
//   - eng-A ran inside the gap; its answered event was received live all
//     the same (the other leg); Zoom shows it only on the second query.
//   - eng-B started before the gap and ended after it: only its hold and
//     unhold fell inside.
//   - eng-C ran before the gap, all of it received live.
//   - agent u-9 logged in inside the gap.
type scenario struct {
	t0       time.Time
	gap      events.Gap
	live     [][3]any // name, engagement or user id, ms after t0
	expected map[string]int
}

func newScenario(ago time.Duration) *scenario {
	t0 := time.Now().Add(-ago).Truncate(time.Second)
	s := &scenario{t0: t0}
	from, to := t0.Add(60*time.Second).UnixMilli(), t0.Add(120*time.Second).UnixMilli()
	s.gap = events.Gap{ID: events.GapID(events.SystemGap, acct, from, to, ""), Kind: events.SystemGap, AccountID: acct,
		From: from, To: to, Cause: "disconnected", Subscriptions: []string{"ris-a", "ris-b"}}
	s.live = [][3]any{
		{"contact_center.engagement_user_answered", "eng-A", 72_400},
		{"contact_center.engagement_started", "eng-B", 40_123},
		{"contact_center.engagement_user_answered", "eng-B", 45_250},
		{"contact_center.recording_started", "eng-B", 46_100},
		{"contact_center.recording_stopped", "eng-B", 130_001},
		{"contact_center.engagement_ended", "eng-B", 130_050},
		{"contact_center.engagement_started", "eng-C", 31_500},
		{"contact_center.engagement_user_answered", "eng-C", 33_500},
		{"contact_center.engagement_ended", "eng-C", 50_500},
		{"contact_center.user_status_changed", "u-9", 130_200},
	}
	s.expected = map[string]int{}
	for _, e := range []struct {
		name string
		at   int
	}{
		{"contact_center.engagement_started", 70}, {"contact_center.recording_started", 73},
		{"contact_center.engagement_user_hold", 80}, {"contact_center.recording_paused", 80},
		{"contact_center.engagement_user_unhold", 90}, {"contact_center.recording_resumed", 90},
		{"contact_center.engagement_ended", 100}, {"contact_center.engagement_wrap_up_started", 100},
		{"contact_center.recording_stopped", 100}, {"contact_center.engagement_wrap_up_ended", 110},
		{"contact_center.engagement_user_hold", 65}, {"contact_center.engagement_user_unhold", 70},
		{"contact_center.user_login", 75}, {"contact_center.user_status_changed", 75},
	} {
		s.expected[fmt.Sprintf("%s@%d", e.name, t0.Add(time.Duration(e.at)*time.Second).UnixMilli())]++
	}
	return s
}

func (s *scenario) at(sec int) time.Time { return s.t0.Add(time.Duration(sec) * time.Second) }

// fakeREST serves the scenario as Zoom's REST API would.
type fakeREST struct {
	s  *scenario
	mu sync.Mutex
	// hidden: calls of E1 and E2 for which an engagement is not shown
	// yet (Zoom's processing delay): eng-A is missing from the first E1
	// and from the first E2 asked for it, as eng-A's live event makes it.
	hidden map[string]int
	calls  map[string]int
	// blockRec, when set, makes the first RecordingStatus of that
	// engagement wait until the context ends, after closing blocked.
	blockRec string
	blocked  chan struct{}
}

func newFake(s *scenario) *fakeREST {
	return &fakeREST{s: s, hidden: map[string]int{"eng-A": 2}, calls: map[string]int{}, blocked: make(chan struct{})}
}

func (f *fakeREST) count(ep string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[ep]++
}

func (f *fakeREST) Calls(ep string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[ep]
}

func (f *fakeREST) shown(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hidden[id] > 0 {
		f.hidden[id]--
		return false
	}
	return true
}

func (f *fakeREST) details() map[string]*reconcile.EngagementDetail {
	s := f.s
	base := func(id string, start, end int) reconcile.Engagement {
		return reconcile.Engagement{EngagementID: id, StartTime: s.at(start), EndTime: s.at(end), Direction: "inbound",
			Channels: []reconcile.Channel{{Channel: "voice"}}, Agents: []reconcile.Agent{{UserID: "u-1", DisplayName: "Agent 1"}}}
	}
	return map[string]*reconcile.EngagementDetail{
		"eng-A": {Engagement: base("eng-A", 70, 100), Events: []reconcile.TimelineEvent{
			{StartTime: s.at(70), EventType: reconcile.EventEngagementStart},
			{StartTime: s.at(71), EventType: reconcile.EventAgentOffer, UserID: "u-1"},
			{StartTime: s.at(72), EventType: reconcile.EventAgentAccept, UserID: "u-1"},
			{StartTime: s.at(80), Duration: 10, EventType: reconcile.EventHold, UserID: "u-1"},
			{StartTime: s.at(100), EventType: reconcile.EventEngagementEnd},
			{StartTime: s.at(100), Duration: 10, EventType: reconcile.EventWrapUp, UserID: "u-1"},
		}},
		"eng-B": {Engagement: base("eng-B", 40, 130), Events: []reconcile.TimelineEvent{
			{StartTime: s.at(40), EventType: reconcile.EventEngagementStart},
			{StartTime: s.at(45), EventType: reconcile.EventAgentAccept, UserID: "u-1"},
			{StartTime: s.at(65), Duration: 5, EventType: reconcile.EventHold, UserID: "u-1"},
			{StartTime: s.at(130), EventType: reconcile.EventEngagementEnd},
		}},
		"eng-C": {Engagement: base("eng-C", 31, 50), Events: []reconcile.TimelineEvent{
			{StartTime: s.at(31), EventType: reconcile.EventEngagementStart},
			{StartTime: s.at(33), EventType: reconcile.EventAgentAccept, UserID: "u-1"},
			{StartTime: s.at(50), EventType: reconcile.EventEngagementEnd},
		}},
	}
}

func (f *fakeREST) Engagements(ctx context.Context, from, to time.Time) ([]reconcile.Engagement, error) {
	f.count("E1")
	var out []reconcile.Engagement
	for _, id := range []string{"eng-A", "eng-B", "eng-C"} {
		d := f.details()[id]
		if d.StartTime.Before(to) && !d.StartTime.Before(from) && f.shown(id) {
			out = append(out, d.Engagement)
		}
	}
	return out, nil
}

func (f *fakeREST) Engagement(ctx context.Context, id string) (*reconcile.EngagementDetail, error) {
	f.count("E2")
	f.count("E2:" + id)
	d, ok := f.details()[id]
	if !ok || !f.shown(id) {
		return nil, reconcile.ErrNotFound
	}
	return d, nil
}

func (f *fakeREST) RecordingStatus(ctx context.Context, id string) (*reconcile.RecordingStatus, error) {
	f.count("E4")
	f.mu.Lock()
	block := f.blockRec == id
	if block {
		f.blockRec = ""
	}
	f.mu.Unlock()
	if block {
		close(f.blocked)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s := f.s
	switch id {
	case "eng-A":
		return &reconcile.RecordingStatus{EngagementID: id, Channel: "voice", Statuses: []reconcile.RecordingStatusEntry{
			{Status: "start", LastModifiedTime: s.at(73)}, {Status: "pause", LastModifiedTime: s.at(80)},
			{Status: "resume", LastModifiedTime: s.at(90)}, {Status: "stop", LastModifiedTime: s.at(100)},
		}}, nil
	case "eng-B":
		return &reconcile.RecordingStatus{EngagementID: id, Channel: "voice", Statuses: []reconcile.RecordingStatusEntry{
			{Status: "start", LastModifiedTime: s.at(46)}, {Status: "stop", LastModifiedTime: s.at(130)},
		}}, nil
	}
	return nil, reconcile.ErrNotFound
}

func (f *fakeREST) StatusHistory(ctx context.Context, from, to time.Time) ([]reconcile.AgentStatus, error) {
	f.count("E6")
	s := f.s
	return []reconcile.AgentStatus{
		{UserID: "u-9", StatusID: "0", StatusName: "Offline", StartTime: s.at(0)},
		{UserID: "u-9", StatusID: "1", StatusName: "Ready", StartTime: s.at(75)},
		{UserID: "u-9", StatusID: "3", StatusName: "Occupied", StartTime: s.at(130)},
	}, nil
}

// harness is a NATS server with the events stream, the scenario's live
// events and its gap in it.
type harness struct {
	t    *testing.T
	conn *natsout.Conn
	js   jetstream.JetStream
	s    *scenario
}

func newHarness(t *testing.T) *harness { return newHarnessAt(t, time.Hour, nil) }

// newHarnessAt sets the scenario's t0 that long ago, and lets edit change
// it before its live events and gap are published.
func newHarnessAt(t *testing.T, ago time.Duration, edit func(*scenario)) *harness {
	h := newNATS(t)
	h.s = newScenario(ago)
	if edit != nil {
		edit(h.s)
	}
	h.publishScenario()
	return h
}

// publishScenario publishes the scenario's live events and its gap.
func (h *harness) publishScenario() {
	t := h.t
	ctx := testnats.Timeout(t, 30*time.Second)
	var msgs []*events.Message
	for _, l := range h.s.live {
		name, id, off := l[0].(string), l[1].(string), l[2].(int)
		obj := map[string]any{"engagement_id": id, "user_id": "u-1", "channel": "voice"}
		if strings.HasPrefix(id, "u-") {
			obj = map[string]any{"user_id": id}
		}
		env, _ := json.Marshal(map[string]any{"event": name, "event_ts": h.s.t0.UnixMilli() + int64(off),
			"payload": map[string]any{"account_id": acct, "object": obj}})
		ev, err := events.ParseEvent(env)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ev.Message(prefix, "ris-a", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	body, _ := json.Marshal(h.s.gap)
	msgs = append(msgs, &events.Message{Subject: events.SystemSubject(prefix, acct, events.SystemGap), ID: h.s.gap.ID,
		Header: events.Header{events.HeaderMsgID: {h.s.gap.ID}, events.HeaderContentType: {"application/json"}}, Data: body})
	h.publish(ctx, msgs)
}

// newNATS starts a server with the events stream, and a harness on it.
func newNATS(t *testing.T) *harness {
	srv := testnats.Start(t, testnats.Options{})
	ctx := testnats.Timeout(t, 30*time.Second)
	conn, err := natsout.Connect(ctx, natsout.Options{URL: srv.ClientURL(), Name: "test", Stream: stream, SubjectPrefix: prefix,
		DuplicateWindow: 2 * time.Minute, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := conn.EnsureStream(ctx); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(conn.NATS())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, conn: conn, js: js}
}

func (h *harness) publish(ctx context.Context, msgs []*events.Message) {
	errs := make([]error, len(msgs))
	h.conn.Publish(ctx, msgs, errs)
	for _, err := range errs {
		if err != nil {
			h.t.Fatal(err)
		}
	}
}

// noDedupe publishes without Nats-Msg-Id: the stream cannot drop a second
// copy, so only the reconciler's own checks keep an event from going out
// twice.
type noDedupe struct{ c *natsout.Conn }

func (p noDedupe) Publish(ctx context.Context, msgs []*events.Message, errs []error) {
	out := make([]*events.Message, len(msgs))
	for i, m := range msgs {
		h := events.Header{}
		for k, v := range m.Header {
			if k != events.HeaderMsgID {
				h[k] = v
			}
		}
		out[i] = &events.Message{Subject: m.Subject, ID: m.ID, Header: h, Data: m.Data}
	}
	p.c.Publish(ctx, out, errs)
}

type runOpts struct {
	node, durable string
	pub           reconcile.Publisher
	rest          reconcile.REST
	maxGap        time.Duration
	reg           prometheus.Registerer
	settle        time.Duration       // 0: none
	js            jetstream.JetStream // nil: the harness's
	account       string
	conn          func() *nats.Conn
}

// start runs a reconciler until the returned stop is called.
func (h *harness) start(o runOpts) (stop func()) {
	h.t.Helper()
	if o.pub == nil {
		o.pub = h.conn
	}
	if o.settle == 0 {
		o.settle = -1
	}
	if o.js == nil && o.conn == nil {
		o.js = h.js
	}
	r, err := reconcile.New(reconcile.Options{
		JS: o.js, Conn: o.conn, AccountID: o.account, Stream: stream, SubjectPrefix: prefix, Publisher: o.pub, REST: o.rest, Node: o.node, Durable: o.durable,
		Margin: 30 * time.Second, MaxGap: o.maxGap, Settle: o.settle, ProcessingWait: 20 * time.Second, RetryInterval: 20 * time.Millisecond,
		LeaseTTL: 3 * time.Second, AckWait: 3 * time.Second, Registerer: o.reg, Logger: zerolog.New(zerolog.NewTestWriter(h.t)).Level(zerolog.InfoLevel),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	h.t.Cleanup(stop)
	return stop
}

type stored struct {
	subject string
	header  map[string][]string
	body    events.Body
}

// read returns every message of the stream on subject filter.
func (h *harness) read(filter string) []stored {
	h.t.Helper()
	ctx := testnats.Timeout(h.t, 10*time.Second)
	cons, err := h.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []stored
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			h.t.Fatal(err)
		}
		n, last := 0, false
		for m := range batch.Messages() {
			n++
			var b events.Body
			_ = json.Unmarshal(m.Data(), &b)
			out = append(out, stored{m.Subject(), m.Headers(), b})
			md, _ := m.Metadata()
			last = md.NumPending == 0
		}
		if n == 0 || last {
			return out
		}
	}
}

// waitSummaries waits until n summaries are in the stream and returns
// them.
func (h *harness) waitSummaries(n int) []events.Reconciled { return h.waitSummariesOf(acct, n) }

func (h *harness) waitSummariesOf(account string, n int) []events.Reconciled {
	h.t.Helper()
	ctx := testnats.Timeout(h.t, 60*time.Second)
	sub := events.SystemSubject(prefix, account, events.SystemReconciled)
	for {
		ms := h.read(sub)
		if len(ms) >= n {
			var out []events.Reconciled
			for _, m := range h.read(sub) {
				var r events.Reconciled
				if err := json.Unmarshal(storedData(h, m), &r); err != nil {
					h.t.Fatal(err)
				}
				out = append(out, r)
			}
			return out
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("%d of %d summaries after 60 s", len(ms), n)
		case <-time.After(20 * time.Millisecond): // polling the stream's own state
		}
	}
}

func storedData(h *harness, m stored) []byte {
	// events.Body dropped the summary's fields: read the raw message.
	ctx := testnats.Timeout(h.t, 5*time.Second)
	s, err := h.js.Stream(ctx, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	raw, err := s.GetLastMsgForSubject(ctx, m.subject)
	if err != nil {
		h.t.Fatal(err)
	}
	return raw.Data
}

// checkRebuilt checks that the stream holds each expected rebuilt event
// exactly once, marked as rebuilt, and nothing else rebuilt.
func (h *harness) checkRebuilt() {
	h.t.Helper()
	got := map[string]int{}
	for _, m := range h.read(prefix + ".>") {
		if len(m.header[events.HeaderSource]) == 0 {
			continue
		}
		if m.header[events.HeaderSource][0] != events.SourceREST || m.body.Source != events.SourceREST {
			h.t.Errorf("%s: source %v / %q", m.subject, m.header[events.HeaderSource], m.body.Source)
		}
		if ids := m.header[events.HeaderMsgID]; len(ids) > 0 && ids[0] != m.body.ID {
			h.t.Errorf("%s: id %q in the body, %q in the header", m.subject, m.body.ID, m.header[events.HeaderMsgID])
		}
		if !strings.HasPrefix(m.subject, prefix+"."+acct+".cc.") {
			h.t.Errorf("rebuilt event on %s", m.subject)
		}
		got[fmt.Sprintf("%s@%d", m.body.Event, m.body.EventTS)]++
	}
	for k, n := range got {
		if h.s.expected[k] == 0 {
			h.t.Errorf("published %s, which is not to be rebuilt (%d times)", k, n)
		} else if n != 1 {
			h.t.Errorf("published %s %d times", k, n)
		}
	}
	for k := range h.s.expected {
		if got[k] == 0 {
			h.t.Errorf("%s not rebuilt", k)
		}
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestGapRebuiltOnce(t *testing.T) {
	h := newHarness(t)
	fake := newFake(h.s)
	reg := prometheus.NewRegistry()
	stop := h.start(runOpts{node: "n1", rest: fake, reg: reg})
	sums := h.waitSummaries(1)
	stop()
	h.checkRebuilt()
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 8 {
		t.Errorf("%d metrics (%v)", n, err)
	}
	for _, m := range []struct {
		name, label string
		want        int
	}{
		{"zccingest_reconcile_gaps_total", "complete", 1},
		{"zccingest_reconcile_events_total", "published", len(h.s.expected)},
	} {
		mf, _ := reg.Gather()
		got := -1
		for _, f := range mf {
			if f.GetName() != m.name {
				continue
			}
			for _, x := range f.GetMetric() {
				if x.GetLabel()[0].GetValue() == m.label {
					got = int(x.GetCounter().GetValue())
				}
			}
		}
		if got != m.want {
			t.Errorf("%s{%s} = %d, want %d", m.name, m.label, got, m.want)
		}
	}
	s := sums[0]
	if s.GapID != h.s.gap.ID || s.AccountID != acct || !s.Complete || len(s.Errors) != 0 {
		t.Errorf("summary %+v", s)
	}
	if total(s.Recovered) != len(h.s.expected) || s.Recovered["contact_center.engagement_user_hold"] != 2 {
		t.Errorf("recovered %v, want %d events", s.Recovered, len(h.s.expected))
	}
	// eng-A's answered was received live, eng-B's fell before the gap;
	// eng-C is not asked for at all.
	if s.Skipped["contact_center.engagement_user_answered"] != 2 {
		t.Errorf("skipped %v", s.Skipped)
	}
	if s.NotRecoverable["contact_center.task_*"] == "" || s.NotRecoverable["contact_center.engagement_user_muted"] == "" {
		t.Errorf("not recoverable %v", s.NotRecoverable)
	}
	if s.Requests < 5 || fake.Calls("E1") < 2 {
		t.Errorf("requests %d, E1 calls %d: eng-A, hidden at first, was not asked for again", s.Requests, fake.Calls("E1"))
	}
	if n := fake.Calls("E2:eng-C"); n != 0 {
		t.Errorf("eng-C, which Zoom shows ended before the gap, was asked for %d times", n)
	}
	if s.From != h.s.gap.From-30_000 || s.To != h.s.gap.To+30_000 {
		t.Errorf("queried [%d, %d], want the gap widened by the margin", s.From, s.To)
	}

	// A second run of the same gap, its progress gone and the stream
	// unable to drop a copy, publishes nothing again: the live check
	// finds the first run's messages.
	kv, err := h.js.KeyValue(testnats.Timeout(t, 5*time.Second), reconcile.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(testnats.Timeout(t, 5*time.Second))
	if err != nil || len(keys) < 3 {
		t.Fatalf("progress keys %v (%v)", keys, err)
	}
	for _, k := range keys {
		if err := kv.Purge(testnats.Timeout(t, 5*time.Second), k); err != nil {
			t.Fatal(err)
		}
	}
	h.start(runOpts{node: "n1", durable: "second-run", rest: newFake(h.s), pub: noDedupe{h.conn}})
	sums = h.waitSummaries(2)
	h.checkRebuilt()
	if total(sums[1].Recovered) != len(h.s.expected) {
		t.Errorf("second run recovered %v", sums[1].Recovered)
	}
}

// The pair's two nodes on one gap: each event once, though the stream
// cannot drop copies. Each node has its own durable here, so that both
// get the gap message (with the shared one only one would).
func TestTwoNodesPublishOnce(t *testing.T) {
	h := newHarness(t)
	h.start(runOpts{node: "n1", durable: "d1", rest: newFake(h.s), pub: noDedupe{h.conn}})
	h.start(runOpts{node: "n2", durable: "d2", rest: newFake(h.s), pub: noDedupe{h.conn}})
	h.waitSummaries(1)
	// Both gap messages acked: the node that did not work on it found it
	// done.
	ctx := testnats.Timeout(t, 30*time.Second)
	for _, d := range []string{"d1", "d2"} {
		for {
			c, err := h.js.Consumer(ctx, stream, d)
			if err != nil {
				t.Fatal(err)
			}
			if i, err := c.Info(ctx); err == nil && i.AckFloor.Stream > 0 && i.NumAckPending == 0 && i.NumPending == 0 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("durable %s never acked the gap", d)
			case <-time.After(20 * time.Millisecond): // polling the consumer's own state
			}
		}
	}
	h.checkRebuilt()
	if n := len(h.read(events.SystemSubject(prefix, acct, events.SystemReconciled))); n != 1 {
		t.Errorf("%d summaries, want 1", n)
	}
}

// A reconciler stopped in the middle of a gap, and started again,
// completes it and publishes nothing twice.
func TestRestartMidGap(t *testing.T) {
	h := newHarness(t)
	fake := newFake(h.s)
	fake.hidden = map[string]int{}
	fake.blockRec = "eng-B" // after eng-A is done
	stop := h.start(runOpts{node: "n1", rest: fake, pub: noDedupe{h.conn}})
	select {
	case <-fake.blocked:
	case <-testnats.Timeout(t, 30*time.Second).Done():
		t.Fatal("the reconciler never reached eng-B")
	}
	stop()
	if n := len(h.read(events.SystemSubject(prefix, acct, events.SystemReconciled))); n != 0 {
		t.Fatalf("%d summaries after a stop mid-gap", n)
	}
	var before int
	for _, m := range h.read(prefix + "." + acct + ".cc.>") {
		if m.body.Source == events.SourceREST {
			before++
		}
	}
	if before == 0 {
		t.Fatal("nothing published before the stop: the test does not stop mid-gap")
	}
	again := newFake(h.s)
	again.hidden = map[string]int{}
	h.start(runOpts{node: "n1", rest: again, pub: noDedupe{h.conn}})
	sums := h.waitSummaries(1)
	h.checkRebuilt()
	if total(sums[0].Recovered) != len(h.s.expected) || !sums[0].Complete {
		t.Errorf("summary after restart %+v", sums[0])
	}
	if again.Calls("E2") > 2 {
		t.Errorf("the restarted reconciler asked for %d engagements; eng-A was done", again.Calls("E2"))
	}
}

func TestLongGapSkipped(t *testing.T) {
	h := newHarness(t)
	fake := newFake(h.s)
	h.start(runOpts{node: "n1", rest: fake, maxGap: 30 * time.Second})
	sums := h.waitSummaries(1)
	if sums[0].Complete || len(sums[0].Errors) != 1 || !strings.Contains(sums[0].Errors[0], "reconcile.max_gap") {
		t.Errorf("summary %+v", sums[0])
	}
	if n := fake.Calls("E1") + fake.Calls("E6"); n != 0 {
		t.Errorf("%d REST calls for a gap not reconciled", n)
	}
	var rebuilt []string
	for _, m := range h.read(prefix + ".>") {
		if m.body.Source != "" {
			rebuilt = append(rebuilt, m.subject)
		}
	}
	if len(rebuilt) != 0 {
		t.Errorf("published %v", slices.Compact(rebuilt))
	}
}

// flaky fails its first publish as a lost connection does, and refuses
// every recording_paused for good.
type flaky struct {
	c     *natsout.Conn
	mu    sync.Mutex
	calls int
}

func (p *flaky) Publish(ctx context.Context, msgs []*events.Message, errs []error) {
	p.mu.Lock()
	p.calls++
	first := p.calls == 1
	p.mu.Unlock()
	var pass []*events.Message
	var at []int
	for i, m := range msgs {
		switch {
		case first:
			errs[i] = errors.New("nats: connection lost")
		case m.Header.Get(events.HeaderEvent) == "contact_center.recording_paused":
			errs[i] = &ingest.RefusedError{Err: errors.New("stream full")}
		default:
			pass, at = append(pass, m), append(at, i)
		}
	}
	e := make([]error, len(pass))
	p.c.Publish(ctx, pass, e)
	for j, i := range at {
		errs[i] = e[j]
	}
}

// A transient publish error is retried; a refusal is named in the
// summary, which then is not complete, and the rest goes out.
func TestPublishRetriesAndRefusals(t *testing.T) {
	h := newHarness(t)
	pub := &flaky{c: h.conn}
	h.start(runOpts{node: "n1", rest: newFake(h.s), pub: pub})
	s := h.waitSummaries(1)[0]
	if s.Complete || len(s.Errors) != 1 || !strings.Contains(s.Errors[0], "recording_paused refused by NATS") {
		t.Errorf("summary errors %q, complete %v", s.Errors, s.Complete)
	}
	if s.Recovered["contact_center.recording_paused"] != 0 || total(s.Recovered) != len(h.s.expected)-1 {
		t.Errorf("recovered %v", s.Recovered)
	}
	n := 0
	for _, m := range h.read(prefix + ".>") {
		if m.body.Source == events.SourceREST {
			n++
			if m.body.Event == "contact_center.recording_paused" {
				t.Error("a refused event is in the stream")
			}
		}
	}
	if n != len(h.s.expected)-1 {
		t.Errorf("%d rebuilt events in the stream, want %d", n, len(h.s.expected)-1)
	}
}

// A gap that has just ended: eng-A, which nothing received tells of, is
// not processed by Zoom at the first query; the tail is queried again at
// twice the settle time, and eng-A comes back.
func TestTailQueriedAgain(t *testing.T) {
	h := newHarnessAt(t, 121*time.Second, func(s *scenario) {
		s.live = slices.DeleteFunc(s.live, func(l [3]any) bool { return l[1] == "eng-A" })
		s.expected[fmt.Sprintf("contact_center.engagement_user_answered@%d", s.at(72).UnixMilli())]++
	})
	fake := newFake(h.s)
	fake.hidden = map[string]int{"eng-A": 1}
	h.start(runOpts{node: "n1", rest: fake, settle: 2500 * time.Millisecond})
	sums := h.waitSummaries(1)
	h.checkRebuilt()
	if fake.Calls("E1") != 2 || !sums[0].Complete {
		t.Errorf("E1 asked %d times, summary %+v", fake.Calls("E1"), sums[0])
	}
}

// A node that dies in the middle of a gap (its connection gone: no nak,
// no release) leaves the gap to the other node once its lease has lapsed
// and the gap message is redelivered; the other node resumes where the
// first stopped and publishes nothing twice.
func TestNodeDiesMidGap(t *testing.T) {
	h := newHarness(t)
	conn, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{URL: h.conn.NATS().ConnectedUrl(), Name: "n1",
		Stream: stream, SubjectPrefix: prefix, DuplicateWindow: 2 * time.Minute, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(conn.NATS())
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake(h.s)
	fake.hidden = map[string]int{}
	fake.blockRec = "eng-B"
	stop := h.start(runOpts{node: "n1", rest: fake, pub: noDedupe{conn}, js: js})
	select {
	case <-fake.blocked:
	case <-testnats.Timeout(t, 30*time.Second).Done():
		t.Fatal("the reconciler never reached eng-B")
	}
	conn.Close() // the node is gone: nothing more reaches NATS from it
	stop()
	again := newFake(h.s)
	again.hidden = map[string]int{}
	h.start(runOpts{node: "n2", rest: again, pub: noDedupe{h.conn}})
	sums := h.waitSummaries(1)
	h.checkRebuilt()
	if total(sums[0].Recovered) != len(h.s.expected) || !sums[0].Complete {
		t.Errorf("summary %+v", sums[0])
	}
	if n := again.Calls("E2:eng-A"); n != 0 {
		t.Errorf("n2 asked for eng-A, done by n1, %d times", n)
	}
}

// A node whose REST client reads one account leaves another account's
// gap alone: rebuilding it from the wrong account's data would publish
// events that did not happen.
func TestOtherAccountsGapLeft(t *testing.T) {
	h := newHarness(t)
	ctx := testnats.Timeout(t, 30*time.Second)
	other := h.s.gap
	other.AccountID, other.ID = "other-acct", events.GapID(events.SystemGap, "other-acct", other.From, other.To, "")
	body, _ := json.Marshal(other)
	h.publish(ctx, []*events.Message{{Subject: events.SystemSubject(prefix, "other-acct", events.SystemGap), ID: other.ID,
		Header: events.Header{events.HeaderMsgID: {other.ID}}, Data: body}})
	fake := newFake(h.s)
	h.start(runOpts{node: "n1", rest: fake, account: acct})
	h.waitSummaries(1)
	for {
		c, err := h.js.Consumer(ctx, stream, reconcile.DefaultDurable)
		if err != nil {
			t.Fatal(err)
		}
		i, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i.NumPending == 0 && i.NumAckPending == 1 && i.AckFloor.Stream > 0 {
			break // acct-1's gap acked, the other one's left pending
		}
		select {
		case <-ctx.Done():
			t.Fatalf("consumer %+v", i)
		case <-time.After(20 * time.Millisecond): // polling the consumer's own state
		}
	}
	if n := fake.Calls("E1"); n != 2 {
		t.Errorf("%d E1 calls: the other account's gap was queried", n)
	}
	if n := len(h.read(events.SystemSubject(prefix, "other-acct", events.SystemReconciled))); n != 0 {
		t.Errorf("%d summaries for the other account", n)
	}
}

// nats.go closed the reconciler's connection for good and natsout replaced
// it: the reconciler goes on with the new one.
func TestConnectionReplaced(t *testing.T) {
	h := newNATS(t)
	h.s = newScenario(time.Hour)
	url := h.conn.NATS().ConnectedUrl()
	first, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	second, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	var cur atomic.Pointer[nats.Conn]
	cur.Store(first)
	h.start(runOpts{node: "n1", rest: newFake(h.s), conn: cur.Load})
	ctx := testnats.Timeout(t, 30*time.Second)
	for { // the reconciler is set up on the first connection
		if _, err := h.js.Consumer(ctx, stream, reconcile.DefaultDurable); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no consumer")
		case <-time.After(20 * time.Millisecond): // polling the server's own state
		}
	}
	first.Close()
	cur.Store(second)
	h.publishScenario()
	h.waitSummaries(1)
	h.checkRebuilt()
}

// Zoom's REST times are whole seconds: an event in the gap's first second
// comes back up to a second before the gap's start (here the hold at 65 s,
// the gap starting at 65.4 s), and is rebuilt all the same.
func TestGapEdgeSecond(t *testing.T) {
	h := newHarnessAt(t, time.Hour, func(s *scenario) {
		s.gap.From = s.at(65).Add(400 * time.Millisecond).UnixMilli()
		s.gap.ID = events.GapID(events.SystemGap, acct, s.gap.From, s.gap.To, "")
	})
	stop := h.start(runOpts{node: "n1", rest: newFake(h.s)})
	h.waitSummaries(1)
	stop()
	h.checkRebuilt()
}
