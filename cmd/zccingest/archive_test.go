package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/test/sim"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// 'zccingest archive' from an archive-only file (an OAuth app, no
// subscriptions): it stores what is listed, and a
// recording.archive_files_completed event published by 'run' makes it poll
// at once, long before its interval.
func TestArchiveCommand(t *testing.T) {
	s := startSim(t, sim.Options{RefreshToken: "sim-refresh-0", Scopes: "recording:read:admin"})
	now := time.Now().UTC()
	s.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "mA==", ID: "f1", Size: 3000, CompleteTime: now.Add(-time.Hour)})
	dir := t.TempDir()
	rt := filepath.Join(dir, "rt")
	if err := os.WriteFile(rt, []byte("sim-refresh-0"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	o := s.Options()
	cfg := filepath.Join(dir, "archive.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `
zoom:
  oauth_app: {client_id: %s, client_secret: %s, refresh_token_file: %s}
  token_url: %s
archive:
  account_id: %s
  api_url: %s
  poll_interval: 1h
  backfill: 24h
nats:
  embedded: {listen: "127.0.0.1:%d", store_dir: %s}
http: {listen: "off"}
`, o.ClientID, o.ClientSecret, rt, s.TokenURL(), o.AccountID, s.ArchiveAPIURL(), port, filepath.Join(dir, "nats")), 0o600)

	ctx, cancel := context.WithCancel(testCtx(t, 30*time.Second))
	defer cancel()
	var stderr lockedBuf
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, []string{"archive", "--config", cfg}, &bytes.Buffer{}, &stderr) }()

	var nc *nats.Conn
	for nc == nil {
		c, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), nats.RetryOnFailedConnect(false))
		if err == nil {
			nc = c
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("archive exited %d: %s", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	notices := make(chan *nats.Msg, 10)
	sub, _ := nc.ChanSubscribe("zoom."+o.AccountID+".archive.file", notices)
	defer sub.Unsubscribe()
	waitObject(t, ctx, js, o.AccountID+"/f1.mp4")

	// A file that appears later is fetched on the event, not the hour.
	s.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "mB==", ID: "f2", Size: 5000, CompleteTime: time.Now().UTC()})
	ev := nats.NewMsg("zoom." + o.AccountID + ".unknown.recording.archive_files_completed")
	ev.Header.Set("Zoom-Event", "recording.archive_files_completed")
	ev.Data = []byte(`{"event":"recording.archive_files_completed","object":{"uuid":"mB==","archive_files":[]}}`)
	if err := nc.PublishMsg(ev); err != nil {
		t.Fatal(err)
	}
	waitObject(t, ctx, js, o.AccountID+"/f2.mp4")
	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	for _, bad := range []string{"sim-access-", "sim-refresh-", o.ClientSecret} {
		if strings.Contains(stderr.String(), bad) {
			t.Errorf("logs hold a secret (%q)", bad)
		}
	}
}

// waitObject waits, on the bucket's watch, for an object.
func waitObject(t *testing.T, ctx context.Context, js jetstream.JetStream, name string) {
	t.Helper()
	var obs jetstream.ObjectStore
	for obs == nil {
		o, err := js.ObjectStore(ctx, "ZOOM_ARCHIVE")
		if err == nil {
			obs = o
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no bucket: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	w, err := obs.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for {
		select {
		case info := <-w.Updates():
			if info != nil && info.Name == name && !info.Deleted {
				return
			}
		case <-ctx.Done():
			t.Fatalf("object %s never stored", name)
		}
	}
}

func TestArchiveCommandNeedsSection(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\n"), 0o600)
	code, _, errOut := runCmd(t, "archive", "--config", cfg)
	if code != exitConfig || !strings.Contains(errOut, "archive:") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
