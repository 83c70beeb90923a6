package ingest_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/session"
	"github.com/zccingest/zccingest/test/sim"
)

// The recovery tests send events at a steady rate *through* each fault and
// judge from the simulator's own record: every event it wrote on an open
// socket must be in NATS exactly once, and the time the subscription had
// no live connection (the simulator's gap record: socket lost, or gone
// half-open, until the next successful build_connection) must stay under
// the bound stated per fault.

// faultRate is the steady event rate, per subscription, of the fault tests.
const faultRate = 200

// cachedGap bounds the median gap of a reconnect that finds its token in
// the cache (or fetches one from the simulator's fast endpoint): loopback,
// -race, two shared cores.
const cachedGap = 50 * time.Millisecond

// gapSlack is what a single gap may exceed its bound by: under -race, with
// the other packages' tests in parallel on two cores, a goroutine is
// sometimes not scheduled for tens of milliseconds. It is far below what a
// reconnect that waited for the token endpoint (seconds), a backoff step or
// the build_connection timeout (5 s) would cost, which is what the bound
// is there to catch.
const gapSlack = 200 * time.Millisecond

// rounds is how many times each fault is injected; ZCC_FAULT_ROUNDS raises
// it for the gap figures (p50/p99).
func rounds() int {
	if n, _ := strconv.Atoi(os.Getenv("ZCC_FAULT_ROUNDS")); n > 0 {
		return n
	}
	return 3
}

// steady sends a fresh example event to every subscription rate times a
// second until stop is called.
func (e *env) steady(rate int) (stop func()) { return e.sim.Steady(sim.NewExampleSource(), rate) }

// waitSent waits until the simulator has recorded n more frames.
func (e *env) waitSent(t *testing.T, more int) {
	t.Helper()
	want := len(e.sim.Sent()) + more
	deadline := timeout(t, 30*time.Second)
	for len(e.sim.Sent()) < want {
		if e.sim.WaitHeartbeats(timeout(t, 100*time.Millisecond), "", 1<<30); deadline.Err() != nil {
			t.Fatalf("the simulator sent %d of %d frames in 30 s", len(e.sim.Sent()), want)
		}
	}
}

// until waits, up to 20 s, for cond.
func (e *env) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := timeout(t, 20*time.Second)
	for !cond() {
		if e.sim.WaitHeartbeats(timeout(t, 20*time.Millisecond), "", 1<<30); deadline.Err() != nil {
			t.Fatalf("no %s within 20 s\n%s", what, e.logs.String())
		}
	}
}

