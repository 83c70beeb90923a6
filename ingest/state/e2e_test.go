package state_test

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/state"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/session"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// The end-to-end test's traffic: -state.duration of generated events at
// -state.rate a second (the figure: -state.duration 10m).
var (
	e2eDuration = flag.Duration("state.duration", 3*time.Second, "how long the end-to-end state test sends traffic")
	e2eRate     = flag.Int("state.rate", 400, "events a second the end-to-end state test sends")
	e2eAgents   = flag.Int("state.agents", 40, "agents of the end-to-end state test's generator")
)

// distinctTS gives every generated event its own millisecond, keeping
// generation order: the merge orders events of one millisecond by id,
// not as Zoom sent them (the package comment says so), and the generator
// stamps the wall clock, where hold and unhold can share a millisecond.
type distinctTS struct {
	src  sim.Source
	last int64
}

func (d *distinctTS) Next() ([]byte, error) {
	raw, err := d.src.Next()
	if err != nil {
		return nil, err
	}
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	var ts int64
	json.Unmarshal(ev["event_ts"], &ts)
	d.last = max(ts, d.last+1)
	ev["event_ts"], _ = json.Marshal(d.last)
	return json.Marshal(ev)
}

// ingester runs the real pipeline for one subscription into the stream:
// zoomws, ingest, natsout, as cmd wires them.
func ingester(t *testing.T, s *sim.Server, url string, logs *testnats.LogBuffer, sub string) (stop func()) {
	t.Helper()
	log := zerolog.New(logs)
	n, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{URL: url, Name: "ingester-" + sub, Stream: testStream,
		SubjectPrefix: "zoom", DuplicateWindow: 2 * time.Minute, MaxAge: time.Hour, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	o := s.Options()
	tokens := session.NewServerToServer(session.ServerToServer{AccountID: o.AccountID, ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: s.TokenURL()},
		session.Options{Logger: log, TransientBackoff: 50 * time.Millisecond, CredentialBackoff: 50 * time.Millisecond})
	in, err := ingest.New(ingest.Options{Sink: n, Logger: log, Redact: tokens.Redact, SubjectPrefix: "zoom", BufferEvents: 100000,
		DuplicateWindow: 2 * time.Minute, Subscriptions: []string{"ris-" + sub}})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := zoomws.New(zoomws.Options{WebSocketURL: s.WebSocketURL(), HeartbeatInterval: 25 * time.Second, Tokens: tokens, Logger: log,
		Registerer: in.Registry(), Subscriptions: []zoomws.Subscription{{Name: "ris-" + sub, ID: sub}},
		Handle: func(sub string, frame []byte, received time.Time) { in.Handle(sub, frame, received) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	builds := s.Builds(sub)
	go func() { done <- in.Run(ctx, ws) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingester %s: %v", sub, err)
			}
			n.Close()
		})
	}
	t.Cleanup(stop)
	if err := s.WaitBuilds(testnats.Timeout(t, 10*time.Second), sub, builds+1); err != nil {
		t.Fatalf("subscription %s never connected: %v\n%s", sub, err, logs.String())
	}
	return stop
}

// The state buckets after generated traffic through the simulator, a
// pair of ingesters on two subscriptions and the events stream: faults on
// one leg, one ingester stopped and started again, the state builder
// stopped and started again, all while a window of events is delivered
// out of order. The buckets must equal the plain fold of the events, in
// the order they were made, of every agent's status and engagements and
// every open engagement.
func TestEndToEnd(t *testing.T) {
	r := newRig(t)
	s := sim.New(sim.Options{AccountID: testAccount, Subscriptions: []string{"a", "b"}})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	t.Cleanup(func() {
		if logs := r.logs.String(); strings.Contains(logs, "sim-access-") || strings.Contains(logs, s.Options().ClientSecret) {
			t.Error("logs hold a secret")
		}
	})
	stopA := ingester(t, s, r.ns.ClientURL(), r.logs, "a")
	stopB := ingester(t, s, r.ns.ClientURL(), r.logs, "b")
	// Nothing is swept during the run (TestBuilderSweepsEnded tests that):
	// every engagement is compared.
	long := func(o *state.Options) { o.EndedTTL = 24 * time.Hour }
	stopState := r.builder(long)

	src := sim.Shuffle(&distinctTS{src: sim.NewGenerator(42, testAccount, *e2eAgents)}, 16, 42)
	stopSending := s.Steady(src, *e2eRate)
	phase := *e2eDuration / 3
	start := time.Now()
	// Faults two seconds apart at most: a connection that lived a second
	// with events is healthy and is replaced at once; faults closer than
	// that make the ingester back off (by design), up to 30 s.
	tick := time.NewTicker(min(phase/6, 2*time.Second))
	defer tick.Stop()
	// Phase 1: leg a dropped and closed by the server, again and again.
	for i := 0; time.Since(start) < phase; {
		<-tick.C
		if !s.Connected("a") {
			continue
		}
		if i%2 == 0 {
			s.DropConnections("a")
		} else {
			s.CloseConnections("a", websocket.StatusGoingAway, "maintenance")
		}
		i++
	}
	// Leg a back before leg b goes.
	if err := s.WaitBuilds(testnats.Timeout(t, time.Minute), "a", s.Builds("a")); err != nil {
		t.Fatalf("leg a never came back: %v", err)
	}
	// Phase 2: ingester b stopped and started again; the state builder too.
	stopB()
	stopState()
	<-tick.C
	stopB = ingester(t, s, r.ns.ClientURL(), r.logs, "b")
	r.builder(long)
	for time.Since(start) < 3*phase {
		<-tick.C
	}
	stopSending()
	stopA()
	stopB()
	r.drained()

	// What was sent: every emitted event written on at least one socket.
	delivered := map[string]bool{}
	for _, rec := range s.Sent() {
		f, err := events.ParseFrame(rec.Frame)
		if err != nil || f.Module != events.ModuleMessage || rec.Delivered == 0 {
			continue
		}
		ev, err := f.Event()
		if err != nil {
			t.Fatal(err)
		}
		delivered[ev.Key()] = true
	}
	ref, mem := newReference(), state.NewMemory()
	lost, n := 0, 0
	for _, raw := range src.Emitted() {
		in, ok := inputOf(t, raw)
		if !ok {
			continue
		}
		if !delivered[in.ID] {
			lost++
			continue
		}
		n++
		ref.add(t, in)
		if err := mem.Apply(in); err != nil {
			t.Fatal(err)
		}
	}
	if lost > 0 {
		t.Errorf("%d events reached no socket: the pair lost them", lost)
	}
	agents, engs := r.read("")
	open := 0
	for _, e := range engs {
		if !e.Ended {
			open++
		}
	}
	t.Logf("%d events followed (%d handed out of order), %d agents, %d engagements (%d open), %d reconnects of leg a",
		n, src.OutOfOrder(), len(agents), len(engs), open, s.Builds("a")-1)
	if d := ref.diff(agents, engs); len(d) > 0 {
		t.Errorf("%d differences from the fold in generation order; the first:\n%s", len(d), strings.Join(d[:min(len(d), 5)], "\n"))
	}
	r.equal(mem)
	if len(engs) == 0 || len(agents) == 0 || src.OutOfOrder() == 0 {
		t.Error("the traffic tested nothing: no engagement, no agent, or nothing out of order")
	}
}
