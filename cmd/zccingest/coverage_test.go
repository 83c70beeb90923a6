package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// The coverage tests run 'zccingest run' as child processes (nodes of a
// pair, each holding one subscription, or one node), all on one outside
// NATS server, with the ledger written every 200 ms.

const covInterval = 200 * time.Millisecond

// covBound is how far a gap's bounds may be from the simulator's record of
// the sockets: the brief's 50 ms.
const covBound = 50 * time.Millisecond

type covRig struct {
	t    *testing.T
	sim  *sim.Server
	url  string
	nc   *nats.Conn
	js   jetstream.JetStream
	dir  string
	sys  *sysCollector
	cfgs map[string]string
	http map[string]int // node's /readyz port
	// extra is YAML appended to every node's config.
	extra string
}

// sysCollector gathers the system messages as they are published.
type sysCollector struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func (c *sysCollector) kind(k string) []events.Gap {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The stream's copy: both nodes may publish one gap, which the
	// stream takes once (Nats-Msg-Id).
	var out []events.Gap
	for _, m := range c.msgs {
		if strings.HasSuffix(m.Subject, ".system."+k) {
			var g events.Gap
			json.Unmarshal(m.Data, &g)
			out = append(out, g)
		}
	}
	return out
}

func (c *sysCollector) connections() []events.ConnectionChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []events.ConnectionChange
	for _, m := range c.msgs {
		if strings.HasSuffix(m.Subject, ".system.connection") {
			var cc events.ConnectionChange
			json.Unmarshal(m.Data, &cc)
			out = append(out, cc)
		}
	}
	return out
}

func newCovRig(t *testing.T, subs ...string) *covRig {
	ns := testnats.Start(t, testnats.Options{})
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	r := &covRig{t: t, sim: startSim(t, sim.Options{Subscriptions: subs}), url: ns.ClientURL(), nc: nc, js: js, dir: t.TempDir(),
		sys: &sysCollector{}, cfgs: map[string]string{}, http: map[string]int{}}
	ctx := testCtx(t, 20*time.Second)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: config.DefaultStream, Subjects: []string{"zoom.>"}, Duplicates: 2 * time.Minute, MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"zoom.*.system.>", "zoom.system.>"}})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		r.sys.mu.Lock()
		r.sys.msgs = append(r.sys.msgs, &nats.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()})
		r.sys.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return r
}

