package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// lockedBuf collects a command's output written from any goroutine.
type lockedBuf = testnats.LogBuffer

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

	// A CTI adapter reads (the consumer role); run publishes the event
	// (the publisher role).
	nc := connectRole(t, filepath.Join(dir, "credentials"), port, natsauth.Consumer)
	pub := connectRole(t, filepath.Join(dir, "credentials"), port, natsauth.Publisher)
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
	if err := pub.PublishMsg(ev); err != nil {
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

// check's archive part: the scope and one list request.
func TestCheckArchive(t *testing.T) {
	for _, tc := range []struct {
		scopes string
		want   []string
		n      int
	}{
		{"recording:read:admin", []string{"archive list: ok"}, 0},
		{"archiving:read:list_archived_files:admin", []string{"archive list: ok"}, 0},
		{"user:read:admin", []string{"archive scopes: MISSING: one of recording:read:admin"}, 1},
	} {
		s := startSim(t, sim.Options{Scopes: tc.scopes})
		o := s.Options()
		cfg, err := config.Parse(fmt.Appendf(nil, `
zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q}
archive: {api_url: %q}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.ArchiveAPIURL()))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n := checkArchive(testCtx(t, 10*time.Second), cfg, &out)
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) || n != tc.n {
				t.Errorf("scopes %q: %d problems, output %q; want %d and %q", tc.scopes, n, out.String(), tc.n, w)
			}
		}
	}
}

// token exchange --archive stores the archiving app's refresh token where
// archive.oauth_app says, beside a Server-to-Server zoom section.
func TestTokenExchangeArchive(t *testing.T) {
	s := startSim(t, sim.Options{AuthCode: "the-code", Scopes: "recording:read:admin"})
	o := s.Options()
	dir := t.TempDir()
	rt := filepath.Join(dir, "archive-rt")
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `
zoom: {account_id: a, client_id: other, client_secret: other-secret, token_url: %q}
subscriptions: [{name: a, id: x}]
archive:
  oauth_app: {client_id: %s, client_secret: %s, refresh_token_file: %s}
`, s.TokenURL(), o.ClientID, o.ClientSecret, rt), 0o600)
	code, out, errOut := runCmd(t, "token", "exchange", "--config", cfg, "--archive", "--code", "the-code", "--redirect-uri", "https://example.com/cb")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(rt)
	if err != nil || !strings.HasPrefix(string(data), "sim-refresh-") || !strings.Contains(out, rt) {
		t.Errorf("refresh token file %q (%v), output %q", data, err, out)
	}
	// Without --archive the zoom section is used, which is no OAuth app.
	if code, _, errOut := runCmd(t, "token", "exchange", "--config", cfg, "--code", "x", "--redirect-uri", "https://example.com/cb"); code != exitConfig || !strings.Contains(errOut, "zoom.oauth_app") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// check on an archive-only file: the archiving app's scope is all it asks.
func TestCheckArchiveOnlyFile(t *testing.T) {
	s := startSim(t, sim.Options{Scopes: "recording:read:admin"})
	o := s.Options()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "a.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `
zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q}
archive: {api_url: %q}
nats: {embedded: {listen: "127.0.0.1:%d", store_dir: %s}}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.ArchiveAPIURL(), freePort(t), filepath.Join(dir, "nats")), 0o600)
	code, out, errOut := runCmd(t, "check", "--config", cfg)
	if code != 0 || strings.Contains(out, "MISSING") || !strings.Contains(out, "archive list: ok") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}
