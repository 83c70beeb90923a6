package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// killRounds is how many times TestKill9 kills the service:
// ZCCINGEST_KILL_ROUNDS for a longer run than CI's.
func killRounds(t *testing.T) int {
	if v := os.Getenv("ZCCINGEST_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ZCCINGEST_KILL_ROUNDS=%q", v)
		}
		return n
	}
	return 1
}

// A child process running 'zccingest run'.
type child struct {
	cmd    *exec.Cmd
	exited chan error
	logs   *lockedBuf
}

func startChild(t *testing.T, cfg string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0]), exited: make(chan error, 1), logs: &lockedBuf{}}
	c.cmd.Env = append(os.Environ(), "ZCCINGEST_TEST_MAIN=1", "ZCCINGEST_TEST_ARGS=run\n--config\n"+cfg)
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	t.Cleanup(func() { c.cmd.Process.Kill() })
	return c
}

var framesRE = regexp.MustCompile(`(?m)^zccingest_frames_total\{[^}]*module="message"[^}]*\} (\d+)$`)

// framesRead scrapes how many message frames the child has read off its
// sockets: each was written to the WAL before it was counted.
func framesRead(t *testing.T, port int) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := framesRE.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
	}
	return n
}

// accepted returns the simulator's record of events written on an open
// socket within [from, to), in order, by Nats-Msg-Id.
func accepted(t *testing.T, s *sim.Server, from, to time.Time) []string {
	t.Helper()
	var ids []string
	for _, r := range s.Sent() {
		if r.Delivered == 0 || r.At.Before(from) || !r.At.Before(to) {
			continue
		}
		f, err := events.ParseFrame(r.Frame)
		if err != nil || f.Module != events.ModuleMessage {
			continue
		}
		ev, err := f.Event()
		if err != nil {
			t.Fatal(err)
		}
		if ev.AccountID == "" { // a flat voice_rtms_* event takes the configured account, as run does
			ev.AccountID = s.Options().AccountID
		}
		ids = append(ids, ev.Key())
	}
	return ids
}

// waitAccepted waits until the simulator has n events accepted since from.
func waitAccepted(t *testing.T, s *sim.Server, from time.Time, n int, logs *lockedBuf) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	for len(accepted(t, s, from, time.Now().Add(time.Hour))) < n {
		if s.WaitHeartbeats(testCtx(t, 20*time.Millisecond), "", 1<<30); ctx.Err() != nil {
			t.Fatalf("fewer than %d events accepted in 30 s\n%s", n, logs.String())
		}
	}
}

