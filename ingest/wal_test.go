package ingest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/wal"
	"github.com/zccingest/zccingest/test/sim"
)

// recordingSink acknowledges what ok accepts, recording its ids in order,
// and fails the rest as connection trouble.
type recordingSink struct {
	ok      func(*events.Message) bool
	mu      sync.Mutex
	ids     []string
	offered []string // every id, once, in the order first offered
	seen    map[string]bool
}

func (s *recordingSink) Publish(_ context.Context, msgs []*events.Message, errs []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, m := range msgs {
		if !s.seen[m.ID] {
			if s.seen == nil {
				s.seen = map[string]bool{}
			}
			s.seen[m.ID] = true
			s.offered = append(s.offered, m.ID)
		}
		if s.ok != nil && !s.ok(m) {
			errs[i] = context.DeadlineExceeded
			continue
		}
		s.ids = append(s.ids, m.ID)
	}
}

func (s *recordingSink) Ready() error { return nil }

func (s *recordingSink) acked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

// What NATS did not acknowledge by the drain deadline stays in the WAL
// (not counted as lost) and the next start publishes exactly that, in
// order, with the same message ids; the start after that has nothing.
func TestWALPublishesWhatTheLastProcessLeft(t *testing.T) {
	dir := t.TempDir()
	frames := exampleFrames(10)
	var ids []string
	n := 0
	first := &recordingSink{ok: func(*events.Message) bool { n++; return n <= 4 }}
	logs := &syncBuffer{}
	in, err := ingest.New(ingest.Options{Sink: first, SubjectPrefix: "zoom", Logger: zerolog.New(logs), WAL: &wal.Options{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if o := in.Handle("ris-a", f, time.Now()); o != ingest.Published {
			t.Fatalf("outcome %v", o)
		}
	}
	in.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := in.Drain(ctx); err == nil || !strings.Contains(err.Error(), "6 events not acknowledged by NATS within the drain deadline stay in the write-ahead log") || strings.Contains(err.Error(), "lost") {
		t.Errorf("Drain = %v; want 6 kept in the WAL, none lost", err)
	}
	if lost := counter(t, in, "zccingest_dropped_total"); lost != 0 {
		t.Errorf("dropped_total %d; want 0", lost)
	}
	if !strings.Contains(logs.String(), "stay in the write-ahead log") {
		t.Errorf("no log of what stays:\n%s", logs)
	}
	ids = first.acked()
	if len(ids) != 4 {
		t.Fatalf("first process acknowledged %d, want 4", len(ids))
	}

	second := &recordingSink{}
	in2, err := ingest.New(ingest.Options{Sink: second, SubjectPrefix: "zoom", Logger: zerolog.Nop(), WAL: &wal.Options{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	in2.Start()
	got, err := in2.Recover(timeout(t, 10*time.Second))
	if err != nil || got != 6 {
		t.Fatalf("Recover = %d, %v; want the 6 not acknowledged", got, err)
	}
	if err := in2.Drain(timeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if all, want := append(ids, second.acked()...), first.offered; len(want) != 10 || !slices.Equal(all, want) {
		t.Fatalf("published across both starts:\n%v\nwant, in order, once each:\n%v", all, want)
	}

	in3, err := ingest.New(ingest.Options{Sink: &recordingSink{}, SubjectPrefix: "zoom", Logger: zerolog.Nop(), WAL: &wal.Options{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	in3.Start()
	if got, err := in3.Recover(timeout(t, 10*time.Second)); got != 0 || err != nil {
		t.Errorf("third start recovered %d, %v; want nothing", got, err)
	}
	in3.Drain(timeout(t, 10*time.Second))
}

// A full WAL loses nothing silently: the event is still buffered, the
// failure counted, and /readyz says the intake is not durable.
func TestWALFullIsDegraded(t *testing.T) {
	in, err := ingest.New(ingest.Options{Sink: idleSink{}, SubjectPrefix: "zoom", Logger: zerolog.Nop(),
		WAL: &wal.Options{Dir: t.TempDir(), MaxBytes: 2 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range exampleFrames(5) {
		if o := in.Handle("ris-a", f, time.Now()); o != ingest.Published {
			t.Fatalf("frame %d: outcome %v", i, o)
		}
	}
	if in.Pending() != 5 {
		t.Errorf("%d buffered of 5", in.Pending())
	}
	code, body := get(t, in, "/readyz")
	if code != 200 || !strings.Contains(body, "degraded: write-ahead log failing") || !strings.Contains(body, "wal.max_bytes") {
		t.Errorf("/readyz %d %q", code, body)
	}
	_, metrics := get(t, in, "/metrics")
	if !strings.Contains(metrics, `zccingest_wal_errors_total{reason="full"}`) || strings.Contains(metrics, `zccingest_wal_errors_total{reason="full"} 0`) {
		t.Errorf("/metrics: %s", grep(metrics, "zccingest_wal_errors_total"))
	}
}

type ackSink struct{}

func (ackSink) Publish(context.Context, []*events.Message, []error) {}
func (ackSink) Ready() error                                        { return nil }

// BenchmarkHandleWAL is the hot path's cost of the WAL: Handle (decode,
// de-duplicate, buffer) of distinct frames, with a sink that acknowledges
// everything at once, without the log and with each fsync policy.
func BenchmarkHandleWAL(b *testing.B) {
	for _, mode := range []string{"off", string(wal.SyncInterval), string(wal.SyncAlways)} {
		b.Run(mode, func(b *testing.B) {
			opts := ingest.Options{Sink: ackSink{}, SubjectPrefix: "zoom", Logger: zerolog.Nop(), BufferEvents: max(b.N, 1000)}
			if mode != "off" {
				opts.WAL = &wal.Options{Dir: b.TempDir(), Sync: wal.SyncPolicy(mode), MaxBytes: 1 << 40}
			}
			in, err := ingest.New(opts)
			if err != nil {
				b.Fatal(err)
			}
			in.Start()
			frames := make([][]byte, b.N)
			for i := range frames {
				frames[i] = sim.MessageFrame(fmt.Appendf(nil, `{"event":"contact_center.engagement_user_answered","event_ts":%d,"payload":{"account_id":"D8cJuqWVQ623CI4Q8yQK0Q","object":{"engagement_id":"eng-%09d","engagement_direction":"inbound","channel":"voice","flow_id":"ZWWC0A840C726C2CE3ACF01041CB8CFD8B9","cc_queue_id":"xqJE_cgERLyAJHYYL5LLeg","user_id":"IGTRVt3gQ2i-WjoUIjeZxw"}}}`, time.Now().UnixMilli(), i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, f := range frames {
				if o := in.Handle("ris-a", f, time.Now()); o != ingest.Published {
					b.Fatalf("outcome %v", o)
				}
			}
			b.StopTimer()
			if err := in.Drain(timeout(b, time.Minute)); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// funcSource is a Source that runs fn in place of sockets.
type funcSource func(ctx context.Context)

func (f funcSource) Run(ctx context.Context) { f(ctx) }
func (funcSource) Connected(string) bool     { return true }

// Run queues what the last process left before the sockets open, so that
// it goes out first; NATS being away does not keep the sockets shut.
func TestRunRecoversBeforeTheSockets(t *testing.T) {
	dir := t.TempDir()
	down := func(*events.Message) bool { return false }
	in, err := ingest.New(ingest.Options{Sink: &recordingSink{ok: down}, SubjectPrefix: "zoom", Logger: zerolog.Nop(),
		WAL: &wal.Options{Dir: dir}, DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	frames := exampleFrames(8)
	in.Run(context.Background(), funcSource(func(context.Context) {
		for _, f := range frames {
			in.Handle("ris-a", f, time.Now())
		}
	}))

	in2, err := ingest.New(ingest.Options{Sink: &recordingSink{ok: down}, SubjectPrefix: "zoom", Logger: zerolog.Nop(),
		WAL: &wal.Options{Dir: dir}, DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	atOpen := -1
	err = in2.Run(context.Background(), funcSource(func(context.Context) { atOpen = in2.Pending() }))
	if atOpen != len(frames) {
		t.Errorf("%d events queued when the sockets opened; want the %d the last process left", atOpen, len(frames))
	}
	if err == nil || !strings.Contains(err.Error(), "8 events not acknowledged") {
		t.Errorf("Run = %v; want the 8 kept again", err)
	}
}
