package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/test/sim"
)

// sendN sends n fresh events to every subscription and returns how many
// frames the sockets accepted.
func sendN(t *testing.T, e *env, src sim.Source, n int) int {
	t.Helper()
	delivered := 0
	for range n {
		ev, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		delivered += e.sim.SendEvent(timeout(t, 5*time.Second), ev)
	}
	return delivered
}

func TestMalformedFrames(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	good := e.collect("zoom.*.>")
	bad := e.collect("zoom.invalid")
	e.run(e.configFor("", "25s", "a"))
	src := sim.NewExampleSource()
	malformed := [][]byte{
		[]byte(``), []byte(`not json`), []byte("{\"module\":\"message\",\"content\":\"\xff\"}"),
		[]byte(`{"module":"message","success":true,"content":"{not json"}`),
		[]byte(`{"module":"message","success":true,"content":"{\"event_ts\":1,\"payload\":{\"account_id\":\"a\",\"object\":{}}}"}`),
		[]byte(`{"module":"message","success":true,"content":"{\"event\":\"x\",\"event_ts\":\"1\",\"payload\":{\"account_id\":\"a\",\"object\":{}}}"}`),
		[]byte(`{"module":"surprise","success":true}`),
		// Nested as deep as ReadLimit allows: a recursive decoder without
		// a depth limit overflows the stack, which no recover catches.
		[]byte(`{"module":"message","success":true,"content":{"a":` + strings.Repeat("[", zoomws.ReadLimit-64)),
	}
	for _, m := range malformed {
		sendN(t, e, src, 3)
		e.sim.Send(timeout(t, 5*time.Second), "a", m)
	}
	sendN(t, e, src, 3)
	if got := len(good.wait(t, 3*(len(malformed)+1))); got != 3*(len(malformed)+1) {
		t.Errorf("%d good events", got)
	}
	invalid := bad.wait(t, len(malformed))
	for i, m := range invalid {
		if !bytes.Equal(m.Data, malformed[i]) || m.Header.Get("Zoom-Error") == "" {
			t.Errorf("invalid message %d: %.100q (error %q), want the raw frame %.100q", i, m.Data, m.Header.Get("Zoom-Error"), malformed[i])
		}
	}
	if e.sim.Builds("a") != 1 {
		t.Errorf("the connection was re-opened %d times: bad frames must not drop it", e.sim.Builds("a")-1)
	}
}

// largeEvent is an engagement event with a note of n bytes.
func largeEvent(n int) []byte {
	note := strings.Repeat("x", n)
	return []byte(`{"event":"contact_center.engagement_started","event_ts":1,"payload":{"account_id":"acct","object":{"engagement_id":"e","note":"` + note + `"}}}`)
}

func TestLargeFrame(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	col := e.collect("zoom.>")
	e.run(e.configFor("", "25s", "a"))
	// Larger than NATS's default max_payload of 1 MiB, which the embedded
	// server raises.
	const size = 2 << 20
	e.sim.SendEvent(timeout(t, 5*time.Second), largeEvent(size))
	msgs := col.wait(t, 1)
	if len(msgs[0].Data) < size {
		t.Errorf("large event arrived with %d bytes", len(msgs[0].Data))
	}
}

// TestLargerThanMaxPayload: an outside server that refuses a message as too
// large must not hold up the events behind it, and the event must not
// vanish without a trace.
func TestLargerThanMaxPayload(t *testing.T) {
	for _, stream := range []string{"", "ZOOM_EVENTS"} {
		t.Run("stream="+stream, func(t *testing.T) {
			ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true, MaxPayload: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			ns.Start()
			if !ns.ReadyForConnections(10 * time.Second) {
				t.Fatal("NATS did not start")
			}
			e := newEnvNATS(t, sim.Options{Subscriptions: []string{"a"}}, ns)
			good := e.collect("zoom.*.>")
			bad := e.collect("zoom.invalid")
			in, _ := e.run(e.configFor(stream, "25s", "a"))
			e.sim.SendEvent(timeout(t, 5*time.Second), largeEvent(100<<10))
			src := sim.NewExampleSource()
			sendN(t, e, src, 3)
			if got := len(good.wait(t, 3)); got != 3 {
				t.Errorf("%d events after the large one, want 3", got)
			}
			m := bad.wait(t, 1)[0]
			if len(m.Data) != 0 || m.Header.Get("Zoom-Event") != "contact_center.engagement_started" || m.Header.Get("Nats-Msg-Id") == "" ||
				!strings.Contains(m.Header.Get("Zoom-Error"), "max_payload of 65536 bytes") {
				t.Errorf("in place of the large event: %d bytes, headers %v", len(m.Data), m.Header)
			}
			if n := counter(t, in, "zccingest_dropped_total"); n != 1 {
				t.Errorf("dropped_total = %d, want 1", n)
			}
			if !strings.Contains(e.logs.String(), "raise the limit") {
				t.Errorf("no log line says what to do:\n%s", e.logs.String())
			}
		})
	}
}

