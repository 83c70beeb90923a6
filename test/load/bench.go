package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/zccingest/zccingest/test/sim"
)

type result struct {
	name      string
	events    int
	received  int64
	perSec    float64
	cpuPerM   time.Duration
	peakRSS   int64
	p50, p99  time.Duration
	p999      time.Duration
	hasLat    bool
	controlOf string
	group     string // the setup, "JetStream, 10 sub"
}

func bench(ctx context.Context, o options, w io.Writer) error {
	fmt.Fprintf(w, "end-to-end load: %d events per throughput run, median of %d runs per row; the simulator, NATS and the consumer share this process, the subject under test is a child process\n\n", o.events, max(o.repeat, 1))
	var results []result
	for _, js := range []bool{false, true} {
		for _, subs := range []int{1, 10} {
			if o.only != "" && !strings.Contains(fmt.Sprintf("%s, %d sub", natsName(js), subs), o.only) {
				continue
			}
			specs := []rigSpec{{bin: o.bin, forward: true, subs: subs, jetstream: js}}
			if o.wireFloor {
				specs = append(specs, rigSpec{bin: o.bin, forward: true, headers: true, subs: subs, jetstream: js})
			}
			specs = append(specs, rigSpec{bin: o.bin, wal: o.wal, subs: subs, jetstream: js})
			// The setups take turns, run by run: this machine's other load
			// drifts, and would favour whichever ran in a quiet spell.
			runs := make([][]result, len(specs))
			for range max(o.repeat, 1) {
				for i, spec := range specs {
					r, err := throughput(ctx, o, spec)
					if err != nil {
						return err
					}
					runs[i] = append(runs[i], r)
				}
			}
			for _, rs := range runs {
				results = append(results, median(rs))
			}
		}
	}
	if o.only != "" {
		printTable(w, results)
		return nil
	}
	// The latency run's median p99 of -repeat runs.
	var lats []result
	for range max(o.repeat, 1) {
		lat, err := latency(ctx, o)
		if err != nil {
			return err
		}
		lats = append(lats, lat)
	}
	slices.SortFunc(lats, func(a, b result) int { return cmp.Compare(a.p99, b.p99) })
	results = append(results, lats[len(lats)/2])
	printTable(w, results)
	idle, err := idleRSS(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nRSS with 10 idle subscriptions: %.1f MiB\n", float64(idle)/(1<<20))
	gaps, err := reconnectGaps(ctx, o)
	if err != nil {
		return err
	}
	slices.Sort(gaps)
	fmt.Fprintf(w, "reconnect gap (server close to next build_connection, cached token) over %d closes: p50 %s, p99 %s, max %s\n",
		len(gaps), ms(pct(gaps, 0.50)), ms(pct(gaps, 0.99)), ms(gaps[len(gaps)-1]))
	return nil
}

// median is the run of the median ev/s, with the median CPU per event of
// all the runs: this machine's other load moves single runs.
func median(runs []result) result {
	slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.cpuPerM, b.cpuPerM) })
	cpu := runs[len(runs)/2].cpuPerM
	slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.perSec, b.perSec) })
	r := runs[len(runs)/2]
	r.cpuPerM = cpu
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(int(float64(len(d))*p), len(d)-1)]
}