// exactlyOnce checks, once the ingester has drained, that every event the
// simulator wrote on an open socket (except those the foreign keys say
// another client read) is in NATS once, and nothing else is.
func exactlyOnce(t *testing.T, e *env, col *collector, foreign map[string]bool) {
	t.Helper()
	col.sync(t)
	want, lost := map[string]bool{}, 0
	for _, r := range e.sim.Sent() {
		f, err := events.ParseFrame(r.Frame)
		if err != nil || f.Module != events.ModuleMessage {
			continue
		}
		ev, err := f.Event()
		if err != nil {
			t.Fatal(err)
		}
		switch key := ev.Key(); {
		case foreign[key]:
		case r.Delivered > 0:
			want[key] = true
		default:
			lost++ // written on no socket: inside a gap
		}
	}
	col.mu.Lock()
	got := map[string]int{}
	for _, m := range col.msgs {
		got[m.Header.Get("Nats-Msg-Id")]++
	}
	col.mu.Unlock()
	missing, dup, extra := 0, 0, 0
	for k := range want {
		switch got[k] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	for k := range got {
		if !want[k] && !foreign[k] {
			extra++
		}
	}
	t.Logf("%d events written on an open socket, %d sent inside gaps", len(want), lost)
	if missing+dup+extra > 0 || len(want) == 0 {
		t.Errorf("of %d events written on an open socket: %d missing in NATS, %d published more than once; %d published that no socket accepted\n%s",
			len(want), missing, dup, extra, e.logs.String())
	}
}

// gapsOf returns the subscription's gaps after its first connection.
func gapsOf(t *testing.T, e *env, sub string) []time.Duration {
	t.Helper()
	var ds []time.Duration
	first := true
	for _, g := range e.sim.Gaps() {
		if g.Subscription != sub {
			continue
		}
		if first {
			first = false
			continue
		}
		if g.To.IsZero() {
			t.Errorf("subscription %s still has no live connection", sub)
			continue
		}
		ds = append(ds, g.To.Sub(g.From))
	}
	return ds
}

// checkGaps requires at most n gaps, their median under bound and each
// under bound+gapSlack, and logs their p50/p99.
func checkGaps(t *testing.T, name string, gaps []time.Duration, n int, bound time.Duration) {
	t.Helper()
	// A reconnect can beat the simulator's own noticing of the close:
	// then there is no gap at all.
	if len(gaps) > n {
		t.Errorf("%d gaps, want at most %d: %v", len(gaps), n, gaps)
	}
	logGaps(t, name, gaps)
	if len(gaps) == 0 {
		return
	}
	sorted := slices.Sorted(slices.Values(gaps))
	if med := sorted[(len(sorted)-1)/2]; med >= bound {
		t.Errorf("median gap %s, want under %s: %v", med, bound, gaps)
	}
	if worst := sorted[len(sorted)-1]; worst >= bound+gapSlack {
		t.Errorf("gap %s, want every gap under %s: %v", worst, bound+gapSlack, gaps)
	}
}

func logGaps(t *testing.T, name string, gaps []time.Duration) {
	t.Helper()
	if len(gaps) == 0 {
		t.Logf("GAPS %s: none", name)
		return
	}
	s := slices.Clone(gaps)
	slices.Sort(s)
	pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	t.Logf("GAPS %s: n=%d p50=%s p99=%s max=%s", name, len(s), pct(0.50).Round(10*time.Microsecond),
		pct(0.99).Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond))
}

// reconnects returns zccingest_reconnects_total for one reason.
func reconnects(t *testing.T, in *ingest.Ingester, reason string) int {
	t.Helper()
	mfs, err := in.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "zccingest_reconnects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(n)
}

// TestRecovery: each way a connection ends, with events flowing through
// it.
func TestRecovery(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  sim.Options
		hb    time.Duration
		bound time.Duration
		fault func(t *testing.T, e *env)
	}{
		{"server closes mid-stream", sim.Options{}, 25 * time.Second, cachedGap, func(t *testing.T, e *env) {
			e.sim.CloseConnections("a", websocket.StatusGoingAway, "maintenance")
		}},
		{"network drop", sim.Options{}, 25 * time.Second, cachedGap, func(t *testing.T, e *env) {
			e.sim.DropConnections("a")
		}},
		{"token expires early, socket closed", sim.Options{CloseOnTokenExpiry: true, CloseCode: 4001}, 25 * time.Second, cachedGap, func(t *testing.T, e *env) {
			// Every token refused from now on: the reconnect's cached one
			// fails build_connection, a fresh one is fetched at once.
			e.sim.ExpireTokens()
		}},
		{"build_connection refused in new words", sim.Options{}, 25 * time.Second, cachedGap, func(t *testing.T, e *env) {
			e.sim.FailBuilds(1, "Token is invalid")
			e.sim.CloseConnections("a", websocket.StatusGoingAway, "bye")
		}},
		// Detected by the unanswered heartbeat: at worst a heartbeat
		// interval (the last reply came just before the silence) plus
		// heartbeat_timeout.
		{"half-open", sim.Options{}, time.Second, 2*time.Second + 250*time.Millisecond, func(t *testing.T, e *env) {
			e.sim.SetSilent("a", true)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Subscriptions = []string{"a"}
			e := newEnv(t, tc.opts)
			col := e.collect("zoom.>")
			cfg := e.configFor("", tc.hb.String(), "a")
			cfg.Zoom.HeartbeatTimeout = time.Second
			_, stop := e.run(cfg)
			stopSending := e.steady(faultRate)
			n := rounds()
			for i := range n {
				// A connection is healthy, and its loss reconnected at
				// once, after a second with events; faults a second and
				// a half apart.
				e.waitSent(t, faultRate*3/2)
				tc.fault(t, e)
				if err := e.sim.WaitBuilds(timeout(t, 15*time.Second), "a", i+2); err != nil {
					t.Fatalf("no reconnect: %v\n%s", err, e.logs.String())
				}
			}
			e.waitSent(t, faultRate/4)
			stopSending()
			gaps := gapsOf(t, e, "a")
			stop()
			exactlyOnce(t, e, col, nil)
			checkGaps(t, tc.name, gaps, n, tc.bound)
		})
	}
}

