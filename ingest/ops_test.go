package ingest_test

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

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

func TestBufferFullIsCountedAndLogged(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	cfg := e.configFor("", "25s", "a")
	cfg.NATS.BufferEvents = 5
	in, err := ingest.New(timeout(t, 5*time.Second), cfg, e.nc, nil, zerolog.New(e.logs))
	if err != nil {
		t.Fatal(err)
	}
	// The publisher is not started: nothing leaves the buffer.
	src := sim.NewExampleSource()
	var outs []ingest.Outcome
	for range 8 {
		ev, _ := src.Next()
		outs = append(outs, in.Handle("ris-a", sim.MessageFrame(ev), time.Now()))
	}
	for i, o := range outs {
		want := ingest.Published
		if i >= 5 {
			want = ingest.Dropped
		}
		if o != want {
			t.Errorf("frame %d: outcome %v, want %v", i, o, want)
		}
	}
	if n := counter(t, in, "zccingest_dropped_total"); n != 3 {
		t.Errorf("dropped_total = %d, want 3", n)
	}
	if got := strings.Count(e.logs.String(), "event dropped: buffer full"); got != 3 {
		t.Errorf("%d drop log lines, want 3", got)
	}
}

func TestCaptureJournal(t *testing.T) {
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}})
	col := e.collect("zoom.>")
	cfg := e.configFor("", "25s", "a")
	cfg.Capture.Dir = t.TempDir()
	_, stop := e.run(cfg)
	src := sim.NewExampleSource()
	sendN(t, e, src, 20)
	col.wait(t, 20)
	stop()
	files, _ := filepath.Glob(filepath.Join(cfg.Capture.Dir, "*.ndjson"))
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
