package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/test/sim"
)

// The embedded server of a default config lets nobody in without a role:
// an anonymous client is refused, the consumer role reads and cannot forge
// an event or delete the stream, tail and replay find their seeds through
// --config, and replay given the service's config publishes through the
// running server instead of opening its store a second time (which the
// store's lock refuses anyway).
func TestEmbeddedServerAuth(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"s1"}})
	o := s.Options()
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "run.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}
subscriptions: [{name: ris-a, id: s1}]
nats: {embedded: {listen: "127.0.0.1:%d", store_dir: %q}}
http: {listen: "off"}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), port, filepath.Join(dir, "nats")), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs lockedBuf
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, io.Discard, &logs) }()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("run exited %d:\n%s", code, logs.String())
		}
	}()
	if err := s.WaitBuilds(testCtx(t, 10*time.Second), "s1", 1); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "credentials")
	for _, r := range natsauth.Roles {
		if st, err := os.Stat(natsauth.SeedFile(creds, r)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s seed: %v", r, err)
		}
	}

	if _, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port)); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("anonymous client: %v, want refused", err)
	}

	// tail, as the consumer role through --config.
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	tctx, tcancel := context.WithCancel(context.Background())
	tdone := make(chan int, 1)
	go func() {
		tdone <- run(tctx, []string{"tail", "--config", cfg}, outW, errW)
		outW.Close()
		errW.Close()
	}()
	defer func() { tcancel(); <-tdone }()
	if line, _ := bufio.NewReader(errR).ReadString('\n'); !strings.HasPrefix(line, "tailing zoom.>") {
		t.Fatalf("tail: %q", line)
	}
	go io.Copy(io.Discard, errR)
	ev, _ := sim.NewGenerator(5, o.AccountID, 2).Next()
	s.SendEvent(testCtx(t, 5*time.Second), ev)
	// The event's line, after any of coverage's system messages.
	lines := bufio.NewReader(outR)
	for {
		line, err := lines.ReadString('\n')
		if err != nil || !strings.Contains(line, " SYSTEM ") && !strings.Contains(line, "ris-a") {
			t.Fatalf("tail printed %q, %v", line, err)
		}
		if strings.Contains(line, "ris-a") {
			break
		}
	}
	go io.Copy(io.Discard, outR)

	// The consumer role cannot forge or delete.
	errs := make(chan error, 4)
	cons := connectRole(t, creds, port, natsauth.Consumer, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	cons.Publish("zoom."+o.AccountID+".cc.engagement.user_answered", []byte(`{"forged":true}`))
	cons.Flush()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("forged event: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a forged event drew no permissions violation")
	}
	cjs, _ := jetstream.New(cons)
	dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
	defer dcancel()
	if err := cjs.DeleteStream(dctx, "ZOOM_EVENTS"); err == nil {
		t.Error("the consumer role deleted the stream")
	}

	// The consumer role claims an RTMS stream in the bucket run made: one
	// adapter wins, and no other bucket takes its writes.
	claims, err := cjs.KeyValue(testCtx(t, 5*time.Second), events.RTMSClaimBucket)
	if err != nil {
		t.Fatalf("claim bucket: %v", err)
	}
	if st, _ := claims.Status(testCtx(t, 5*time.Second)); st == nil || st.TTL() <= 0 {
		t.Errorf("claim bucket without a TTL: %v", st)
	}
	if _, err := claims.Create(testCtx(t, 5*time.Second), "acct.eng.stream", []byte("adapter-1")); err != nil {
		t.Errorf("first claim: %v", err)
	}
	if _, err := claims.Create(testCtx(t, 5*time.Second), "acct.eng.stream", []byte("adapter-2")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("second claim: %v, want ErrKeyExists", err)
	}

	// A second run on the same store is refused by the lock, naming it.
	var second bytes.Buffer
	if code := run(context.Background(), []string{"run", "--config", cfg}, io.Discard, &second); code == exitOK || !strings.Contains(second.String(), "nats.embedded.store_dir") || !strings.Contains(second.String(), "in use") {
		t.Errorf("second run on the live store: exit %d\n%s", code, second.String())
	}

	// replay --config publishes through the running server (publisher role).
	capFile := filepath.Join(dir, "capture.ndjson")
	os.WriteFile(capFile, []byte(strings.Join(captureLines(t, 9, 5), "\n")+"\n"), 0o640)
	st, err := cjs.Stream(testCtx(t, 5*time.Second), "ZOOM_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := st.Info(testCtx(t, 5*time.Second))
	var rout, rerr bytes.Buffer
	if code := run(context.Background(), []string{"replay", "--config", cfg, capFile}, &rout, &rerr); code != exitOK {
		t.Fatalf("replay --config against the running service: exit %d\n%s%s", code, rout.String(), rerr.String())
	}
	after, _ := st.Info(testCtx(t, 5*time.Second))
	if got := after.State.Msgs - before.State.Msgs; got != 5 {
		t.Errorf("replay added %d messages to the live stream, want 5", got)
	}
}