// TestExistingStream: a stream the operator made keeps its settings; it
// gains only the subjects and duplicate window the ingester needs. Its
// max_msg_size, like max_payload, must not stall what follows.
func TestExistingStream(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 10*time.Second)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "ZOOM_EVENTS", Subjects: []string{"other.>"}, MaxAge: time.Hour, MaxMsgSize: 64 << 10,
		Duplicates: 10 * time.Second, Storage: jetstream.MemoryStorage,
	}); err != nil {
		t.Fatal(err)
	}
	cfg := e.configFor("ZOOM_EVENTS", "25s", "a")
	in, _ := e.run(cfg)
	e.sim.SendEvent(timeout(t, 5*time.Second), largeEvent(100<<10))
	sendN(t, e, sim.NewExampleSource(), 3)

	// What the stream holds: the three events, and the large one's
	// headers on the invalid subject.
	st, err := js.Stream(ctx, "ZOOM_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(4, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	events, stubs := 0, 0
	for m := range batch.Messages() {
		switch {
		case m.Subject() == "zoom.invalid" && len(m.Data()) == 0 && strings.Contains(m.Headers().Get("Zoom-Error"), "max_msg_size"):
			stubs++
		case m.Subject() != "zoom.invalid" && len(m.Data()) < 64<<10:
			events++
		default:
			t.Errorf("unexpected message on %s: %d bytes, headers %v", m.Subject(), len(m.Data()), m.Headers())
		}
	}
	if events != 3 || stubs != 1 {
		t.Errorf("stream holds %d events and %d headers-only messages, want 3 and 1", events, stubs)
	}
	if n := counter(t, in, "zccingest_dropped_total"); n != 1 {
		t.Errorf("dropped_total = %d, want 1", n)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := info.Config
	if got.MaxAge != time.Hour || got.MaxMsgSize != 64<<10 || got.Storage != jetstream.MemoryStorage {
		t.Errorf("the operator's settings changed: max_age %s, max_msg_size %d, storage %s", got.MaxAge, got.MaxMsgSize, got.Storage)
	}
	if !slices.Equal(got.Subjects, []string{"other.>", "zoom.>"}) || got.Duplicates != cfg.NATS.DuplicateWindow {
		t.Errorf("subjects %q, duplicate window %s; want other.> and zoom.>, %s", got.Subjects, got.Duplicates, cfg.NATS.DuplicateWindow)
	}
}

func TestNATSOutage(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	// The ingester's own NATS server, stopped and started again on the same
	// port and store.
	port, dir := freePort(t), filepath.Join(t.TempDir(), "js")
	ns := startNATS(t, port, dir)
	cfg := e.configFor("ZOOM_EVENTS", "25s", "a")
	cfg.NATS.URL = ns.ClientURL()
	in, stop := e.run(cfg)
	src := sim.NewExampleSource()
	sendN(t, e, src, 100)
	ns.Shutdown()
	ns.WaitForShutdown()
	// Zoom does not wait for NATS. ZCC_OUTAGE_SECONDS=60 makes this the
	// issue's 60 s outage at 100 events/s; by default 500 events at once.
	during := 500
	if secs, _ := strconv.Atoi(os.Getenv("ZCC_OUTAGE_SECONDS")); secs > 0 {
		during = 0
		start := time.Now()
		for time.Since(start) < time.Duration(secs)*time.Second {
			sendN(t, e, src, 10)
			during += 10
			time.Sleep(100 * time.Millisecond) // pacing the load at 100/s
		}
	} else {
		sendN(t, e, src, during)
	}
	t.Logf("%d events sent while NATS was down", during)
	ns = startNATS(t, port, dir)
	defer ns.Shutdown()
	sendN(t, e, src, 100)
	stop() // drains: returns once every event is acknowledged
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	want := 200 + during
	if read := counter(t, in, "zccingest_events_total"); read != want {
		t.Errorf("the ingester read %d of %d frames", read, want)
	}
	if got := int(streamCount(t, nc, "ZOOM_EVENTS")); got != want {
		t.Errorf("stream holds %d of %d events after a NATS outage\n%s", got, want, e.logs.String())
	}
}

// counter returns the sum of a counter's series.
func counter(t testing.TB, in *ingest.Ingester, name string) int {
	t.Helper()
	mfs, err := in.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return int(sum)
}

// TestDrainDeadline: NATS gone at shutdown. Run gives up at the drain
// deadline, counts what it could not publish, and says so in its error,
// so that the process exits non-zero.
func TestDrainDeadline(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	ns := startNATS(t, freePort(t), t.TempDir())
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan *nats.Msg, 1)
	if _, err := nc.ChanSubscribe("zoom.>", got); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	cfg := e.configFor("ZOOM_EVENTS", "25s", "a")
	cfg.NATS.URL = ns.ClientURL()
	var runErr error
	e.runErr = func(err error) { runErr = err }
	cfg.Ingest.DrainTimeout = 500 * time.Millisecond
	in, stop := e.run(cfg)
	// One event through: the subscription is past build_connection, so
	// the 50 below reach a connection that is open and reading.
	src := sim.NewExampleSource()
	sendN(t, e, src, 1)
	select {
	case <-got:
	case <-timeout(t, 10*time.Second).Done():
		t.Fatal("the first event never reached NATS")
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	sendN(t, e, src, 50)
	stop()
	read, published := counter(t, in, "zccingest_events_total"), counter(t, in, "zccingest_published_total")
	lost := counter(t, in, "zccingest_dropped_total")
	// The first event's acknowledgement may or may not have beaten the
	// shutdown; every event read is either acknowledged or counted lost.
	if read != 51 || published+lost != 51 || lost < 50 {
		t.Errorf("read %d, published %d, counted lost %d; want 51 read, all 50 sent during the outage lost", read, published, lost)
	}
	if want := fmt.Sprintf("%d events not acknowledged by NATS", lost); runErr == nil || !strings.Contains(runErr.Error(), want) {
		t.Errorf("Run = %v, want it to say %q", runErr, want)
	}
}

func TestShutdownUnderLoad(t *testing.T) {
	const rate = 500 // events per second: five times a busy contact center's
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	in, stop := e.run(e.configFor("ZOOM_EVENTS", "25s", "a"))
	ctx, cancel := context.WithCancel(context.Background())
	played := make(chan int)
	go func() {
		n, _ := e.sim.Play(ctx, sim.NewGenerator(7, "acct", 50), rate, 0)
		played <- n
	}()
	// Let load build up, then SIGTERM (the same path: Run's context ends).
	loaded := timeout(t, 30*time.Second)
	for len(e.sim.Sent()) < 1000 {
		if loaded.Err() != nil {
			t.Fatalf("only %d events sent in 30 s", len(e.sim.Sent()))
		}
		e.sim.WaitHeartbeats(timeout(t, 50*time.Millisecond), "a", 1<<30) // wakes on every frame sent
	}
	stop()
	cancel()
	<-played
	delivered := 0
	for _, r := range e.sim.Sent() {
		delivered += r.Delivered
	}
	read := counter(t, in, "zccingest_events_total")
	got := int(streamCount(t, e.nc, "ZOOM_EVENTS"))
	t.Logf("socket-accepted %d, read %d, in the stream %d", delivered, read, got)
	if got != read || read < 1000 {
		t.Errorf("read %d frames, the stream holds %d: every frame read must be in NATS", read, got)
	}
	// Frames Zoom writes after our close frame are discarded by the
	// WebSocket close handshake (README, "Shutdown"): the frames of about one
	// round trip. Allow 50 ms of traffic at this rate.
	if delivered-read > rate/20 {
		t.Errorf("%d socket-accepted events lost in the close\n%s", delivered-read, e.logs.String())
	}
}

// NATS down at start-up is not fatal: events are read and held, and the
// stream is created when NATS answers.
func TestNATSDownAtStart(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	port, dir := freePort(t), filepath.Join(t.TempDir(), "js")
	cfg := e.configFor("ZOOM_EVENTS", "25s", "a")
	cfg.NATS.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	in, stop := e.run(cfg)
	sendN(t, e, sim.NewExampleSource(), 50)
	ns := startNATS(t, port, dir)
	defer ns.Shutdown()
	stop()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := streamCount(t, nc, "ZOOM_EVENTS"); got != 50 || counter(t, in, "zccingest_events_total") != 50 {
		t.Errorf("stream holds %d of 50 events held while NATS was down\n%s", got, e.logs.String())
	}
}
