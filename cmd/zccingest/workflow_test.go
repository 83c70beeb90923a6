package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

func freePort(t *testing.T) int { return testnats.FreePort(t) }

func testCtx(t *testing.T, d time.Duration) context.Context { return testnats.Timeout(t, d) }

// isSystem reports whether subject is a system subject (coverage's).
func isSystem(subject string) bool {
	return strings.Contains(subject, ".system.") || strings.HasPrefix(subject, "zoom.system.")
}

// streamMessages reads every event message (not the system subjects) of the
// stream served from store.
func streamMessages(t *testing.T, store string) []*nats.Msg {
	t.Helper()
	ns := testnats.Start(t, testnats.Options{StoreDir: store})
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := testCtx(t, 10*time.Second)
	st, err := js.Stream(ctx, config.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	var msgs []*nats.Msg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if isSystem(m.Subject) {
			continue // coverage's system messages: the tests count events
		}
		msgs = append(msgs, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	}
	return msgs
}

// A capture written by run, replayed into a fresh stream, yields the same
// messages: subjects, headers and bodies.
func TestReplayEqualsLive(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"s1", "s2"}})
	dir := t.TempDir()
	liveStore, capDir := filepath.Join(dir, "live"), filepath.Join(dir, "capture")
	o := s.Options()
	cfgPath := filepath.Join(dir, "run.yaml")
	natsPort := freePort(t)
	os.WriteFile(cfgPath, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}
subscriptions: [{name: ris-a, id: s1}, {name: ris-b, id: s2}]
nats: {embedded: {listen: "127.0.0.1:%d", store_dir: %q}}
capture: {dir: %q}
http: {listen: "off"}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), natsPort, liveStore, capDir), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var logs strings.Builder // read only after run returns
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, io.Discard, &logs) }()
	for _, sub := range o.Subscriptions {
		if err := s.WaitBuilds(testCtx(t, 10*time.Second), sub, 1); err != nil {
			t.Fatal(err)
		}
	}
	// A CTI adapter on the embedded server sees when everything is in.
	nc := connectRole(t, filepath.Join(dir, "credentials"), natsPort, natsauth.Consumer, nats.MaxReconnects(-1))
	in := make(chan *nats.Msg, 200)
	if _, err := nc.ChanSubscribe("zoom.>", in); err != nil {
		t.Fatal(err)
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	g := sim.NewGenerator(3, o.AccountID, 5)
	for range 60 {
		ev, _ := g.Next()
		s.SendEvent(testCtx(t, 5*time.Second), ev)
	}
	s.Send(testCtx(t, 5*time.Second), "s1", []byte("{broken")) // and an invalid frame
	for n := 0; n < 61; {
		select {
		case m := <-in:
			if !isSystem(m.Subject) { // coverage's connection changes are there too
				n++
			}
		case <-testCtx(t, 20*time.Second).Done():
			t.Fatal("the live run did not publish 61 messages")
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d", code)
	}
	for _, secret := range []string{"sim-access-", o.ClientSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("run's logs hold a secret (%q)", secret)
		}
	}
	if !strings.Contains(logs.String(), `"state":"connected"`) {
		t.Errorf("run logged no connection:\n%s", logs.String())
	}
	live := streamMessages(t, liveStore) // replay publishes no coverage messages
	if len(live) != 61 {
		t.Fatalf("live stream holds %d messages, want 60 events and 1 invalid", len(live))
	}

	replayStore := filepath.Join(dir, "replay")
	ns := testnats.Start(t, testnats.Options{StoreDir: replayStore})
	files, _ := filepath.Glob(filepath.Join(capDir, "*.ndjson"))
	var out strings.Builder
	code := run(context.Background(), append([]string{"replay", "--nats", ns.ClientURL(), "--account", o.AccountID}, files...), &out, io.Discard)
	ns.Shutdown()
	ns.WaitForShutdown()
	if code != 0 {
		t.Fatalf("replay exited %d", code)
	}
	captured := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		captured += strings.Count(string(b), "\n")
	}
	for _, want := range []string{fmt.Sprintf("frames     %d ", captured), "engagement", "invalid    1", "control    2 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	replayed := streamMessages(t, replayStore)
	if len(replayed) != len(live) {
		t.Fatalf("replay: %d messages, live: %d", len(replayed), len(live))
	}
	for i := range live {
		l, r := live[i], replayed[i]
		if l.Subject != r.Subject || string(l.Data) != string(r.Data) || !reflect.DeepEqual(l.Header, r.Header) {
			t.Errorf("message %d differs:\nlive   %s %v %s\nreplay %s %v %s", i, l.Subject, l.Header, l.Data, r.Subject, r.Header, r.Data)
		}
	}
}

func TestTail(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{StoreDir: t.TempDir()})
	defer ns.Shutdown()
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"tail", "--nats", ns.ClientURL()}, outW, errW)
		outW.Close()
		errW.Close()
	}()
	if line, _ := bufio.NewReader(errR).ReadString('\n'); !strings.HasPrefix(line, "tailing zoom.>") {
		t.Fatalf("stderr: %q", line)
	}
	go io.Copy(io.Discard, errR)

	ev, err := events.ParseEvent(sim.Examples()["contact_center.engagement_user_answered"])
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)
	msg, _ := ev.Message("zoom", "ris-a", at)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, m := range []*events.Message{msg, events.InvalidMessage("zoom", "ris-b", []byte("{x"), "events: frame: bad")} {
		nc.PublishMsg(&nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data})
	}
	lines := make(chan string)
	go func() {
		rd := bufio.NewReader(outR)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- line
		}
	}()
	for _, want := range []string{
		"10:00:00.123 ris-a    contact_center.engagement_user_answered engagement=u154t5-ASlK83fZb1YWqgw user=IGTRVt3gQ2i-WjoUIjeZxw queue=xqJE_cgERLyAJHYYL5LLeg\n",
		" ris-b    INVALID events: frame: bad (2 bytes)\n",
	} {
		select {
		case line := <-lines:
			if !strings.HasSuffix(line, want) {
				t.Errorf("tail printed %q, want it to end %q", line, want)
			}
		case <-testCtx(t, 10*time.Second).Done():
			t.Fatalf("tail printed nothing; want a line ending %q", want)
		}
	}
	go func() {
		for range lines {
		}
	}()
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("tail exited %d on interrupt", code)
	}
}