// slowLink forwards TCP connections to target with a one-way delay: NATS
// up but far away, so that acknowledgements lag the frames read and a
// kill finds some in flight. It returns its address.
func slowLink(t *testing.T, target string, delay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	type chunk struct {
		at time.Time
		b  []byte
	}
	pipe := func(src, dst net.Conn) {
		ch := make(chan chunk, 4096)
		go func() {
			defer close(ch)
			for {
				b := make([]byte, 32<<10)
				n, err := src.Read(b)
				if n > 0 {
					ch <- chunk{time.Now(), b[:n]}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer src.Close()
			defer dst.Close()
			for c := range ch {
				// The fault injected: latency, not synchronisation.
				time.Sleep(time.Until(c.at.Add(delay)))
				if _, err := dst.Write(c.b); err != nil {
					return
				}
			}
		}()
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close() // NATS down: the client retries
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			pipe(c, up)
			pipe(up, c)
		}
	}()
	return ln.Addr().String()
}

// Kill -9 under load, with the outside NATS up and with it down, then a
// restart: every event whose frame the killed process read is in the
// stream exactly once, and so is every event of the process that stopped
// cleanly. NATS is 25 ms away (slowLink): without the WAL, what was read
// and not yet acknowledged is lost (with NATS down: everything read before
// the kill).
func TestKill9(t *testing.T) {
	for _, up := range []bool{true, false} {
		name := "nats-up"
		if !up {
			name = "nats-down"
		}
		t.Run(name, func(t *testing.T) { kill9(t, up, killRounds(t)) })
	}
}

func kill9(t *testing.T, natsUp bool, rounds int) {
	s := startSim(t, sim.Options{Subscriptions: []string{"s1"}})
	o := s.Options()
	dir := t.TempDir()
	natsPort, httpPort := freePort(t), freePort(t)
	natsStore := filepath.Join(dir, "outside-nats")
	var ns *server.Server
	if natsUp {
		ns = testnats.Start(t, testnats.Options{Port: natsPort, StoreDir: natsStore})
	}
	cfg := filepath.Join(dir, "run.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}
subscriptions: [{name: ris-a, id: s1}]
nats: {url: "nats://%s", embedded: {store_dir: %q}}
wal: {dir: %q}
http: {listen: "127.0.0.1:%d"}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), slowLink(t, fmt.Sprintf("127.0.0.1:%d", natsPort), 25*time.Millisecond), filepath.Join(dir, "unused"), filepath.Join(dir, "wal"), httpPort), 0o600)

	stop := s.Steady(sim.NewGenerator(7, s.Options().AccountID, 20), 500)
	defer stop()
	required := map[string]bool{}
	optional := map[string]bool{} // accepted by a killed process's socket, maybe not read
	readBeforeKill := 0
	for round := range rounds {
		from := time.Now()
		c := startChild(t, cfg)
		if err := s.WaitBuilds(testCtx(t, 20*time.Second), "s1", round+1); err != nil {
			t.Fatalf("round %d: no connection: %v\n%s", round, err, c.logs.String())
		}
		waitAccepted(t, s, from, 300, c.logs)
		read := framesRead(t, httpPort) // before the kill: these were read
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-c.exited
		// Until the simulator sees the socket closed, it may yet accept a
		// frame for the dead process: that one was never read.
		if err := s.WaitDisconnected(testCtx(t, 10*time.Second), "s1"); err != nil {
			t.Fatal(err)
		}
		ids := accepted(t, s, from, time.Now())
		if read > len(ids) {
			t.Fatalf("round %d: %d frames read, only %d accepted", round, read, len(ids))
		}
		for i, id := range ids {
			if i < read {
				required[id] = true
			} else {
				optional[id] = true
			}
		}
		readBeforeKill += read
	}
	if !natsUp {
		ns = testnats.Start(t, testnats.Options{Port: natsPort, StoreDir: natsStore})
	}
	from := time.Now()
	last := startChild(t, cfg)
	if err := s.WaitBuilds(testCtx(t, 20*time.Second), "s1", rounds+1); err != nil {
		t.Fatalf("no connection after the restart: %v\n%s", err, last.logs.String())
	}
	waitAccepted(t, s, from, 200, last.logs)
	stop()
	if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-last.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, last.logs.String())
		}
	case <-testCtx(t, 60*time.Second).Done():
		t.Fatalf("still running 60 s after SIGTERM\n%s", last.logs.String())
	}
	after := accepted(t, s, from, time.Now())
	for _, id := range after {
		required[id] = true
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	got := map[string]int{}
	for _, m := range streamMessages(t, natsStore) {
		got[m.Header.Get(events.HeaderMsgID)]++
	}
	missing, dup, extra := 0, 0, 0
	for id := range required {
		if got[id] == 0 {
			missing++
		}
	}
	for id, n := range got {
		if n > 1 {
			dup++
		}
		if !required[id] && !optional[id] {
			extra++
		}
	}
	recovered := "0"
	if m := regexp.MustCompile(`"events":(\d+)[^\n]*left unacknowledged in the write-ahead log`).FindStringSubmatch(last.logs.String()); m != nil {
		recovered = m[1]
	}
	t.Logf("%d kill(s); %d events read before the kills (+%d accepted, maybe unread), %d after the last restart; stream holds %d; %d missing, %d duplicated, %d foreign; the last start republished %s from the WAL",
		rounds, readBeforeKill, len(optional), len(after), len(got), missing, dup, extra, recovered)
	if missing+dup+extra > 0 {
		t.Errorf("%d events read missing from the stream, %d more than once, %d never accepted\n%s", missing, dup, extra, last.logs.String())
	}
}