// node starts 'zccingest run' as the named node holding the subscription
// ids given (named ris-<id>).
func (r *covRig) node(name string, subs ...string) *child {
	cfg, ok := r.cfgs[name]
	if !ok {
		o := r.sim.Options()
		var list []string
		for _, s := range subs {
			list = append(list, fmt.Sprintf("{name: ris-%s, id: %s}", s, s))
		}
		cfg = filepath.Join(r.dir, name+".yaml")
		r.http[name] = freePort(r.t)
		os.WriteFile(cfg, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q, api_url: %q}
subscriptions: [%s]
nats: {url: %q, embedded: {store_dir: %q}}
wal: {dir: %q}
http: {listen: "127.0.0.1:%d"}
coverage: {node: %s, interval: %s, stale_after: 1s}
%s`, o.AccountID, o.ClientID, o.ClientSecret, r.sim.TokenURL(), r.sim.WebSocketURL(), r.sim.RESTURL(), strings.Join(list, ", "), r.url,
			filepath.Join(r.dir, "unused"), filepath.Join(r.dir, "wal-"+name), r.http[name], name, covInterval, r.extra), 0o600)
		r.cfgs[name] = cfg
	}
	return startChild(r.t, cfg)
}

func readyz(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitOpen waits until n connections have been reported open on the
// connection subject: the nodes know their sockets are open (the
// simulator counts a build before the client has read it).
func (r *covRig) waitOpen(n int) {
	r.t.Helper()
	r.until(fmt.Sprintf("%d connections open", n), func() bool {
		opens := 0
		for _, c := range r.sys.connections() {
			if c.State == "open" {
				opens++
			}
		}
		return opens >= n
	})
}

// waitRecords waits until each node has written its ledger record: a node
// knows of another only from there.
func (r *covRig) waitRecords(nodes ...string) {
	r.t.Helper()
	ctx := testCtx(r.t, 30*time.Second)
	kv, err := r.js.KeyValue(ctx, "ZOOM_COVERAGE")
	for err != nil && ctx.Err() == nil {
		r.sim.WaitHeartbeats(testCtx(r.t, 20*time.Millisecond), "", 1<<30)
		kv, err = r.js.KeyValue(ctx, "ZOOM_COVERAGE")
	}
	for _, n := range nodes {
		for _, err := kv.Get(ctx, r.sim.Options().AccountID+"."+n); err != nil; _, err = kv.Get(ctx, r.sim.Options().AccountID+"."+n) {
			if r.sim.WaitHeartbeats(testCtx(r.t, 20*time.Millisecond), "", 1<<30); ctx.Err() != nil {
				r.t.Fatalf("node %s wrote no record in 30 s", n)
			}
		}
	}
}

// stop ends a child with SIGTERM and waits for a clean exit.
func (r *covRig) stop(c *child) {
	r.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatal(err)
	}
	select {
	case err := <-c.exited:
		if err != nil {
			r.t.Fatalf("exit after SIGTERM: %v\n%s", err, c.logs.String())
		}
	case <-testCtx(r.t, 60*time.Second).Done():
		r.t.Fatalf("still running 60 s after SIGTERM\n%s", c.logs.String())
	}
}

// until waits up to 30 s for cond, woken by the simulator's changes.
func (r *covRig) until(what string, cond func() bool, logs ...*child) {
	r.t.Helper()
	r.untilFor(30*time.Second, what, cond, logs...)
}

// streamIDs counts the Nats-Msg-Id of the stream's messages whose subject
// match takes.
func (r *covRig) streamIDs(match func(subject string) bool) map[string]int {
	r.t.Helper()
	ctx := testCtx(r.t, 20*time.Second)
	st, err := r.js.Stream(ctx, config.DefaultStream)
	if err != nil {
		r.t.Fatal(err)
	}
	info, _ := st.Info(ctx)
	got := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			r.t.Fatal(err)
		}
		if match(m.Subject) {
			got[m.Header.Get(events.HeaderMsgID)]++
		}
	}
	return got
}

// accountGaps returns the intervals in which no subscription had a live
// connection, from the simulator's record (after the first connection of
// every one).
func accountGaps(s *sim.Server, subs ...string) [][2]time.Time {
	down := map[string][][2]time.Time{}
	for _, g := range s.Gaps() {
		if g.To.IsZero() {
			continue // lasting: the nodes were stopped
		}
		down[g.Subscription] = append(down[g.Subscription], [2]time.Time{g.From, g.To})
	}
	out := down[subs[0]][1:] // the first gap of each is before the first connection
	for _, sub := range subs[1:] {
		var next [][2]time.Time
		for _, a := range out {
			for _, b := range down[sub][1:] {
				from, to := later(a[0], b[0]), earlier(a[1], b[1])
				if from.Before(to) {
					next = append(next, [2]time.Time{from, to})
				}
			}
		}
		out = next
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func near(t *testing.T, what string, got int64, want time.Time, bound time.Duration) {
	t.Helper()
	if d := time.UnixMilli(got).Sub(want); d.Abs() > bound {
		t.Errorf("%s is %s from the simulator's record (%s); bound %s", what, d, want.Format("15:04:05.000"), bound)
	}
}

// A pair on two nodes, faults on one leg only, events at a steady rate:
// each outage of that leg is published once as an interruption with the
// socket times as bounds, no gap is published, every connection change is
// on the connection subject, and every event written on an open socket is
// in the stream once.
func TestCoveragePairOneLegFaults(t *testing.T) {
	r := newCovRig(t, "s1", "s2")
	n1, n2 := r.node("n1", "s1"), r.node("n2", "s2")
	for _, s := range []string{"s1", "s2"} {
		if err := r.sim.WaitBuilds(testCtx(t, 20*time.Second), s, 1); err != nil {
			t.Fatal(err)
		}
	}
	r.waitOpen(2)
	stop := r.sim.Steady(sim.NewGenerator(11, r.sim.Options().AccountID, 20), 200)
	defer stop()
	// Each reconnect of the faulty leg takes 100 ms at least: an outage
	// the simulator's record shows whatever the scheduling.
	r.sim.SetBuildDelay(100 * time.Millisecond)
	const faults = 3
	for i := range faults {
		r.until("traffic", func() bool { return len(r.sim.Sent()) >= 200*(i+1) })
		r.sim.DropConnections("s1")
		if err := r.sim.WaitBuilds(testCtx(t, 20*time.Second), "s1", i+2); err != nil {
			t.Fatal(err)
		}
	}
	r.until("interruptions", func() bool { return len(r.sys.kind(events.SystemInterruption)) >= faults }, n1, n2)
	from := len(r.sim.Sent())
	r.until("traffic after the faults", func() bool { return len(r.sim.Sent()) >= from+100 })
	stop()
	r.stop(n1)
	r.stop(n2)

	if gaps := r.sys.kind(events.SystemGap); len(gaps) != 0 {
		t.Log(n1.logs.String(), n2.logs.String())
		t.Errorf("gaps published with one leg up throughout: %+v", gaps)
	}
	ints := r.sys.kind(events.SystemInterruption)
	var simGaps []sim.Gap
	for _, g := range r.sim.Gaps() {
		if g.Subscription == "s1" && !g.To.IsZero() {
			simGaps = append(simGaps, g)
		}
	}
	simGaps = simGaps[1:] // before the first connection
	for _, g := range simGaps {
		t.Logf("sim gap %s - %s", g.From.Format("15:04:05.000"), g.To.Format("15:04:05.000"))
	}
	for _, g := range ints {
		t.Logf("interruption %s - %s", time.UnixMilli(g.From).Format("15:04:05.000"), time.UnixMilli(g.To).Format("15:04:05.000"))
	}
	if len(ints) != faults {
		t.Fatalf("%d interruptions published, want %d: %+v", len(ints), faults, ints)
	}
	for i, g := range ints {
		if g.Subscriptions[0] != "ris-s1" || g.Nodes[0] != "n1" || g.Cause != "disconnected" || g.ID != events.GapID(events.SystemInterruption, g.AccountID, g.From, g.To, "ris-s1") {
			t.Errorf("interruption %+v", g)
		}
		near(t, fmt.Sprintf("interruption %d's start", i), g.From, simGaps[i].From, covBound)
		near(t, fmt.Sprintf("interruption %d's end", i), g.To, simGaps[i].To, covBound)
	}
	opens := 0
	for _, c := range r.sys.connections() {
		if c.State == "open" {
			opens++
		}
	}
	if want := 2 + faults; opens < want {
		t.Errorf("%d connection opens published, want at least %d: %+v", opens, want, r.sys.connections())
	}
	got := r.streamIDs(func(s string) bool { return !isSystem(s) })
	want := map[string]bool{}
	for _, id := range accepted(t, r.sim, time.Time{}, time.Now()) {
		want[id] = true
	}
	missing, dup := 0, 0
	for id := range want {
		switch got[id] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	t.Logf("%d events accepted by a socket, %d in the stream; interruptions %+v", len(want), len(got), ints)
	if missing+dup > 0 || len(want) == 0 {
		t.Errorf("%d events missing from the stream, %d there more than once", missing, dup)
	}
}

// Both legs down for a known interval (build_connection withheld): exactly
// one gap is published, its bounds within 50 ms of the simulator's record.
func TestCoveragePairBothLegsDown(t *testing.T) {
	r := newCovRig(t, "s1", "s2")
	n1, n2 := r.node("n1", "s1"), r.node("n2", "s2")
	for _, s := range []string{"s1", "s2"} {
		if err := r.sim.WaitBuilds(testCtx(t, 20*time.Second), s, 1); err != nil {
			t.Fatal(err)
		}
	}
	r.waitOpen(2)
	stop := r.sim.Steady(sim.NewGenerator(12, r.sim.Options().AccountID, 20), 200)
	defer stop()
	// /readyz of either node names both legs.
	r.until("both legs in /readyz", func() bool {
		return strings.Contains(readyz(t, r.http["n1"]), "covered by n1/ris-s1, n2/ris-s2")
	}, n1)
	r.sim.SetBuildDelay(time.Second)
	r.sim.DropConnections("s1")
	r.sim.DropConnections("s2")
	for _, s := range []string{"s1", "s2"} {
		if err := r.sim.WaitBuilds(testCtx(t, 20*time.Second), s, 2); err != nil {
			t.Fatal(err)
		}
	}
	r.sim.SetBuildDelay(0)
	r.until("a gap", func() bool { return len(r.sys.kind(events.SystemGap)) >= 1 }, n1, n2)
	// A few more rounds of both nodes' ledgers: nothing more is published.
	from := len(r.sim.Sent())
	r.until("traffic after the gap", func() bool { return len(r.sim.Sent()) >= from+200 })
	stop()
	r.stop(n1)
	r.stop(n2)
	gaps := r.sys.kind(events.SystemGap)
	want := accountGaps(r.sim, "s1", "s2")
	if len(gaps) != 1 || len(want) != 1 {
		t.Fatalf("%d gaps published, the simulator saw %d: %+v, %v\nconnections %+v\n%s", len(gaps), len(want), gaps, want, r.sys.connections(), n1.logs.String())
	}
	g := gaps[0]
	t.Logf("gap %+v; simulator %s to %s", g, want[0][0].Format("15:04:05.000"), want[0][1].Format("15:04:05.000"))
	near(t, "the gap's start", g.From, want[0][0], covBound)
	near(t, "the gap's end", g.To, want[0][1], covBound)
	if g.Cause != "disconnected" || strings.Join(g.Nodes, ",") != "n1,n2" || strings.Join(g.Subscriptions, ",") != "ris-s1,ris-s2" {
		t.Errorf("gap %+v", g)
	}
	// The stream has it once, under its id.
	n := 0
	for id := range r.streamIDs(func(s string) bool { return strings.HasSuffix(s, ".system.gap") }) {
		if id == g.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the stream holds gap %s %d times", g.ID, n)
	}
	// status shows it.
	code, out, errs := runCmd(t, "status", "--nats", r.url, "--account", r.sim.Options().AccountID, "--stale-after", "1s")
	if code != 0 || !strings.Contains(out, "GAPS (last day): 1") || !strings.Contains(out, "disconnected") {
		t.Errorf("status exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("zccingest status:\n%s", out)
	code, out, errs = runCmd(t, "status", "--nats", r.url, "--account", r.sim.Options().AccountID, "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Gaps) != 1 || rep.Gaps[0].ID != g.ID || len(rep.Coverage.Legs) != 2 {
		t.Errorf("status --json exit %d (%v)\n%s\n%s", code, err, out, errs)
	}
}

// The process killed (kill -9) for a known interval: on restart the node
// finds from its own record that it was down, and publishes the gap, from
// the last moment its record vouched for to the first socket opened again.
func TestCoverageProcessKilled(t *testing.T) {
	r := newCovRig(t, "s1", "s2")
	c := r.node("n1", "s1", "s2")
	for _, s := range []string{"s1", "s2"} {
		if err := r.sim.WaitBuilds(testCtx(t, 20*time.Second), s, 1); err != nil {
			t.Fatal(err)
		}
	}
	r.waitOpen(2)
	stop := r.sim.Steady(sim.NewGenerator(13, r.sim.Options().AccountID, 20), 200)
	defer stop()
	r.until("traffic", func() bool { return len(r.sim.Sent()) >= 200 })
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.exited
	for _, s := range []string{"s1", "s2"} {
		if err := r.sim.WaitDisconnected(testCtx(t, 10*time.Second), s); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // the fault: the process stays down a while
	c = r.node("n1")
	r.until("a gap", func() bool { return len(r.sys.kind(events.SystemGap)) >= 1 }, c)
	stop()
	r.stop(c)
	gaps := r.sys.kind(events.SystemGap)
	want := accountGaps(r.sim, "s1", "s2")
	if len(gaps) != 1 || len(want) != 1 {
		t.Fatalf("%d gaps published, the simulator saw %d: %+v, %v", len(gaps), len(want), gaps, want)
	}
	g := gaps[0]
	t.Logf("gap %+v; simulator %s to %s", g, want[0][0].Format("15:04:05.000"), want[0][1].Format("15:04:05.000"))
	if g.Cause != "process_down" {
		t.Errorf("cause %q, want process_down", g.Cause)
	}
	// The start is the killed process's last write: at most one interval
	// (and a write's time) before the sockets closed.
	if d := want[0][0].Sub(time.UnixMilli(g.From)); d < -covBound || d > 2*covInterval+covBound {
		t.Errorf("the gap starts %s before the simulator saw the sockets close; want 0 to %s (an interval, and a write's time)", d, 2*covInterval)
	}
	near(t, "the gap's end", g.To, want[0][1], covBound)
}
