package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/test/sim"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// startSim serves a simulator on loopback for the test.
func startSim(t *testing.T, opts sim.Options) *sim.Server {
	t.Helper()
	s := sim.New(opts)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	if code != 0 || !strings.Contains(out, "zccingest ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestUsage(t *testing.T) {
	if code, _, errs := runCmd(t); code != exitConfig || !strings.Contains(errs, "usage: zccingest") {
		t.Errorf("no args: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "frobnicate"); code != exitConfig || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, errs)
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, key string }{
		{"zoom: {client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\n", "zoom.account_id"},
		{"zoom: {account_id: a, client_id: c, client_secret: s, heartbeat_interval: 2m}\nsubscriptions: [{name: a, id: x}]\n", "zoom.heartbeat_interval"},
		{"zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\nnats: {bogus: 1}\n", "nats.bogus: unknown key"},
	} {
		path := filepath.Join(dir, "c.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		for _, cmd := range []string{"run", "check"} {
			code, _, errs := runCmd(t, cmd, "--config", path)
			if code != exitConfig || !strings.Contains(errs, tc.key) {
				t.Errorf("%s with a bad %s: exit %d, %q", cmd, tc.key, code, errs)
			}
		}
	}
	// A store_dir that cannot be made (here: below a file, which stops
	// root too) is named at once, not after the embedded server's timeout.
	blocker := filepath.Join(dir, "a-file")
	os.WriteFile(blocker, nil, 0o600)
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, fmt.Appendf(nil, "zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\nnats: {embedded: {store_dir: %q}}\n", filepath.Join(blocker, "nats")), 0o600)
	for _, cmd := range []string{"run", "check"} {
		code, out, errs := runCmd(t, cmd, "--config", path)
		if code == exitOK || !strings.Contains(out+errs, "nats.embedded.store_dir") || cmd == "check" && !strings.Contains(out, "wal.dir") {
			t.Errorf("%s with an unwritable store_dir: exit %d, %q", cmd, code, out+errs)
		}
		if cmd == "run" && code != exitConfig {
			t.Errorf("run with an unwritable store_dir: exit %d, want %d", code, exitConfig)
		}
	}
	// An archive-only file is no file for run.
	os.WriteFile(path, []byte("zoom: {oauth_app: {client_id: c, client_secret: s, refresh_token_file: /tmp/rt}}\narchive: {account_id: a}\n"), 0o600)
	if code, _, errs := runCmd(t, "run", "--config", path); code != exitConfig || !strings.Contains(errs, "subscriptions: run needs at least one") {
		t.Errorf("run with an archive-only file: exit %d, %q", code, errs)
	}
	if code, _, _ := runCmd(t, "run"); code != exitConfig {
		t.Errorf("run without --config: exit %d", code)
	}
}

func TestCheckAgainstSimulator(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"a", "b"}})
	o := s.Options()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	write := func(secret, sub string) {
		os.WriteFile(path, fmt.Appendf(nil, "zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}\nsubscriptions: [{name: ris-a, id: a}, {name: ris-b, id: %s}]\nnats: {embedded: {store_dir: %q}}\n",
			o.AccountID, o.ClientID, secret, s.TokenURL(), s.WebSocketURL(), sub, filepath.Join(dir, "js")), 0o600)
	}
	write(o.ClientSecret, "b")
	code, out, _ := runCmd(t, "check", "--config", path)
	if code != exitOK || !strings.Contains(out, "subscription ris-b: ok") || !strings.Contains(out, "all good") ||
		!strings.Contains(out, "scopes: not granted for recordings (contact_center.recording_*) (only needed if you subscribe to them)") ||
		!strings.Contains(out, "scopes: not granted for REST E1 (GET /contact_center/engagements), used by gap reconciliation") {
		t.Errorf("check: exit %d\n%s", code, out)
	}
	write(o.ClientSecret, "nosuch")
	code, out, _ = runCmd(t, "check", "--config", path)
	if code != exitFail || !strings.Contains(out, `subscription ris-b: FAIL: build_connection failed: "subscription not found"`) {
		t.Errorf("check, unknown subscription: exit %d\n%s", code, out)
	}
	write("wrong-secret-value", "b")
	code, out, _ = runCmd(t, "check", "--config", path)
	if code != exitFail || !strings.Contains(out, "Invalid client_id or client_secret") || strings.Contains(out, "wrong-secret-value") {
		t.Errorf("check, bad secret: exit %d\n%s", code, out)
	}
}

func TestSimCommand(t *testing.T) {
	code, _, errs := runCmd(t, "sim", "-h")
	if code != exitOK {
		t.Errorf("sim -h: exit %d", code)
	}
	for _, flag := range []string{"-listen", "-subscriptions", "-source", "-replay", "-speed", "-rate", "-events", "-token-lifetime",
		"-close-on-token-expiry", "-heartbeat-timeout", "-kick-second-connection", "-close-code", "-malformed-every", "-token-failure", "-token-delay",
		"-build-delay", "-fail-builds"} {
		if !strings.Contains(errs, flag) {
			t.Errorf("sim -h does not document %s", flag)
		}
	}
	// With no flags but a free port: it prints what a client needs, and
	// stops on interrupt.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sim", "-listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close() // a sim that fails to start ends the scan below
	}()
	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "subscriptions:") {
		banner.WriteString(sc.Text() + "\n")
	}
	go io.Copy(io.Discard, pr)
	for _, want := range []string{"token_url:     http://127.0.0.1:", "websocket_url: ws://127.0.0.1:", "client_id:     sim-client-id", "client_secret: sim-client-secret"} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, banner.String())
		}
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("sim exited %d", code)
	}
}

// connectRole connects to an embedded server on port as role, with the
// seed from credsDir, once the server has made it and answers.
func connectRole(t *testing.T, credsDir string, port int, role string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	for {
		if auth, err := natsauth.ClientOption(natsauth.SeedFile(credsDir, role)); err == nil {
			nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port), append(opts, auth)...)
			if err == nil {
				t.Cleanup(nc.Close)
				return nc
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s connection to the embedded server on port %d", role, port)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
