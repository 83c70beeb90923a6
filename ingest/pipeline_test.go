package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// An account id (or event name) too long for a subject token sends the
// event to the invalid subject with the reason, and the events after it
// flow. Before the cap, the subject closed the NATS connection for good
// and nothing after it was published.
func TestLongSubjectGoesToInvalid(t *testing.T) {
	for _, stream := range []string{"", "ZOOM_EVENTS"} {
		t.Run("stream="+stream, func(t *testing.T) {
			e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
			good := e.collect("zoom.*.>")
			bad := e.collect("zoom.invalid")
			e.run(e.configFor(stream, "25s", "a"))
			long := fmt.Appendf(nil, `{"event":"contact_center.task_created","event_ts":1,"payload":{"account_id":%q,"object":{"task_id":"t1"}}}`, strings.Repeat("A", 5000))
			e.sim.SendEvent(timeout(t, 5*time.Second), long)
			sendN(t, e, sim.NewExampleSource(), 3)
			if got := len(good.wait(t, 3)); got != 3 {
				t.Errorf("%d events after the long one, want 3", got)
			}
			m := bad.wait(t, 1)[0]
			if !strings.Contains(m.Header.Get("Zoom-Error"), "subject token of 5000 bytes") || !strings.Contains(string(m.Data), "task_created") {
				t.Errorf("invalid message: headers %v, %d bytes", m.Header, len(m.Data))
			}
		})
	}
}

// A message NATS refuses for good (here: a subject whose per-subject limit
// is reached, with DiscardNew) goes to the invalid subject with the reason,
// or, when that is refused too, is counted as dropped{reason="rejected"};
// either way the events behind it flow and the drain completes.
func TestRefusedDoesNotStall(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	js, _ := jetstream.New(e.nc)
	if _, err := js.CreateStream(timeout(t, 5*time.Second), jetstream.StreamConfig{
		Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}, Duplicates: 2 * time.Minute, MaxAge: time.Hour,
		MaxMsgsPerSubject: 1, Discard: jetstream.DiscardNew, DiscardNewPerSubject: true,
	}); err != nil {
		t.Fatal(err)
	}
	cfg := e.configFor("ZOOM_EVENTS", "25s", "a")
	cfg.Ingest.DrainTimeout = 5 * time.Second
	in, stop := e.run(cfg)
	// More events than there are example names: some subjects come twice.
	n := len(sim.ExampleNames()) + 5
	sendN(t, e, sim.NewExampleSource(), n)
	stop() // fails the test if the drain does not complete
	published, dropped := counter(t, in, "zccingest_published_total"), counter(t, in, "zccingest_dropped_total")
	if published+dropped != n || dropped == 0 {
		t.Errorf("published %d, dropped %d of %d events", published, dropped, n)
	}
	_, metrics := get(t, in, "/metrics")
	if want := fmt.Sprintf(`zccingest_dropped_total{reason="rejected"} %d`, dropped); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	st, _ := js.Stream(timeout(t, 5*time.Second), "ZOOM_EVENTS")
	m, err := st.GetLastMsgForSubject(timeout(t, 5*time.Second), "zoom.invalid")
	if err != nil {
		t.Fatalf("nothing on the invalid subject: %v", err)
	}
	if !strings.Contains(m.Header.Get("Zoom-Error"), "maximum messages per subject exceeded") || len(m.Data) == 0 || m.Header.Get("Zoom-Event") == "" {
		t.Errorf("invalid message: headers %v, %d bytes", m.Header, len(m.Data))
	}
	if got := int(streamCount(t, e.nc, "ZOOM_EVENTS")); got != published {
		t.Errorf("stream holds %d, published_total %d", got, published)
	}
}

// fakeSink acknowledges the messages ok accepts and fails the others as
// connection trouble; it reports each call on entered and, when gate is
// set, waits for it before answering.
type fakeSink struct {
	ok      func(*events.Message) bool
	entered chan int
	gate    chan struct{}
}

func (s *fakeSink) Publish(ctx context.Context, msgs []*events.Message, errs []error) {
	if s.entered != nil {
		s.entered <- len(msgs)
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			for i := range errs {
				errs[i] = ctx.Err()
			}
			return
		}
	}
	for i, m := range msgs {
		if !s.ok(m) {
			errs[i] = errors.New("nats: disconnected")
		}
	}
}

func (s *fakeSink) Ready() error { return nil }

func exampleFrames(n int) [][]byte {
	src := sim.NewExampleSource()
	var frames [][]byte
	for range n {
		ev, _ := src.Next()
		frames = append(frames, sim.MessageFrame(ev))
	}
	return frames
}

