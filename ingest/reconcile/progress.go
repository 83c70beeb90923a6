package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

// progress is a gap's entry in the progress bucket (key <account>.<gap id>):
// who works on it until when, what is done, and the summary so far, so
// that a node restarted mid-gap resumes where it stopped and the pair's
// other node leaves alone a gap done or leased. Each engagement done has
// a key of its own, <account>.<gap id>.e.<engagement>, holding its counts
// (written once, when its events are published), so that the entry stays
// small however many engagements a gap has, and no count is lost or
// doubled by a stop in between.
type progress struct {
	Node       string    `json:"node"`
	Until      time.Time `json:"until"` // the lease; zero when released
	Done       bool      `json:"done"`
	AgentsDone bool      `json:"agents_done,omitempty"`
	// Summary: the counts of the agent statuses, requests and errors;
	// the engagements' counts are in their keys, NotRecoverable is added
	// at the end.
	Summary events.Reconciled `json:"summary"`
	// Unknown counts timeline event_types outside the vocabulary.
	Unknown map[string]int `json:"unknown,omitempty"`
}

// engagementCounts is the value of an engagement's key.
type engagementCounts struct {
	Recovered map[string]int `json:"recovered,omitempty"`
	Skipped   map[string]int `json:"skipped,omitempty"`
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
	// engagements done (by the token of their key), and the sum of their
	// counts.
	engagements map[string]bool
	engCounts   engagementCounts
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
	if err := c.loadEngagements(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// engagementKey is the key that says an engagement of the gap is done:
// the id itself when it is a key token (Zoom's are), else its digest.
func (c *claim) engagementKey(id string) string {
	tok := keyToken(id)
	if tok != id {
		sum := sha256.Sum256([]byte(id))
		tok = "h" + hex.EncodeToString(sum[:12])
	}
	return c.key + ".e." + tok
}

func (c *claim) loadEngagements(ctx context.Context) error {
	c.engagements = map[string]bool{}
	c.engCounts = engagementCounts{Recovered: map[string]int{}, Skipped: map[string]int{}}
	prefix := c.key + ".e."
	w, err := c.kv.Watch(ctx, prefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("reconcile: reading progress %s: %w", c.key, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("reconcile: reading progress %s: %w", c.key, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("reconcile: reading progress %s: the watch ended", c.key)
			}
			if e == nil {
				return nil // every key read
			}
			var n engagementCounts
			_ = json.Unmarshal(e.Value(), &n) // unreadable: done, uncounted
			c.add(strings.TrimPrefix(e.Key(), prefix), n)
		}
	}
}

func (c *claim) add(tok string, n engagementCounts) {
	c.engagements[tok] = true
	for k, v := range n.Recovered {
		c.engCounts.Recovered[k] += v
	}
	for k, v := range n.Skipped {
		c.engCounts.Skipped[k] += v
	}
}

// engagementDone reports whether the engagement is done.
func (c *claim) engagementDone(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.engagements[strings.TrimPrefix(c.engagementKey(id), c.key+".e.")]
}

// markEngagement records the engagement as done, with its counts.
func (c *claim) markEngagement(ctx context.Context, id string, n engagementCounts) error {
	k := c.engagementKey(id)
	b, _ := json.Marshal(n) // plain data: always encodes
	if _, err := c.kv.Put(ctx, k, b); err != nil {
		return fmt.Errorf("reconcile: writing progress %s: %w", k, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(strings.TrimPrefix(k, c.key+".e."), n)
	return nil
}

// summary returns the summary so far: the entry's, with the engagements'
// counts added.
func (c *claim) summary() events.Reconciled {
	p := c.snapshot()
	s := p.Summary
	s.Recovered, s.Skipped = map[string]int{}, map[string]int{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, src := range []engagementCounts{{p.Summary.Recovered, p.Summary.Skipped}, c.engCounts} {
		for k, v := range src.Recovered {
			s.Recovered[k] += v
		}
		for k, v := range src.Skipped {
			s.Skipped[k] += v
		}
	}
	return s
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

// snapshot returns a copy of the progress, its maps included.
func (c *claim) snapshot() progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.p
	p.Summary.Recovered = maps.Clone(p.Summary.Recovered)
	p.Summary.Skipped = maps.Clone(p.Summary.Skipped)
	p.Summary.Errors = slices.Clone(p.Summary.Errors)
	p.Unknown = maps.Clone(p.Unknown)
	return p
}
