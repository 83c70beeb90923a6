package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

// progress is a gap's entry in the progress bucket (key <account>.<gap id>):
// who works on it until when, what is done, and the summary so far, so
// that a node restarted mid-gap resumes where it stopped and the pair's
// other node leaves alone a gap done or leased.
type progress struct {
	Node  string    `json:"node"`
	Until time.Time `json:"until"` // the lease; zero when released
	Done  bool      `json:"done"`
	// Engagements holds the engagements whose events are published.
	Engagements map[string]bool   `json:"engagements,omitempty"`
	AgentsDone  bool              `json:"agents_done,omitempty"`
	Summary     events.Reconciled `json:"summary"`
}

// A claim is this node's hold on a gap's progress entry. Every write is a
// compare-and-set on the entry's revision: a node that lost the lease
// finds out on its next write and stops.
type claim struct {
	kv   jetstream.KeyValue
	key  string
	node string
	ttl  time.Duration
	now  func() time.Time

	mu  sync.Mutex
	rev uint64
	p   progress
}

// errBusy: another node holds a live lease on the gap, until the time
// given.
type errBusy struct{ until time.Time }

func (e *errBusy) Error() string { return "reconcile: another node works on the gap" }

// errLost: the lease was taken over; this node must stop.
var errLost = errors.New("reconcile: the gap's lease was lost to another node")

// take claims the gap's entry for node: created if absent, taken over if
// its lease is ours or lapsed. It returns the claim with the progress so
// far, an *errBusy while another node's lease is live.
func take(ctx context.Context, kv jetstream.KeyValue, key, node string, ttl time.Duration, now func() time.Time) (*claim, error) {
	c := &claim{kv: kv, key: key, node: node, ttl: ttl, now: now}
	e, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		c.p = progress{Node: node, Until: now().Add(ttl)}
		c.rev, err = kv.Create(ctx, key, c.encode())
	case err != nil:
		return nil, fmt.Errorf("reconcile: reading progress %s: %w", key, err)
	default:
		if err := json.Unmarshal(e.Value(), &c.p); err != nil {
			// Unreadable progress starts over: the live check keeps a
			// second run from publishing anything twice.
			c.p = progress{}
		}
		if !c.p.Done && c.p.Node != node && now().Before(c.p.Until) {
			return nil, &errBusy{c.p.Until}
		}
		if c.p.Done {
			c.rev = e.Revision()
			return c, nil
		}
		c.p.Node, c.p.Until = node, now().Add(ttl)
		c.rev, err = kv.Update(ctx, key, c.encode(), e.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, &errBusy{now().Add(ttl)} // another node was quicker
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: claiming progress %s: %w", key, err)
	}
	return c, nil
}

func (c *claim) encode() []byte {
	b, _ := json.Marshal(c.p) // plain data: always encodes
	return b
}

// update changes the progress with f and writes it, renewing the lease.
func (c *claim) update(ctx context.Context, f func(*progress)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f != nil {
		f(&c.p)
	}
	c.p.Until = c.now().Add(c.ttl)
	rev, err := c.kv.Update(ctx, c.key, c.encode(), c.rev)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return errLost
	}
	if err != nil {
		return fmt.Errorf("reconcile: writing progress %s: %w", c.key, err)
	}
	c.rev = rev
	return nil
}

// release gives the lease up, keeping the progress, so that the pair's
// other node may go on at once.
func (c *claim) release(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p.Until = time.Time{}
	rev, err := c.kv.Update(ctx, c.key, c.encode(), c.rev)
	if err != nil {
		return fmt.Errorf("reconcile: releasing progress %s: %w", c.key, err)
	}
	c.rev = rev
	return nil
}

// snapshot returns a copy of the progress.
func (c *claim) snapshot() progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	p.Engagements = make(map[string]bool, len(c.p.Engagements))
	for k, v := range c.p.Engagements {
		p.Engagements[k] = v
	}
	return p
}