// At the drain deadline exactly what was not acknowledged is lost: the
// acknowledged part of a failing batch is not counted again.
func TestDrainCountsOnlyUnacknowledged(t *testing.T) {
	var mu sync.Mutex
	acked := map[string]bool{}
	sink := &fakeSink{ok: func(m *events.Message) bool {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 4 || acked[m.ID] {
			acked[m.ID] = true
			return true
		}
		return false
	}}
	in, err := ingest.New(ingest.Options{Sink: sink, SubjectPrefix: "zoom", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range exampleFrames(10) {
		if o := in.Handle("ris-a", f, time.Now()); o != ingest.Published {
			t.Fatalf("outcome %v", o)
		}
	}
	in.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = in.Drain(ctx)
	if err == nil || !strings.Contains(err.Error(), "6 events not acknowledged") {
		t.Errorf("Drain = %v, want 6 events lost", err)
	}
	if published, lost := counter(t, in, "zccingest_published_total"), counter(t, in, "zccingest_dropped_total"); published != 4 || lost != 6 {
		t.Errorf("published %d, counted lost %d; want 4 and 6", published, lost)
	}
}

// buffer_depth counts what the sink has not acknowledged yet, the batch in
// flight included.
func TestBufferDepthIncludesInFlight(t *testing.T) {
	sink := &fakeSink{ok: func(*events.Message) bool { return true }, entered: make(chan int, 10), gate: make(chan struct{})}
	in, err := ingest.New(ingest.Options{Sink: sink, SubjectPrefix: "zoom", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range exampleFrames(3) {
		in.Handle("ris-a", f, time.Now())
	}
	in.Start()
	if n := <-sink.entered; n != 3 {
		t.Fatalf("batch of %d, want 3", n)
	}
	_, metrics := get(t, in, "/metrics")
	if !strings.Contains(metrics, "zccingest_buffer_depth 3") {
		t.Errorf("buffer_depth with 3 in flight:\n%s", grep(metrics, "buffer_depth"))
	}
	close(sink.gate)
	if err := in.Drain(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, metrics := get(t, in, "/metrics"); !strings.Contains(metrics, "zccingest_buffer_depth 0") {
		t.Errorf("buffer_depth after the drain:\n%s", grep(metrics, "buffer_depth"))
	}
}

func grep(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// The event label comes from Zoom: an event this version does not model is
// counted under "unknown", so that the series cannot grow without bound.
func TestUnknownEventLabel(t *testing.T) {
	in, err := ingest.New(ingest.Options{Sink: idleSink{}, SubjectPrefix: "zoom", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ev := fmt.Appendf(nil, `{"event":"contact_center.invented_%d","event_ts":1,"payload":{"account_id":"acct","object":{}}}`, i)
		in.Handle("ris-a", sim.MessageFrame(ev), time.Now())
	}
	_, metrics := get(t, in, "/metrics")
	if !strings.Contains(metrics, `zccingest_events_total{event="unknown",subscription="ris-a"} 3`) || strings.Contains(metrics, "invented") {
		t.Errorf("events_total:\n%s", grep(metrics, "zccingest_events_total"))
	}
}

// recorder counts the distinct events (by Nats-Msg-Id) a core subscriber
// gets: core NATS is at least once here, a batch sent again after a
// reconnect may repeat some.
type recorder struct {
	mu  sync.Mutex
	ids map[string]bool
}

func record(t *testing.T, url string) *recorder {
	t.Helper()
	r := &recorder{ids: map[string]bool{}}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	nc.Subscribe("zoom.>", func(m *nats.Msg) {
		r.mu.Lock()
		r.ids[m.Header.Get("Nats-Msg-Id")] = true
		r.mu.Unlock()
	})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func (r *recorder) add(o *recorder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range o.ids {
		r.ids[id] = true
	}
}

// Core NATS through an outage (the network to the server cut, then the
// server restarted): events are held and published when it is back, and a
// flush is an acknowledgement only if the connection it went on is the
// one the messages went on. (A flush begun while nats.go was reconnecting
// used to be answered by the new connection, acknowledging what the old
// one lost.)
func TestCoreNATSOutage(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
			port, dir := freePort(t), filepath.Join(t.TempDir(), "js")
			ns := startNATS(t, port, dir)
			proxy := testnats.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
			got := record(t, ns.ClientURL())
			cfg := e.configFor("", "25s", "a")
			cfg.NATS.URL = proxy.URL()
			in, stop := e.run(cfg)
			src := sim.NewExampleSource()
			want := 0
			steady := func(n int) {
				for range n / 10 {
					want += sendN(t, e, src, 10)
					time.Sleep(2 * time.Millisecond) // pacing the load
				}
			}
			steady(100)
			proxy.Cut()
			steady(200)
			if restart {
				// What the server acknowledged must have reached the
				// recorder before the server goes.
				waitFor(t, func() bool { return got.count() >= counter(t, in, "zccingest_published_total") })
				ns.Shutdown()
				ns.WaitForShutdown()
				steady(100)
				ns = startNATS(t, port, dir)
				again := record(t, ns.ClientURL()) // before the ingester can reconnect
				again.add(got)
				got = again
			}
			proxy.Restore()
			steady(100)
			stop() // drains: returns once every event is acknowledged
			if read := counter(t, in, "zccingest_events_total"); read != want {
				t.Errorf("the ingester read %d of %d frames", read, want)
			}
			ctx := timeout(t, 10*time.Second)
			for got.count() < want && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond) // delivery to the recorder is asynchronous
			}
			if got.count() != want {
				t.Errorf("the subscriber got %d of %d events through a core NATS outage\n%s", got.count(), want, e.logs.String())
			}
		})
	}
}

// waitFor polls cond, which reads state the test cannot wait on otherwise,
// until it holds; it fails the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx := timeout(t, 10*time.Second)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not reached in 10 s")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