// TestRecoveryKickedByIntruder: another client opens the subscription
// (Zoom allowing one connection, the older one is closed). The ingester
// takes it back at once; the events the intruder read are the intruder's.
func TestRecoveryKickedByIntruder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}, KickOnSecondConnection: true})
	col := e.collect("zoom.>")
	_, stop := e.run(e.configFor("", "25s", "a"))
	o := e.sim.Options()
	tokens := session.NewServerToServer(session.ServerToServer{
		AccountID: o.AccountID, ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: e.sim.TokenURL(),
	}, session.Options{})
	stopSending := e.steady(faultRate)
	foreign := map[string]bool{}
	var held []time.Duration // how long the intruder held the subscription
	n := rounds()
	for i := range n {
		e.waitSent(t, faultRate*3/2)
		tok, err := tokens.Token(timeout(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		u, _ := zoomws.URL(e.sim.WebSocketURL(), "a", tok.AccessToken)
		c, _, err := websocket.Dial(timeout(t, 5*time.Second), u, nil)
		if err != nil {
			t.Fatal(err)
		}
		var built time.Time
		for { // the intruder reads until the ingester kicks it out
			_, b, err := c.Read(timeout(t, 10*time.Second))
			if err != nil {
				held = append(held, time.Since(built))
				break
			}
			f, _ := events.ParseFrame(b)
			switch f.Module {
			case events.ModuleBuildConnection:
				built = time.Now()
			case events.ModuleMessage:
				ev, _ := f.Event()
				foreign[ev.Key()] = true
			}
		}
		c.CloseNow()
		if err := e.sim.WaitBuilds(timeout(t, 15*time.Second), "a", 2*(i+2)-1); err != nil {
			t.Fatal(err)
		}
	}
	e.waitSent(t, faultRate/4)
	stopSending()
	stop()
	exactlyOnce(t, e, col, foreign)
	checkGaps(t, "kicked by an intruder (the intruder's hold)", held, n, cachedGap)
}

// TestNoGapAtTokenExpiry: tokens that live 2 s, events at a steady rate
// over three lifetimes. Ahead of each expiry a new connection is built
// before the old one closes, so that the subscriptions never have a gap,
// whether Zoom closes a socket at its token's expiry or leaves it open,
// and whether a second connection kicks the first or both deliver (the
// pipeline keeping one copy).
func TestNoGapAtTokenExpiry(t *testing.T) {
	for _, closeAtExpiry := range []bool{true, false} {
		for _, kick := range []bool{true, false} {
			t.Run(fmt.Sprintf("close=%v/kick=%v", closeAtExpiry, kick), func(t *testing.T) {
				t.Parallel()
				const life = 2 * time.Second
				e := newEnv(t, sim.Options{Subscriptions: []string{"a", "b"}, TokenLifetime: life,
					CloseOnTokenExpiry: closeAtExpiry, KickOnSecondConnection: kick, CloseCode: 4001})
				col := e.collect("zoom.>")
				in, stop := e.run(e.configFor("", "25s", "a", "b"))
				stopSending := e.steady(faultRate)
				e.until(t, "three token lifetimes", func() bool { return e.sim.Builds("a") >= 4 && e.sim.Builds("b") >= 4 })
				stopSending()
				gaps := map[string][]time.Duration{"a": gapsOf(t, e, "a"), "b": gapsOf(t, e, "b")}
				stop()
				exactlyOnce(t, e, col, nil)
				for sub, g := range gaps {
					checkGaps(t, "token expiry "+t.Name()+" "+sub, g, 0, time.Nanosecond)
				}
				if n := reconnects(t, in, "closed_by_server") + reconnects(t, in, "build_connection_failed"); n != 0 {
					t.Errorf("%d connections lost at token expiry, want every one replaced first\n%s", n, e.logs.String())
				}
			})
		}
	}
}

// TestTokenEndpointSlow: over three token lifetimes with a token endpoint
// that takes 2 s to answer, and the server closing the socket every few
// hundred milliseconds, no reconnect waits for the endpoint: each finds a
// valid token in the cache, refreshed in the background.
func TestTokenEndpointSlow(t *testing.T) {
	t.Parallel()
	const life = 6 * time.Second
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}, TokenLifetime: life, CloseOnTokenExpiry: true})
	e.sim.SetTokenDelay(2 * time.Second)
	col := e.collect("zoom.>")
	_, stop := e.run(e.configFor("", "25s", "a"))
	stopSending := e.steady(faultRate)
	start, closes := time.Now(), 0
	for time.Since(start) < 3*life {
		e.waitSent(t, faultRate*3/2)
		builds := e.sim.Builds("a")
		e.sim.CloseConnections("a", websocket.StatusGoingAway, "maintenance")
		closes++
		if err := e.sim.WaitBuilds(timeout(t, 15*time.Second), "a", builds+1); err != nil {
			t.Fatal(err)
		}
	}
	stopSending()
	gaps := gapsOf(t, e, "a")
	stop()
	exactlyOnce(t, e, col, nil)
	checkGaps(t, "server closes, token endpoint 2 s slow", gaps, closes, cachedGap)
	if n := e.sim.TokenRequests(); n < 3 {
		t.Errorf("%d token requests over three lifetimes", n)
	}
}

