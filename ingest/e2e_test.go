package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
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
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/session"
	"github.com/zccingest/zccingest/test/sim"
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

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startNATS(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	s, err := ingest.StartEmbedded(config.Embedded{Listen: fmt.Sprintf("127.0.0.1:%d", port), StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newEnv(t testing.TB, opts sim.Options) *env {
	t.Helper()
	return newEnvNATS(t, opts, startNATS(t, freePort(t), t.TempDir()))
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

// configFor builds the ingester's config for the named subscriptions.
func (e *env) configFor(stream string, hb string, subs ...string) *config.Config {
	e.t.Helper()
	o := e.sim.Options()
	var b strings.Builder
	fmt.Fprintf(&b, "zoom:\n  account_id: %s\n  client_id: %s\n  client_secret: %s\n  token_url: %s\n  websocket_url: %s\n  heartbeat_interval: %s\n",
		o.AccountID, o.ClientID, o.ClientSecret, e.sim.TokenURL(), e.sim.WebSocketURL(), hb)
	b.WriteString("subscriptions:\n")
	for _, s := range subs {
		fmt.Fprintf(&b, "  - name: ris-%s\n    id: %s\n", s, s)
	}
	fmt.Fprintf(&b, "nats:\n  url: %s\n  stream: %q\n  buffer_events: 20000\n", e.ns.ClientURL(), stream)
	c, err := config.Parse([]byte(b.String()))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// run starts an ingester and waits until all its subscriptions are
// connected; the returned stop cancels it and waits for Run.
func (e *env) run(cfg *config.Config) (in *ingest.Ingester, stop func()) {
	e.t.Helper()
	var ids []string
	for _, s := range cfg.Subscriptions {
		ids = append(ids, s.ID)
	}
	return e.runWait(cfg, ids...)
}

// runWait is run waiting for the named subscription ids only.
func (e *env) runWait(cfg *config.Config, ids ...string) (in *ingest.Ingester, stop func()) {
	e.t.Helper()
	log := zerolog.New(e.logs)
	n, err := ingest.ConnectNATS(cfg.NATS, "test-ingester", log)
	if err != nil {
		e.t.Fatal(err)
	}
	tokens := session.NewServerToServer(session.ServerToServer{
		AccountID: cfg.Zoom.AccountID, ClientID: cfg.Zoom.ClientID, ClientSecret: string(cfg.Zoom.ClientSecret), TokenURL: cfg.Zoom.TokenURL,
	}, session.Options{Logger: log, TransientBackoff: 50 * time.Millisecond, CredentialBackoff: 50 * time.Millisecond})
	in, err = ingest.New(timeout(e.t, 10*time.Second), cfg, n.Conn, tokens, log)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
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
	mu   sync.Mutex
	msgs []*nats.Msg
	ch   chan struct{}
}

func (e *env) collect(subject string) *collector {
	c := &collector{ch: make(chan struct{}, 1)}
	sub, err := e.nc.Subscribe(subject, func(m *nats.Msg) {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
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
