package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zccingest/zccingest/test/sim"
)

// TestMain lets a test run this package's main() in a child process, with
// the signal handling of the real binary: ZCCINGEST_TEST_MAIN=1 and the
// command line in ZCCINGEST_TEST_ARGS (one argument a line).
func TestMain(m *testing.M) {
	if os.Getenv("ZCCINGEST_TEST_MAIN") == "1" {
		os.Args = append([]string{"zccingest"}, strings.Split(os.Getenv("ZCCINGEST_TEST_ARGS"), "\n")...)
		main()
		return
	}
	os.Exit(m.Run())
}

// SIGTERM and SIGHUP both stop the service cleanly: intake stops, what was
// received is in the stream, and the exit status is 0 (SIGHUP's default
// action would have killed the process with 129 and no drain).
func TestSignalsDrain(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startSim(t, sim.Options{Subscriptions: []string{"s1"}})
			o := s.Options()
			dir := t.TempDir()
			store := filepath.Join(dir, "nats")
			cfg := filepath.Join(dir, "run.yaml")
			os.WriteFile(cfg, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}
subscriptions: [{name: ris-a, id: s1}]
nats: {embedded: {listen: "127.0.0.1:%d", store_dir: %q}}
http: {listen: "off"}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), freePort(t), store), 0o600)

			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "ZCCINGEST_TEST_MAIN=1", "ZCCINGEST_TEST_ARGS=run\n--config\n"+cfg)
			var logs bytes.Buffer
			cmd.Stderr = &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { cmd.Process.Kill() })
			if err := s.WaitBuilds(testCtx(t, 20*time.Second), "s1", 1); err != nil {
				t.Fatalf("no connection: %v", err)
			}
			g := sim.NewGenerator(1, o.AccountID, 3)
			sent := 0
			for range 20 {
				ev, _ := g.Next()
				sent += s.SendEvent(testCtx(t, 5*time.Second), ev)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				var ee *exec.ExitError
				if errors.As(err, &ee) || err != nil {
					t.Fatalf("exit after %s: %v\n%s", sig, err, logs.String())
				}
			case <-testCtx(t, 40*time.Second).Done():
				t.Fatalf("still running 40 s after %s\n%s", sig, logs.String())
			}
			if got := len(streamMessages(t, store)); got != sent {
				t.Errorf("stream holds %d messages after %s; %d were delivered", got, sig, sent)
			}
			if !strings.Contains(logs.String(), `"stopped"`) {
				t.Errorf("no drain logged:\n%s", logs.String())
			}
		})
	}
}
