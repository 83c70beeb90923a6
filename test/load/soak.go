package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/zccingest/zccingest/test/sim"
)

// soak runs 10 subscriptions at a steady rate for o.soak, every event sent
// on all of them as Zoom does, while faults are injected at random: server
// closes, network drops, token expiries that close sockets, and half-open
// sockets. At the end every event that reached at least one open socket must
// be in the stream exactly once; the rest fell into windows where no
// subscription was connected, which the simulator reports.
func soak(ctx context.Context, o options, w io.Writer) error {
	r, err := startRig(ctx, rigSpec{bin: o.bin, wal: o.wal, subs: 10, jetstream: true, hb: "2s", logLevel: "info",
		simOpts: sim.Options{CloseOnTokenExpiry: true, TokenLifetime: 10 * time.Minute}})
	if err != nil {
		return err
	}
	defer r.close()
	metricsBefore := scrapeAfterWarmup(r)

	ctx, cancel := context.WithTimeout(ctx, o.soak)
	defer cancel()
	faults := map[string]int{}
	go func() {
		rnd := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			select {
			case <-time.After(time.Duration(1000+rnd.IntN(3000)) * time.Millisecond):
			case <-ctx.Done():
				return
			}
			sub := r.subs[rnd.IntN(len(r.subs))]
			switch rnd.IntN(4) {
			case 0:
				r.sim.CloseConnections(sub, websocket.StatusGoingAway, "soak: server close")
				faults["server close"]++
			case 1:
				r.sim.DropConnections(sub)
				faults["network drop"]++
			case 2:
				r.sim.ExpireTokens() // every socket's token: all close at once
				faults["token expiry (all)"]++
			case 3:
				r.sim.SetSilent(sub, true)
				faults["half-open"]++
				go func() {
					time.Sleep(5 * time.Second)
					r.sim.SetSilent(sub, false)
				}()
			}
		}
	}()
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		if d := time.Until(start.Add(time.Duration(float64(sent) / o.soakRate * float64(time.Second)))); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
			continue
		}
		r.sim.SendEvent(context.Background(), loadEvent(sent))
		sent++
	}
	for _, s := range r.subs {
		r.sim.SetSilent(s, false)
	}
	metricsAfter := scrape(r)
	if err := r.stop(); err != nil {
		return fmt.Errorf("zccingest did not exit cleanly: %w", err)
	}

	// Per event: did any socket accept it?
	reached := map[string]bool{}
	for _, rec := range r.sim.Sent() {
		k := string(rec.Frame)
		reached[k] = reached[k] || rec.Delivered > 0
	}
	delivered := 0
	for _, ok := range reached {
		if ok {
			delivered++
		}
	}
	n, err := r.streamMsgs(context.Background())
	if err != nil {
		return err
	}
	inStream := int(n)
	var gapTime time.Duration
	for _, g := range r.sim.Gaps() {
		if !g.To.IsZero() && g.From.After(start) {
			gapTime += g.To.Sub(g.From)
		}
	}
	fmt.Fprintf(w, "soak: %s, 10 subscriptions, %.0f events/s, every event on all subscriptions\n", o.soak, o.soakRate)
	fmt.Fprintf(w, "faults injected: %v\n", faults)
	fmt.Fprintf(w, "events sent %d; reached at least one open socket %d; none open %d\n", len(reached), delivered, len(reached)-delivered)
	fmt.Fprintf(w, "in the stream %d; lost beyond the disconnected windows %d\n", inStream, delivered-inStream)
	fmt.Fprintf(w, "time subscriptions spent disconnected: %s in all (%d gaps)\n", gapTime.Round(time.Millisecond), len(r.sim.Gaps()))
	for _, k := range []string{"go_goroutines", "process_resident_memory_bytes", "go_memstats_heap_inuse_bytes"} {
		fmt.Fprintf(w, "%s: %s after warm-up, %s at the end\n", k, metricsBefore[k], metricsAfter[k])
	}
	if delivered != inStream {
		return fmt.Errorf("%d events that reached an open socket are not in the stream", delivered-inStream)
	}
	return nil
}

func scrapeAfterWarmup(r *rig) map[string]string {
	time.Sleep(5 * time.Second) // warm-up before the baseline figures
	return scrape(r)
}

// scrape reads the child's /metrics; the soak config serves it.
func scrape(r *rig) map[string]string {
	out := map[string]string{}
	resp, err := http.Get("http://" + r.httpAddr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && !strings.HasPrefix(k, "#") {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[k] = strconv.FormatFloat(f, 'f', 0, 64)
			}
		}
	}
	return out
}
