package reconcile

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

// received is what the events stream holds around a gap: every Contact
// Center event, live or rebuilt by an earlier run, by (event name, id),
// with its event_ts. It is read from the stream, not trusted to the
// duplicate window, which a reconciliation hours later outlives.
type received struct {
	byKey map[recvKey][]seen
	// inWindow holds the engagements an event in the query window was
	// received for: Zoom shows them once it has processed them. started
	// holds the event_ts of the engagement_started received.
	inWindow map[string]bool
	started  map[string]int64
	lastSeq  uint64 // the last stream sequence read
}

type recvKey struct{ name, id string }

type seen struct {
	ts  int64
	key string // the message id
	// rebuilt: a rebuilt event (an earlier run's, or this run's), which
	// stands only for itself, found by its key. used: a live event that
	// a rebuilt one was found to be already.
	rebuilt, used bool
}

func newReceived() *received {
	return &received{byKey: map[recvKey][]seen{}, inWindow: map[string]bool{}, started: map[string]int64{}}
}

// A verdict says whether a rebuilt event was received.
type verdict int

const (
	notReceived     verdict = iota
	receivedLive            // a live event of the same name and id, event_ts within tol
	publishedBefore         // this very event (its key), published by an earlier run
)

// match tells, for each rebuilt event, whether it was received: published
// before (its key), or received live — a live event of the same name and
// id with event_ts within tol (REST times are whole seconds, end times a
// start plus a rounded duration). A live event stands for one rebuilt
// event only: pairs are taken nearest first, across the events of the
// whole batch (those outside the gap too), so that an agent's two status
// changes a second apart, one each side of the gap's edge, are not both
// taken for the one received. A rebuilt message stands only for itself.
func (rc *received) match(evs []rebuiltEvent, keys []string, tol int64) []verdict {
	out := make([]verdict, len(evs))
	type pair struct {
		ev   int
		cand *seen
		d    int64
	}
	groups := map[recvKey][]int{}
	for i := range evs {
		k := recvKey{evs[i].Name, evs[i].matchID()}
		if slices.ContainsFunc(rc.byKey[k], func(s seen) bool { return s.key == keys[i] }) {
			out[i] = publishedBefore
			continue
		}
		groups[k] = append(groups[k], i)
	}
	for k, idx := range groups {
		list := rc.byKey[k]
		var pairs []pair
		for _, i := range idx {
			for j := range list {
				s := &list[j]
				if s.rebuilt || s.used {
					continue
				}
				if d := abs(s.ts - evs[i].TS); d <= tol {
					pairs = append(pairs, pair{i, s, d})
				}
			}
		}
		slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(a.d, b.d) })
		for _, p := range pairs {
			if out[p.ev] != notReceived || p.cand.used {
				continue
			}
			p.cand.used = true
			out[p.ev] = receivedLive
		}
	}
	return out
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// add notes an event read from the stream, or published by this run
// (rebuilt).
func (rc *received) add(name, id string, ts int64, key string, rebuilt bool) {
	if id == "" {
		return
	}
	k := recvKey{name, id}
	rc.byKey[k] = append(rc.byKey[k], seen{ts: ts, key: key, rebuilt: rebuilt})
}

// streamBody is what the live check reads of a message body.
type streamBody struct {
	ID      string `json:"id"`
	Event   string `json:"event"`
	EventTS int64  `json:"event_ts"`
	Source  string `json:"source"`
	Object  struct {
		EngagementID string `json:"engagement_id"`
		UserID       string `json:"user_id"`
	} `json:"object"`
}

// accountSubjects returns <prefix>.<account token>.cc.>: the account's
// Contact Center events, where every rebuilt event goes.
func accountSubjects(prefix, account string) string {
	return events.AccountSubject(prefix, account, "cc.>")
}

// readReceived reads the account's Contact Center events stored since
// start (by the time they were stored) to the end of the stream, with an
// ordered consumer, keeping those whose event_ts is in [lo, hi]. Given
// the set of an earlier read (rc not nil), it reads on from where that one
// stopped.
func readReceived(ctx context.Context, js jetstream.JetStream, stream, prefix, account string, start time.Time, lo, hi int64, rc *received) (*received, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{accountSubjects(prefix, account)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	}
	if rc == nil {
		rc = newReceived()
	} else if rc.lastSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, rc.lastSeq+1
	}
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("reconcile: reading the events received around the gap: %w", err)
	}
	for {
		batch, err := cons.FetchNoWait(512)
		if err != nil {
			return nil, fmt.Errorf("reconcile: reading the events received around the gap: %w", err)
		}
		n := 0
		last := false
		for m := range batch.Messages() {
			n++
			var b streamBody
			if json.Unmarshal(m.Data(), &b) == nil && b.Event != "" && b.EventTS >= lo && b.EventTS <= hi {
				id := b.Object.EngagementID
				if id == "" {
					id = b.Object.UserID
				}
				rc.add(b.Event, id, b.EventTS, b.ID, b.Source == events.SourceREST)
				if b.Object.EngagementID != "" {
					rc.inWindow[b.Object.EngagementID] = true
				}
			}
			if id := b.Object.EngagementID; id != "" && b.Event == evStarted {
				rc.started[id] = b.EventTS
			}
			if md, err := m.Metadata(); err == nil {
				rc.lastSeq = md.Sequence.Stream
				last = md.NumPending == 0
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("reconcile: reading the events received around the gap: %w", err)
		}
		if n == 0 || last {
			return rc, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// mayHaveEventsIn reports whether the engagement may have had events in
// [from, to]: not when it was received starting after it. (One received
// ending before it may still have had its wrap-up in it.)
func (rc *received) mayHaveEventsIn(id string, from, to int64) bool {
	ts, ok := rc.started[id]
	return !ok || ts <= to
}
