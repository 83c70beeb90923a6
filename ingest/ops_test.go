package ingest_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/test/sim"
)

func get(t *testing.T, in *ingest.Ingester, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// One subscription that never connects (its id is unknown to Zoom) must not
// stop the other, and /readyz says which one is down.
func TestOneSubscriptionFailing(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	col := e.collect("zoom.>")
	cfg := e.configFor("", "25s", "a", "ghost")
	in, _ := e.runWait(cfg, "a")
	sendN(t, e, sim.NewExampleSource(), 10)
	col.wait(t, 10)
	code, body := get(t, in, "/readyz")
	if code != 503 || !strings.Contains(body, "subscription ris-ghost: not connected") || strings.Contains(body, "ris-a") {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, body := get(t, in, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d %q", code, body)
	}
	_, metrics := get(t, in, "/metrics")
	for _, want := range []string{
		`zccingest_connected{subscription="ris-a"} 1`,
		`zccingest_connected{subscription="ris-ghost"} 0`,
		`zccingest_reconnects_total{reason="build_connection_failed",subscription="ris-ghost"}`,
		`zccingest_events_total{event="contact_center.engagement_consumer_answered",subscription="ris-a"} 1`,
		"zccingest_published_total", "zccingest_publish_latency_seconds_bucket", "zccingest_delivery_lag_seconds_bucket", "zccingest_buffer_depth",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReadyWhenAllConnected(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a", "b"}})
	col := e.collect("zoom.>")
	in, _ := e.run(e.configFor("", "25s", "a", "b"))
	// An event read on each subscription: both have passed build_connection.
	src := sim.NewExampleSource()
	for _, sub := range []string{"a", "b"} {
		ev, _ := src.Next()
		e.sim.SendEvent(timeout(t, 5*time.Second), ev, sub)
	}
	col.wait(t, 2)
	if code, body := get(t, in, "/readyz"); code != 200 {
		t.Errorf("/readyz = %d %q", code, body)
	}
}

// idleSink is a sink that is never asked to publish: the tests that use it
// do not start the pipeline.
type idleSink struct{}

func (idleSink) Publish(context.Context, []*events.Message, []error) { panic("not started") }
func (idleSink) Ready() error                                        { return nil }

// A full buffer drops, counts each drop by the bound it hit, and logs
// them rate-limited: one line at once, not one per event.
func TestBufferFullIsCountedAndLogged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   ingest.Options
		reason string
	}{
		{"events", ingest.Options{BufferEvents: 5}, "buffer_full"},
		{"bytes", ingest.Options{BufferBytes: 5000}, "buffer_bytes"}, // an example event is over 1 KiB
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			opts := tc.opts
			opts.Sink, opts.SubjectPrefix, opts.Logger = idleSink{}, "zoom", zerolog.New(logs)
			in, err := ingest.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			// The publisher is not started: nothing leaves the buffer.
			src := sim.NewExampleSource()
			published, dropped := 0, 0
			for range 40 {
				ev, _ := src.Next()
				switch o := in.Handle("ris-a", sim.MessageFrame(ev), time.Now()); o {
				case ingest.Published:
					published++
				case ingest.Dropped:
					dropped++
				default:
					t.Fatalf("outcome %v", o)
				}
			}
			if published < 1 || published > 5 || dropped != 40-published {
				t.Errorf("%d buffered, %d dropped; want at most 5 buffered, the rest dropped", published, dropped)
			}
			_, metrics := get(t, in, "/metrics")
			if want := fmt.Sprintf(`zccingest_dropped_total{reason=%q} %d`, tc.reason, dropped); !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
			if want := fmt.Sprintf("zccingest_buffer_depth %d", published); !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
			if got := strings.Count(logs.String(), "dropped: buffer full"); got != 1 {
				t.Errorf("%d drop log lines for %d drops within a second, want 1:\n%s", got, dropped, logs.String())
			}
		})
	}
}

func TestCaptureJournal(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	col := e.collect("zoom.>")
	cfg := e.configFor("", "25s", "a")
	cfg.Ingest.CaptureDir = t.TempDir()
	_, stop := e.run(cfg)
	src := sim.NewExampleSource()
	sendN(t, e, src, 20)
	col.wait(t, 20)
	stop()
	files, _ := filepath.Glob(filepath.Join(cfg.Ingest.CaptureDir, "*.ndjson"))
	var frames []string
	for _, name := range files {
		f, _ := os.Open(name)
		r := capture.NewReader(f, name)
		for {
			rec, err := r.Next()
			if err != nil {
				break
			}
			if rec.Subscription != "ris-a" {
				t.Errorf("subscription %q", rec.Subscription)
			}
			frames = append(frames, rec.Frame)
		}
		f.Close()
	}
	sent := e.sim.Sent()
	if len(frames) < 21 { // build_connection and the 20 events
		t.Fatalf("captured %d frames", len(frames))
	}
	if frames[0] != string(sim.Frame("build_connection", true, "success")) {
		t.Errorf("first captured frame %q", frames[0])
	}
	for i, r := range sent {
		if frames[i+1] != string(r.Frame) {
			t.Errorf("captured frame %d differs from what was sent", i)
		}
	}
}