func throughput(ctx context.Context, o options, spec rigSpec) (result, error) {
	r, err := startRig(ctx, spec)
	if err != nil {
		return result{}, err
	}
	defer r.close()
	name := fmt.Sprintf("zccingest, %s, %d sub", natsName(spec.jetstream), spec.subs)
	res := result{name: name, events: o.events}
	res.group = fmt.Sprintf("%s, %d sub", natsName(spec.jetstream), spec.subs)
	if spec.forward {
		res.name = fmt.Sprintf("raw forward, %s, %d sub", natsName(spec.jetstream), spec.subs)
		res.controlOf = "zccingest"
		if spec.headers {
			res.name = fmt.Sprintf("raw forward + headers, %s, %d sub", natsName(spec.jetstream), spec.subs)
			res.controlOf = ""
		}
	}
	// Pre-built events, so the measurement is not of building them.
	evs := make([][]byte, o.events)
	for i := range evs {
		evs[i] = sim.MessageFrame(loadEvent(i))
	}
	before, err := readProc(r.cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, sub := range r.subs {
		wg.Go(func() {
			for j := i; j < len(evs); j += len(r.subs) {
				r.sim.Send(ctx, sub, evs[j])
			}
		})
	}
	wg.Wait()
	res.received = r.waitReceived(ctx, int64(o.events), 5*time.Second)
	elapsed := time.Since(start)
	after, err := readProc(r.cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	res.perSec = float64(res.received) / elapsed.Seconds()
	res.cpuPerM = time.Duration(float64(after.cpu-before.cpu) * 1e6 / float64(max(res.received, 1)))
	res.peakRSS = after.peak
	if err := r.stop(); err != nil {
		return res, err
	}
	if spec.jetstream {
		// The stream is the record: a consumer on these shared cores may be
		// cut off as a slow consumer in a burst, the stream is not.
		n, err := r.streamMsgs(ctx)
		if err != nil {
			return res, err
		}
		res.received = int64(n)
	}
	return res, nil
}

func natsName(js bool) string {
	if js {
		return "JetStream"
	}
	return "core NATS"
}

// latency: one subscription at a steady rate, from the simulator's send to
// the consumer's receipt, through zccingest into JetStream with acks.
func latency(ctx context.Context, o options) (result, error) {
	r, err := startRig(ctx, rigSpec{bin: o.bin, wal: o.wal, subs: 1, jetstream: true})
	if err != nil {
		return result{}, err
	}
	defer r.close()
	r.keepLat = true
	res := result{name: fmt.Sprintf("zccingest, JetStream, 1 sub, %.0f ev/s", o.latencyRate), events: o.latencyEvents, hasLat: true}
	before, err := readProc(r.cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	start := time.Now()
	for i := range o.latencyEvents {
		if d := time.Until(start.Add(time.Duration(float64(i) / o.latencyRate * float64(time.Second)))); d > 0 {
			time.Sleep(d) // pacing the load, not synchronising a test
		}
		r.sim.Send(ctx, r.subs[0], sim.MessageFrame(loadEvent(i)))
	}
	res.received = r.waitReceived(ctx, int64(o.latencyEvents), 5*time.Second)
	res.perSec = float64(res.received) / time.Since(start).Seconds()
	st, _ := readProc(r.cmd.Process.Pid)
	res.peakRSS = st.peak
	// CPU per event at this rate: what the hot path costs when not saturated.
	res.cpuPerM = time.Duration(float64(st.cpu-before.cpu) * 1e6 / float64(max(res.received, 1)))
	r.latMu.Lock()
	lat := slices.Clone(r.lat)
	r.latMu.Unlock()
	slices.Sort(lat)
	res.p50, res.p99, res.p999 = pct(lat, 0.5), pct(lat, 0.99), pct(lat, 0.999)
	r.stop()
	return res, nil
}

func idleRSS(ctx context.Context, o options) (int64, error) {
	r, err := startRig(ctx, rigSpec{bin: o.bin, wal: o.wal, subs: 10, jetstream: true})
	if err != nil {
		return 0, err
	}
	defer r.close()
	time.Sleep(3 * time.Second) // let the process settle
	st, err := readProc(r.cmd.Process.Pid)
	r.stop()
	return st.rss, err
}

// reconnectGaps closes the socket and times until the next build_connection.
func reconnectGaps(ctx context.Context, o options) ([]time.Duration, error) {
	r, err := startRig(ctx, rigSpec{bin: o.bin, wal: o.wal, subs: 1})
	if err != nil {
		return nil, err
	}
	defer r.close()
	sub := r.subs[0]
	var gaps []time.Duration
	built := time.Now()
	for i := range o.closes {
		// A connection closed moments after it was built, again and
		// again, is what another client on the subscription looks like,
		// and is reconnected with a backoff: let each one be healthy (an
		// event, and a second of life) before closing it.
		r.sim.SendEvent(ctx, loadEvent(i))
		time.Sleep(time.Until(built.Add(1100 * time.Millisecond)))
		t0 := time.Now()
		r.sim.CloseConnections(sub, websocket.StatusGoingAway, "load test")
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := r.sim.WaitBuilds(wctx, sub, i+2)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("close %d: no reconnect: %w", i, err)
		}
		gaps = append(gaps, time.Since(t0))
		built = time.Now()
	}
	r.stop()
	return gaps, nil
}

func printTable(w io.Writer, results []result) {
	fmt.Fprintf(w, "%-44s %9s %9s %10s %8s %9s %10s %8s %8s %8s %6s\n", "run", "events", "ev/s", "vs raw", "CPU s/M", "CPU x raw", "peak RSS", "p50", "p99", "p99.9", "lost")
	raw := map[string]result{}
	for _, r := range results {
		if r.controlOf != "" {
			raw[r.group] = r
		}
	}
	for _, r := range results {
		ratio, cpuRatio := "", ""
		if c, ok := raw[r.group]; ok && r.controlOf == "" && !r.hasLat {
			ratio = fmt.Sprintf("%.2f", r.perSec/c.perSec)
			cpuRatio = fmt.Sprintf("%.2f", r.cpuPerM.Seconds()/c.cpuPerM.Seconds())
		}
		l50, l99, l999 := "", "", ""
		if r.hasLat {
			l50, l99, l999 = ms(r.p50), ms(r.p99), ms(r.p999)
		}
		// In a paced run, what each event costs when the process is not
		// saturated (per-wakeup overhead included).
		cpu := fmt.Sprintf("%.2f", r.cpuPerM.Seconds())
		fmt.Fprintf(w, "%-44s %9d %9.0f %10s %8s %9s %9.1fM %8s %8s %8s %6d\n", r.name, r.events, r.perSec, ratio,
			cpu, cpuRatio, float64(r.peakRSS)/(1<<20), l50, l99, l999, int64(r.events)-r.received)
	}
}