func TestExampleConfigsValidate(t *testing.T) {
	for k, v := range map[string]string{
		"ZOOM_ACCOUNT_ID": "acct", "ZOOM_CLIENT_ID": "cid", "ZOOM_CLIENT_SECRET": "secret",
		"ZOOM_WEBSOCKET_ENDPOINT_URL": "wss://ws.zoom.us/ws?subscriptionId=ZhPGtK84QbapRWXzEBW7MA",
		"ZCC_NODE":                    "ris-a", "ZCC_SUBSCRIPTION_ID": "ZhPGtK84QbapRWXzEBW7MA", "NATS_URL": "tls://nats-1:4222,tls://nats-2:4222",
		"ZCC_DEMO_SIM_PORT": "9880", "ZCC_DEMO_NATS_PORT": "4222", "ZCC_DEMO_HTTP_PORT": "9464",
	} {
		t.Setenv(k, v)
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "configs", "*.yaml"))
	if len(files) != 3 {
		t.Fatalf("configs: %v", files)
	}
	for _, f := range files {
		if _, err := config.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// make demo starts, shows events, and stops cleanly.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	bin := filepath.Join(t.TempDir(), "zccingest")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(testCtx(t, 2*time.Minute), "make", "-s", "demo")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "DEMO_SECONDS=8", "ZCC_BIN="+bin,
		fmt.Sprintf("ZCC_DEMO_SIM_PORT=%d", freePort(t)), fmt.Sprintf("ZCC_DEMO_NATS_PORT=%d", freePort(t)), fmt.Sprintf("ZCC_DEMO_HTTP_PORT=%d", freePort(t)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make demo: %v\n%s", err, out)
	}
	// tail starts last, so the first events may pass before it subscribes.
	if n := strings.Count(string(out), " contact_center."); n < 5 {
		t.Errorf("demo showed %d events, want a stream of them", n)
	}
	for _, want := range []string{"tailing zoom.>", "demo-", " engagement="} {
		if !strings.Contains(string(out), want) {
			runLog, _ := os.ReadFile(filepath.Join("..", "..", "data", "demo", "run.log"))
			simLog, _ := os.ReadFile(filepath.Join("..", "..", "data", "demo", "sim.log"))
			t.Errorf("demo output lacks %q:\n%s\nrun.log:\n%s\nsim.log:\n%s", want, out, runLog, simLog)
		}
	}
}

// OAuth-app mode end to end: token exchange stores the refresh token, and
// check then runs on refresh tokens, each one rotated and stored.
func TestOAuthAppMode(t *testing.T) {
	s := startSim(t, sim.Options{AuthCode: "the-code"})
	o := s.Options()
	dir := t.TempDir()
	rt := filepath.Join(dir, "state", "refresh-token")
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, fmt.Appendf(nil, "zoom: {oauth_app: {client_id: %s, client_secret: %s, refresh_token_file: %q}, token_url: %q, websocket_url: %q}\nsubscriptions: [{name: ris-a, id: %s}]\nnats: {embedded: {store_dir: %q}}\n",
		o.ClientID, o.ClientSecret, rt, s.TokenURL(), s.WebSocketURL(), o.Subscriptions[0], filepath.Join(dir, "js")), 0o600)

	// The code from the environment: nothing on the command line.
	t.Setenv(codeEnv, "the-code")
	code, out, errs := runCmd(t, "token", "exchange", "--config", path, "--redirect-uri", "https://example.com/cb")
	if code != exitOK || !strings.Contains(out, "refresh token stored in "+rt) || strings.Contains(errs, "warning") {
		t.Fatalf("token exchange: %d %q %q", code, out, errs)
	}
	stored, _ := os.ReadFile(rt)
	if strings.TrimSpace(string(stored)) != s.CurrentRefreshToken() {
		t.Fatalf("stored %q, the simulator expects %q", stored, s.CurrentRefreshToken())
	}
	if code, out, _ := runCmd(t, "check", "--config", path); code != exitOK || !strings.Contains(out, "all good") {
		t.Errorf("check in OAuth-app mode: %d\n%s", code, out)
	}
	again, _ := os.ReadFile(rt)
	if string(again) == string(stored) || strings.TrimSpace(string(again)) != s.CurrentRefreshToken() {
		t.Errorf("the rotated refresh token was not stored")
	}
	// A spent code fails, naming Zoom's reason, without quoting the code.
	code, _, errs = runCmd(t, "token", "exchange", "--config", path, "--code", "the-code", "--redirect-uri", "https://example.com/cb")
	if code != exitFail || !strings.Contains(errs, "Invalid Token!") || strings.Contains(errs, "the-code") || !strings.Contains(errs, "warning: --code shows") {
		t.Errorf("spent code: %d %q", code, errs)
	}
}