// TestKickLoopBounded: two ingesters given the same subscription (an
// operator's copy-paste), Zoom closing the older connection when a second
// builds. A connection closed before it lived a second (with events) is
// not healthy, so the side whose connections are kicked at once backs off:
// its first build, one immediate retry and at most 7 backoffs fit in 10 s
// (the k-th backoff is at least 50 ms << (k-1); 50 ms × (2^7-1) = 6.35 s,
// 2^8-1 would be 12.75 s). The other side's connection lives through each
// backoff and may be healthy, so it rebuilds at once, once per build of the
// first: at most as many again, plus its own first build. Today's code
// made thousands.
func TestKickLoopBounded(t *testing.T) {
	t.Parallel()
	const bound = 2*(1+1+7) + 1
	e := newEnv(t, sim.Options{Subscriptions: []string{"a"}, KickOnSecondConnection: true})
	cfg := e.configFor("", "25s", "a")
	in1, _ := e.run(cfg)
	stopSending := e.steady(50) // traffic must not make a kicked connection look healthy
	defer stopSending()
	before := e.sim.Attempts("a")
	in2, _ := e.runWait(cfg)
	window := time.NewTimer(10 * time.Second) // the window measured, not a synchronisation
	<-window.C
	attempts := e.sim.Attempts("a") - before
	t.Logf("%d build attempts in 10 s by two ingesters on one subscription (bound %d)", attempts, bound)
	if attempts > bound {
		t.Errorf("%d build attempts in 10 s, want at most %d", attempts, bound)
	}
	if reconnects(t, in1, "taken_over")+reconnects(t, in2, "taken_over") == 0 || !strings.Contains(e.logs.String(), "subscription taken over by another client") {
		t.Errorf("the logs and metrics do not say why:\n%s", e.logs.String())
	}
}
