package reconcile

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/test/testnats"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// The lease: a node holds a gap until it lapses; the other node is told
// to wait, takes over a lapsed lease, and the first then finds it lost;
// a node restarted under its own name takes its lease back at once; a
// gap done is done for everyone.
func TestLease(t *testing.T) {
	srv := testnats.Start(t, testnats.Options{})
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := testnats.Timeout(t, 20*time.Second)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "T"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	ttl := time.Minute
	c1, err := take(ctx, kv, "a.g", "n1", ttl, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.markEngagement(ctx, "eng-A", engagementCounts{Recovered: map[string]int{evHold: 2}}); err != nil {
		t.Fatal(err)
	}
	// An id that is no key token is done under its digest.
	if err := c1.markEngagement(ctx, "eng.B*", engagementCounts{Skipped: map[string]int{evHold: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := c1.update(ctx, func(p *progress) { p.Summary.Recovered = map[string]int{evLogin: 1} }); err != nil {
		t.Fatal(err)
	}
	var busy *errBusy
	if _, err := take(ctx, kv, "a.g", "n2", ttl, clk.now); !errors.As(err, &busy) || !busy.until.Equal(t0.Add(ttl)) {
		t.Fatalf("n2 while n1 holds the lease: %v", err)
	}
	// n1 restarted: its own lease, and its progress, at once.
	c1, err = take(ctx, kv, "a.g", "n1", ttl, clk.now)
	if err != nil || !c1.engagementDone("eng-A") || !c1.engagementDone("eng.B*") || c1.engagementDone("eng-C") || c1.engagementDone("eng_B_") {
		t.Fatalf("n1 again: %v, engagements %v", err, c1.engagements)
	}
	if s := c1.summary(); s.Recovered[evHold] != 2 || s.Recovered[evLogin] != 1 || s.Skipped[evHold] != 1 {
		t.Errorf("summary after restart: %+v", s)
	}
	clk.add(ttl + time.Second)
	c2, err := take(ctx, kv, "a.g", "n2", ttl, clk.now)
	if err != nil {
		t.Fatalf("n2 after the lease lapsed: %v", err)
	}
	if !c2.engagementDone("eng-A") {
		t.Error("n2 did not get n1's progress")
	}
	if err := c1.update(ctx, nil); !errors.Is(err, errLost) {
		t.Errorf("n1 writing after n2 took over: %v", err)
	}
	if err := c2.update(ctx, func(p *progress) { p.Done = true }); err != nil {
		t.Fatal(err)
	}
	c3, err := take(ctx, kv, "a.g", "n3", ttl, clk.now)
	if err != nil || !c3.snapshot().Done {
		t.Errorf("n3 on a gap done: %v", err)
	}
	// A released lease is free at once.
	c4, err := take(ctx, kv, "a.h", "n1", ttl, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if err := c4.release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := take(ctx, kv, "a.h", "n2", ttl, clk.now); err != nil {
		t.Errorf("n2 after n1 released: %v", err)
	}
}
