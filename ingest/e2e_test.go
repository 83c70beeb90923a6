package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/session"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// env is one end-to-end setup: the simulator, a NATS server, and ingesters.
type env struct {
	t    testing.TB
	sim  *sim.Server
	ns   *server.Server
	nc   *nats.Conn // the test's own connection, as a CTI adapter's
	logs *syncBuffer
	// runErr, when set, gets Run's error; by default one fails the test.
	runErr func(error)
}

// syncBuffer holds the logs of a test.
type syncBuffer = testnats.LogBuffer

func timeout(t testing.TB, d time.Duration) context.Context { return testnats.Timeout(t, d) }

func freePort(t testing.TB) int { return testnats.FreePort(t) }

// startNATS starts a server on port with its store in dir, so that a test
// can stop it and start it again with the same state.
func startNATS(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	return testnats.Start(t, testnats.Options{Port: port, StoreDir: dir, MaxPayload: natsout.MaxFrameMessage})
}

func newEnv(t testing.TB, opts sim.Options) *env {
	t.Helper()
	// As the embedded server: every frame fits.
	return newEnvNATS(t, opts, testnats.Start(t, testnats.Options{MaxPayload: natsout.MaxFrameMessage}))
}

// newEnvNATS is newEnv with a NATS server of the test's own.
func newEnvNATS(t testing.TB, opts sim.Options, ns *server.Server) *env {
	t.Helper()
	s := sim.New(opts)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e := &env{t: t, sim: s, ns: ns, nc: nc, logs: &syncBuffer{}}
	// The secret-leak check over the whole run's logs: no access token
	// (they all start sim-access-) and no client secret, whatever happened.
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, secret := range []string{"sim-access-", s.Options().ClientSecret} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs hold a secret (%q):\n%s", secret, logs)
			}
		}
	})
	return e
}

// setup is what cmd maps from a config file: the pipeline's options, the
// NATS side's and the socket side's (run fills in the sink, the token
// source and the handler).
type setup struct {
	Ingest ingest.Options
	NATS   natsout.Options
	Zoom   zoomws.Options
}

// configFor returns the setup for the named subscriptions (ids; names are
// ris-<id>), publishing to e's server into stream ("" for core NATS).
func (e *env) configFor(stream string, hb string, subs ...string) *setup {
	e.t.Helper()
	d, err := time.ParseDuration(hb)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &setup{
		Ingest: ingest.Options{SubjectPrefix: "zoom", BufferEvents: 20000, DuplicateWindow: 2 * time.Minute},
		NATS: natsout.Options{URL: e.ns.ClientURL(), Name: "test-ingester", Stream: stream, SubjectPrefix: "zoom",
			DuplicateWindow: 2 * time.Minute, MaxAge: 7 * 24 * time.Hour},
		Zoom: zoomws.Options{WebSocketURL: e.sim.WebSocketURL(), HeartbeatInterval: d},
	}
	for _, s := range subs {
		c.Ingest.Subscriptions = append(c.Ingest.Subscriptions, "ris-"+s)
		c.Zoom.Subscriptions = append(c.Zoom.Subscriptions, zoomws.Subscription{Name: "ris-" + s, ID: s})
	}
	return c
}

// run starts an ingester and waits until all its subscriptions are
// connected; the returned stop cancels it and waits for Run.
func (e *env) run(cfg *setup) (in *ingest.Ingester, stop func()) {
	e.t.Helper()
	var ids []string
	for _, s := range cfg.Zoom.Subscriptions {
		ids = append(ids, s.ID)
	}
	return e.runWait(cfg, ids...)
}

// runWait is run waiting for the named subscription ids only.
func (e *env) runWait(cfg *setup, ids ...string) (in *ingest.Ingester, stop func()) {
	e.t.Helper()
	log := zerolog.New(e.logs)
	nopts := cfg.NATS
	nopts.Logger = log
	n, err := natsout.Connect(timeout(e.t, 10*time.Second), nopts)
	if err != nil {
		e.t.Fatal(err)
	}
	o := e.sim.Options()
	tokens := session.NewServerToServer(session.ServerToServer{
		AccountID: o.AccountID, ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: e.sim.TokenURL(),
	}, session.Options{Logger: log, TransientBackoff: 50 * time.Millisecond, CredentialBackoff: 50 * time.Millisecond})
	iopts := cfg.Ingest
	iopts.Sink, iopts.Logger, iopts.Redact = n, log, tokens.Redact
	in, err = ingest.New(iopts)
	if err != nil {
		e.t.Fatal(err)
	}
	zopts := cfg.Zoom
	zopts.Tokens, zopts.Logger, zopts.Registerer = tokens, log, in.Registry()
	zopts.Handle = func(sub string, frame []byte, received time.Time) { in.Handle(sub, frame, received) }
	ws, err := zoomws.New(zopts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, ws) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			err := <-done
			switch {
			case e.runErr != nil:
				e.runErr(err)
			case err != nil:
				e.t.Errorf("Run: %v", err)
			}
			n.Close()
		})
	}
	e.t.Cleanup(stop)
	for _, id := range ids {
		if err := e.sim.WaitBuilds(timeout(e.t, 10*time.Second), id, 1); err != nil {
			e.t.Fatalf("subscription %s never connected: %v\n%s", id, err, e.logs.String())
		}
	}
	return in, stop
}

