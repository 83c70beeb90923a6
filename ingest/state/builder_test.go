package state_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/state"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

const (
	testAccount = "SimAccount0000000000000"
	testStream  = "ZOOM_EVENTS"
)

// rig is a NATS server with the events stream, as the ingester makes it.
type rig struct {
	t    testing.TB
	ns   *server.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	logs *testnats.LogBuffer
}

func newRig(t *testing.T) *rig { return newRigTB(t) }

func newRigTB(t testing.TB) *rig {
	t.Helper()
	ns := testnats.Start(t, testnats.Options{})
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(testnats.Timeout(t, 5*time.Second), jetstream.StreamConfig{Name: testStream, Subjects: []string{"zoom.>"}, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ns: ns, nc: nc, js: js, logs: &testnats.LogBuffer{}}
}

// builder starts a state builder on the rig; stop ends it.
func (r *rig) builder(edit func(*state.Options)) (stop func()) {
	r.t.Helper()
	o := state.Options{NATS: func() *nats.Conn { return r.nc }, Stream: testStream, SubjectPrefix: "zoom",
		Logger: zerolog.New(r.logs), RetryDelay: 20 * time.Millisecond, AckWait: 2 * time.Second}
	if edit != nil {
		edit(&o)
	}
	b, err := state.New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	r.t.Cleanup(stop)
	return stop
}

// publish puts messages in the stream, acknowledged.
func (r *rig) publish(msgs ...*nats.Msg) {
	r.t.Helper()
	for _, m := range msgs {
		if _, err := r.js.PublishMsg(testnats.Timeout(r.t, 5*time.Second), m); err != nil {
			r.t.Fatal(err)
		}
	}
}

// drained waits until the state consumer has acknowledged every message
// of the stream it reads.
func (r *rig) drained() {
	r.t.Helper()
	ctx := testnats.Timeout(r.t, 60*time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := r.js.Consumer(ctx, testStream, state.DefaultDurable)
		if err == nil {
			info, err := c.Info(ctx)
			// Every message is acknowledged by the stream before this
			// is called: pending counts it until the consumer has it.
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			r.t.Fatalf("the state consumer did not drain the stream in 60 s\n%s", r.logs.String())
		}
	}
}

// kv returns the rig's buckets.
func (r *rig) kv() (agents, engagements jetstream.KeyValue) {
	r.t.Helper()
	ctx := testnats.Timeout(r.t, 5*time.Second)
	a, err := r.js.KeyValue(ctx, state.DefaultAgentsBucket)
	if err != nil {
		r.t.Fatal(err)
	}
	e, err := r.js.KeyValue(ctx, state.DefaultEngagementsBucket)
	if err != nil {
		r.t.Fatal(err)
	}
	return a, e
}

// read returns the buckets' contents by key.
func (r *rig) read(account string) (map[string]state.Agent, map[string]state.Engagement) {
	r.t.Helper()
	ka, ke := r.kv()
	ctx := testnats.Timeout(r.t, 10*time.Second)
	as, err := state.Agents(ctx, ka, account)
	if err != nil {
		r.t.Fatal(err)
	}
	es, err := state.Engagements(ctx, ke, account)
	if err != nil {
		r.t.Fatal(err)
	}
	agents, engs := map[string]state.Agent{}, map[string]state.Engagement{}
	for _, a := range as {
		agents[state.Key(a.AccountID, a.UserID)] = a
	}
	for _, e := range es {
		engs[state.Key(e.AccountID, e.EngagementID)] = e
	}
	return agents, engs
}

// message is the stream's message of a generated event, as the ingester
// publishes it, event_ts set to ts.
func message(t testing.TB, raw []byte, ts int64) (*nats.Msg, bool) {
	t.Helper()
	ev, err := events.ParseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ev.AccountID == "" {
		return nil, false
	}
	if ts > 0 {
		ev.TS = ts
	}
	m, err := ev.Message("zoom", "ris-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data}, true
}

// traffic returns n generated events as stream messages, event_ts 1 ms
// apart from base, and their fold.
func traffic(t testing.TB, seed uint64, agents, n int, base int64) ([]*nats.Msg, *state.Memory) {
	t.Helper()
	g := sim.NewGenerator(seed, testAccount, agents)
	var msgs []*nats.Msg
	mem := state.NewMemory()
	for len(msgs) < n {
		raw, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		m, ok := message(t, raw, base+int64(len(msgs)))
		if !ok {
			continue
		}
		msgs = append(msgs, m)
		in, err := state.ParseMessage(m.Data, m.Header.Get("Nats-Msg-Id"), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.Apply(in); err != nil {
			t.Fatal(err)
		}
	}
	return msgs, mem
}

func (r *rig) equal(want *state.Memory) {
	r.t.Helper()
	agents, engs := r.read("")
	if !reflect.DeepEqual(agents, want.Agents()) {
		r.t.Errorf("agents in KV (%d) differ from the fold (%d)", len(agents), len(want.Agents()))
		for k, a := range want.Agents() {
			if !reflect.DeepEqual(agents[k], a) {
				r.t.Errorf("%s:\n got %+v\nwant %+v", k, agents[k], a)
				break
			}
		}
	}
	if !reflect.DeepEqual(engs, want.Engagements()) {
		r.t.Errorf("engagements in KV (%d) differ from the fold (%d)", len(engs), len(want.Engagements()))
	}
}

// A pair's two builders share the durable consumer and write the same
// keys; one is stopped and started again half-way, and the second half
// arrives with windows shuffled and every event twice (a replay). The
// buckets hold the fold of the events.
func TestBuilderPairRestartReplay(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	msgs, want := traffic(t, 5, 6, 1200, time.Now().UnixMilli())
	stopA := r.builder(nil)
	r.builder(nil)
	r.publish(msgs[:600]...)
	stopA()
	second := append([]*nats.Msg(nil), msgs[600:]...)
	for i := 0; i+10 <= len(second); i += 10 {
		w := second[i : i+10]
		for a, b := 0, len(w)-1; a < b; a, b = a+1, b-1 {
			w[a], w[b] = w[b], w[a]
		}
	}
	r.builder(nil)
	r.publish(second...)
	// The replay: the same events again, outside the duplicate window
	// (another message id), as a rebuilt copy would be.
	for _, m := range msgs {
		c := nats.NewMsg(m.Subject)
		c.Data = m.Data
		c.Header.Set("Nats-Msg-Id", "replay-"+m.Header.Get("Nats-Msg-Id"))
		r.publish(c)
	}
	r.drained()
	// The replayed copies carry other ids: the same state, but not the
	// same event_id. Fold them too.
	for _, m := range msgs {
		in, _ := state.ParseMessage(m.Data, "replay-"+m.Header.Get("Nats-Msg-Id"), "")
		want.Apply(in)
	}
	r.equal(want)
}

// A message that cannot be applied is acknowledged once, never
// redelivered, and what follows it is applied.
func TestBuilderBadMessage(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.builder(nil)
	bad := []*nats.Msg{
		{Subject: "zoom.acct.cc.engagement.ended", Data: []byte("not json"), Header: nats.Header{"Nats-Msg-Id": {"bad1"}}},
		{Subject: "zoom.acct.cc.engagement.ended", Data: []byte(`{"event":"contact_center.engagement_ended","event_ts":5,"account_id":"acct","object":{}}`), Header: nats.Header{"Nats-Msg-Id": {"bad2"}}},
	}
	r.publish(bad...)
	msgs, want := traffic(t, 6, 2, 50, time.Now().UnixMilli())
	r.publish(msgs...)
	r.drained()
	r.equal(want)
	c, err := r.js.Consumer(testnats.Timeout(t, 5*time.Second), testStream, state.DefaultDurable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(testnats.Timeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || info.Config.MaxDeliver <= 0 {
		t.Errorf("redelivered %d, max_deliver %d", info.NumRedelivered, info.Config.MaxDeliver)
	}
	if got := r.logs.String(); !strings.Contains(got, "event not applied to the state") {
		t.Errorf("bad messages not logged:\n%s", got)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// An ended engagement leaves ended_ttl after its end; its late events do
// not bring it back; open ones stay.
func TestBuilderSweepsEnded(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.builder(func(o *state.Options) { o.EndedTTL = 300 * time.Millisecond })
	now := time.Now().UnixMilli()
	obj := func(id string) string { return `{"engagement_id":"` + id + `","user_id":"U1","channel":"voice"}` }
	pub := func(name, id string, ts int64) {
		body := fmt.Sprintf(`{"id":"%s-%s-%d","event":"contact_center.%s","event_ts":%d,"account_id":"acct","object":%s}`, name, id, ts, name, ts, obj(id))
		m := nats.NewMsg("zoom.acct.cc.engagement.x")
		m.Data = []byte(body)
		m.Header.Set("Nats-Msg-Id", fmt.Sprintf("%s-%s-%d", name, id, ts))
		r.publish(m)
	}
	pub("engagement_user_answered", "E1", now)
	pub("engagement_ended", "E1", now+1)
	pub("engagement_user_answered", "E2", now)
	r.drained()
	_, ke := r.kv()
	ctx := testnats.Timeout(t, 20*time.Second)
	w, err := ke.Watch(ctx, "acct.E1")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for swept := false; !swept; {
		select {
		case e := <-w.Updates():
			swept = e != nil && e.Operation() == jetstream.KeyValuePurge
		case <-ctx.Done():
			t.Fatalf("E1 never swept\n%s", r.logs.String())
		}
	}
	pub("engagement_user_hold", "E1", now+2) // late
	pub("engagement_user_hold", "E2", now+2)
	r.drained()
	agents, engs := r.read("acct")
	if _, ok := engs["acct.E1"]; ok {
		t.Errorf("the swept engagement is back: %+v", engs["acct.E1"])
	}
	if e := engs["acct.E2"]; !e.Hold || e.Ended {
		t.Errorf("the open engagement: %+v", e)
	}
	if a := agents["acct.U1"]; fmt.Sprint(a.Engagements) != "[E2]" {
		t.Errorf("agent holds %v, want [E2]", a.Engagements)
	}
}

type fakeUsers struct {
	calls atomic.Int32
	ch    chan struct{}
	users []state.RESTUser
}

func (f *fakeUsers) Users(ctx context.Context) ([]state.RESTUser, error) {
	f.calls.Add(1)
	defer func() {
		select {
		case f.ch <- struct{}{}:
		default:
		}
	}()
	return f.users, nil
}

// Agents are refreshed from REST on start and after a gap notice, stamped
// with the request's start: an older event loses to the snapshot, a newer
// one wins.
func TestBuilderRESTRefresh(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	f := &fakeUsers{ch: make(chan struct{}, 1), users: []state.RESTUser{
		{UserID: "U1", DisplayName: "One", StatusName: "Ready"},
		{UserID: "U2", DisplayName: "Two", StatusName: "Offline"},
	}}
	before := time.Now().UnixMilli() - 1000
	r.builder(func(o *state.Options) { o.Users, o.AccountID = f, "acct" })
	wait := func() {
		select {
		case <-f.ch:
		case <-testnats.Timeout(t, 10*time.Second).Done():
			t.Fatalf("no REST refresh\n%s", r.logs.String())
		}
	}
	wait()
	pub := func(user, status string, ts int64) {
		m := nats.NewMsg("zoom.acct.cc.user.status_changed")
		m.Data = fmt.Appendf(nil, `{"id":"s-%s-%d","event":"contact_center.user_status_changed","event_ts":%d,"account_id":"acct","object":{"user_id":"%s","current_status_name":"%s"}}`, user, ts, ts, user, status)
		m.Header.Set("Nats-Msg-Id", fmt.Sprintf("s-%s-%d", user, ts))
		r.publish(m)
	}
	pub("U1", "Occupied", before)                    // older than the snapshot
	pub("U2", "Ready", time.Now().UnixMilli()+60000) // newer
	r.drained()
	agents, _ := r.read("acct")
	if a := agents["acct.U1"]; a.Status != "Ready" || !a.LoggedIn || a.Source != state.SourceREST || a.DisplayName != "One" {
		t.Errorf("U1 = %+v, want the REST snapshot", a)
	}
	if a := agents["acct.U2"]; a.Status != "Ready" || !a.LoggedIn || a.Source != state.SourceWebSocket {
		t.Errorf("U2 = %+v, want the newer event", a)
	}
	// A gap notice asks for another refresh.
	gap, _ := json.Marshal(events.Gap{})
	if err := r.nc.Publish(events.SystemSubject("zoom", "acct", events.SystemGap), gap); err != nil {
		t.Fatal(err)
	}
	wait()
	if n := f.calls.Load(); n < 2 {
		t.Errorf("%d refreshes, want one on start and one after the gap", n)
	}
}

// Two builders of eight workers each write the same few keys at once:
// the compare-and-set loses no update.
func TestBuilderConcurrentWriters(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	msgs, want := traffic(t, 8, 1, 600, time.Now().UnixMilli())
	r.builder(nil)
	r.builder(nil)
	r.publish(msgs...)
	r.drained()
	r.equal(want)
}
