package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/archive"
	"github.com/zccingest/zccingest/session"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

const acct = "SimAccount0000000000000"

// syncBuf is a log sink the poller's goroutines may write to concurrently.
type syncBuf = testnats.LogBuffer

type harness struct {
	t      testing.TB
	sim    *sim.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	tokens *session.Source
	logs   *syncBuf
	log    zerolog.Logger
}

// newHarness starts the simulator (an OAuth app whose refresh token
// rotates), a JetStream server with the events stream, and a token source.
func newHarness(t testing.TB) *harness {
	t.Helper()
	s := sim.New(sim.Options{RefreshToken: "sim-refresh-0", Scopes: "recording:read:admin"})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	url := os.Getenv("ZCC_ARCHIVE_TEST_NATS") // an outside server, for measuring this process alone
	if url == "" {
		ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server did not start")
		}
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		url = ns.ClientURL()
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 10*time.Second)
	for _, b := range []string{archive.DefaultBucket, archive.DefaultStateBucket} {
		js.DeleteObjectStore(ctx, b) // a fresh start on an outside server
		js.DeleteKeyValue(ctx, b)
	}
	js.DeleteStream(ctx, "ZOOM_EVENTS")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}, Duplicates: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	rt := filepath.Join(t.TempDir(), "refresh-token")
	if err := os.WriteFile(rt, []byte("sim-refresh-0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	log := zerolog.New(logs)
	opts := s.Options()
	tokens := session.NewOAuthApp(session.OAuthApp{
		ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, TokenURL: s.TokenURL(), RefreshTokenFile: rt,
	}, session.Options{Logger: log})
	t.Cleanup(func() { checkNoSecrets(t, logs.String(), opts.ClientSecret) })
	return &harness{t: t, sim: s, nc: nc, js: js, tokens: tokens, logs: logs, log: log}
}

func checkNoSecrets(t testing.TB, logs, secret string) {
	for _, bad := range []string{"sim-access-", "sim-refresh-", secret} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs hold a secret (%q)", bad)
		}
	}
}

func (h *harness) options() archive.Options {
	return archive.Options{
		Tokens: h.tokens, APIURL: h.sim.ArchiveAPIURL(), JetStream: h.js,
		SubjectPrefix: "zoom", AccountID: acct, PollInterval: time.Hour, Backfill: 10 * 24 * time.Hour,
		PageSize: 20, VerifyFingerprint: true, RetryWait: 5 * time.Millisecond, Logger: h.log, Registerer: prometheus.NewRegistry(),
	}
}

func (h *harness) poller(opts archive.Options) *archive.Poller {
	h.t.Helper()
	p, err := archive.New(timeout(h.t, 10*time.Second), opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// doneCount counts the stored files' records in the state bucket.
func (h *harness) doneKeys(ctx context.Context) map[string]bool {
	h.t.Helper()
	kv, err := h.js.KeyValue(ctx, archive.DefaultStateBucket)
	if err != nil {
		h.t.Fatal(err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]bool{}
	for k := range lister.Keys() {
		if id, ok := strings.CutPrefix(k, acct+".file."); ok {
			out[id] = true
		}
	}
	return out
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