// collector gathers every message on subject, as a CTI adapter would.
type collector struct {
	nc      *nats.Conn
	subject string
	mu      sync.Mutex
	msgs    []*nats.Msg
	synced  int // sentinels seen (see sync)
	ch      chan struct{}
}

// syncHeader marks the collector's own sentinel messages.
const syncHeader = "Test-Collector-Sync"

func (e *env) collect(subject string) *collector {
	c := &collector{nc: e.nc, subject: subject, ch: make(chan struct{}, 1)}
	sub, err := e.nc.Subscribe(subject, func(m *nats.Msg) {
		c.mu.Lock()
		if m.Header.Get(syncHeader) != "" {
			c.synced++
		} else {
			c.msgs = append(c.msgs, m)
		}
		c.mu.Unlock()
		select {
		case c.ch <- struct{}{}:
		default:
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.nc.Flush()
	e.t.Cleanup(func() { sub.Unsubscribe() })
	return c
}

// sync returns once the collector's handler has taken every message the
// server had sent it: Flush alone proves they reached the client, not that
// the asynchronous handler ran. A sentinel published after them arrives
// after them.
func (c *collector) sync(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	want := c.synced + 1
	c.mu.Unlock()
	subject := strings.NewReplacer("*", "sync", ">", "sync").Replace(c.subject)
	if err := c.nc.PublishMsg(&nats.Msg{Subject: subject, Header: nats.Header{syncHeader: {"1"}}}); err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 20*time.Second)
	for {
		c.mu.Lock()
		done := c.synced >= want
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-c.ch:
		case <-ctx.Done():
			t.Fatal("the collector never saw its sentinel")
		}
	}
}

func (c *collector) wait(t *testing.T, n int) []*nats.Msg {
	t.Helper()
	ctx := timeout(t, 20*time.Second)
	for {
		c.mu.Lock()
		got := len(c.msgs)
		c.mu.Unlock()
		if got >= n {
			c.mu.Lock()
			defer c.mu.Unlock()
			return append([]*nats.Msg(nil), c.msgs...)
		}
		select {
		case <-c.ch:
		case <-ctx.Done():
			t.Fatalf("got %d messages, want %d", got, n)
		}
	}
}

func TestTwoSubscriptionsAllExamples(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a", "b"}})
	col := e.collect("zoom.>")
	e.run(e.configFor("", "25s", "a", "b"))
	examples := sim.Examples()
	for _, name := range sim.ExampleNames() {
		if n := e.sim.SendEvent(timeout(t, 5*time.Second), examples[name]); n != 2 {
			t.Fatalf("%s reached %d sockets", name, n)
		}
	}
	msgs := col.wait(t, len(sim.ExampleNames()))
	// Both subscriptions carried every event; de-duplication kept one copy.
	byEvent := map[string]*nats.Msg{}
	for _, m := range msgs {
		name := m.Header.Get("Zoom-Event")
		if byEvent[name] != nil {
			t.Errorf("%s published twice", name)
		}
		byEvent[name] = m
	}
	for _, name := range sim.ExampleNames() {
		m := byEvent[name]
		if m == nil {
			t.Errorf("%s missing", name)
			continue
		}
		ev, err := events.ParseEvent(examples[name])
		if err != nil {
			t.Fatal(err)
		}
		if want := ev.Subject("zoom"); m.Subject != want {
			t.Errorf("%s on %q, want %q", name, m.Subject, want)
		}
		for h, want := range map[string]string{
			"Nats-Msg-Id": ev.Key(), "Zoom-Event-Ts": fmt.Sprint(ev.TS), "Zoom-Account-Id": ev.AccountID, "Content-Type": "application/json",
		} {
			if got := m.Header.Get(h); got != want {
				t.Errorf("%s header %s = %q, want %q", name, h, got, want)
			}
		}
		if sub := m.Header.Get("Zoom-Subscription"); sub != "ris-a" && sub != "ris-b" {
			t.Errorf("Zoom-Subscription = %q", sub)
		}
		var body struct {
			Object map[string]any `json:"object"`
		}
		var want struct {
			Payload map[string]any `json:"payload"`
		}
		json.Unmarshal(m.Data, &body)
		json.Unmarshal(examples[name], &want)
		wantObject, ok := want.Payload["object"]
		if !ok {
			wantObject = want.Payload // the flat voice_rtms_* events
		}
		if !reflect.DeepEqual(any(body.Object), wantObject) {
			t.Errorf("%s object changed:\n got %v\nwant %v", name, body.Object, wantObject)
		}
	}
}

func streamCount(t *testing.T, nc *nats.Conn, stream string) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(timeout(t, 5*time.Second), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(timeout(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestPairIntoOneStream(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a", "b"}})
	// Two RIS nodes: one ingester each, one subscription each, one stream.
	_, stopA := e.run(e.configFor("ZOOM_EVENTS", "25s", "a"))
	_, stopB := e.run(e.configFor("ZOOM_EVENTS", "25s", "b"))
	src := sim.NewExampleSource()
	for range 100 {
		ev, _ := src.Next()
		e.sim.SendEvent(timeout(t, 5*time.Second), ev)
	}
	stopA()
	stopB()
	if got := streamCount(t, e.nc, "ZOOM_EVENTS"); got != 100 {
		t.Errorf("stream holds %d messages for 100 events sent on both subscriptions, want exactly 100", got)
	}
}
