package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// writeCapture journals n generated events on one subscription and
// returns the files.
func writeCapture(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	w, err := capture.NewWriter(capture.Options{Dir: dir, MaxFileSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	gen := sim.NewGenerator(1, "acct", 200)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range n {
		ev, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(at.Add(time.Duration(i)*time.Millisecond), "ris-a", sim.MessageFrame(ev))
		if err := w.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	return files
}

// Replay has no live socket to protect: with a buffer far smaller than the
// capture it waits for NATS instead of dropping, and publishes everything.
// (It used to drop some 1,500 of 20,000 and exit 0.)
func TestReplayBackpressure(t *testing.T) {
	const frames = 20_000
	files := writeCapture(t, frames)
	ns := testnats.Start(t, testnats.Options{})
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, fmt.Appendf(nil, "zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: ris-a, id: a}]\nnats: {url: %q, buffer_events: 1000}\nlog: {level: warn}\n", ns.ClientURL()), 0o600)
	code, out, errOut := runCmd(t, append([]string{"replay", "--config", path}, files...)...)
	if code != exitOK {
		t.Fatalf("replay exited %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("frames     %d ", frames)) || !strings.Contains(out, "dropped    0") {
		t.Errorf("summary:\n%s", out)
	}
	dups := 0
	fmt.Sscanf(out[strings.Index(out, "duplicates "):], "duplicates %d", &dups)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(testnats.Timeout(t, 5*time.Second), "ZOOM_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != uint64(frames-dups) {
		t.Errorf("stream holds %d messages for %d frames (%d duplicates)", got, frames, dups)
	}
}

// With NATS gone, replay exits 1 and says how much was not published.
func TestReplayNATSGone(t *testing.T) {
	files := writeCapture(t, 50)
	code, _, errOut := runCmd(t, append([]string{"replay", "--nats", fmt.Sprintf("nats://127.0.0.1:%d", testnats.FreePort(t))}, files...)...)
	if code != exitFail || !strings.Contains(errOut, "none of 50 frames published") {
		t.Errorf("exit %d, stderr %q; want 1 naming the 50 frames", code, errOut)
	}
}

// Anything dropped at all makes replay exit 1 with the count: here a stream
// that refuses all but 10 messages (DiscardNew), the invalid subject too.
func TestReplayExitsOneOnDrops(t *testing.T) {
	files := writeCapture(t, 30)
	ns := testnats.Start(t, testnats.Options{})
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(testnats.Timeout(t, 5*time.Second), jetstream.StreamConfig{
		Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}, Duplicates: 2 * time.Minute, MaxAge: time.Hour, MaxMsgs: 10, Discard: jetstream.DiscardNew,
	}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, append([]string{"replay", "--nats", ns.ClientURL()}, files...)...)
	if code != exitFail || !strings.Contains(errOut, "20 events dropped") || !strings.Contains(out, "dropped    20") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// NATS answers but acknowledges nothing (no JetStream for the stream):
// replay does not wait for ever. After --stall-timeout it gives up, exits
// 1 and says how much was lost.
func TestReplayStall(t *testing.T) {
	files := writeCapture(t, 200)
	ns := testnats.Start(t, testnats.Options{NoJetStream: true})
	code, _, errOut := runCmd(t, append([]string{"replay", "--nats", ns.ClientURL(), "--stall-timeout", "500ms"}, files...)...)
	if code != exitFail || !strings.Contains(errOut, "NATS acknowledged nothing for 500ms") || !strings.Contains(errOut, "events not acknowledged by NATS") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}
