package coverage

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/zccingest/zccingest/events"
)

// A Record is one node's entry in the ledger bucket, under the key
// <account>.<node>: what its subscriptions were open for, vouched for up to
// AsOf. Times are Unix milliseconds.
type Record struct {
	Node    string `json:"node"`
	Account string `json:"account"`
	// AsOf: the node vouches for this record up to here. A record whose
	// AsOf is older than the stale bound counts as closed from AsOf: the
	// node (or its link to NATS) is gone.
	AsOf int64 `json:"as_of"`
	// Started is when the node's process started; Stopped when it stopped
	// cleanly (0 while it runs, and after a crash).
	Started int64          `json:"started"`
	Stopped int64          `json:"stopped,omitempty"`
	Subs    map[string]Sub `json:"subs"`
	// Down are the times the node's process was not running, found on its
	// restart: from the last AsOf of the process before to the start.
	Down []Span `json:"down,omitempty"`
}

// A Sub is one subscription's coverage on a node.
type Sub struct {
	// OpenSince is when the subscription's connection opened, nil while
	// none is open.
	OpenSince *int64 `json:"open_since"`
	// Intervals are the closed intervals it was open, oldest first.
	Intervals []Span `json:"intervals"`
}

// A Span is [from, to] in Unix milliseconds; JSON [from,to].
type Span [2]int64

func (s Span) from() int64 { return s[0] }
func (s Span) to() int64   { return s[1] }

// union returns the spans merged: sorted, none touching another.
func union(spans []Span) []Span {
	s := slices.Clone(spans)
	slices.SortFunc(s, func(a, b Span) int { return cmp.Compare(a.from(), b.from()) })
	out := s[:0]
	for _, sp := range s {
		if sp.to() < sp.from() {
			continue
		}
		if n := len(out); n > 0 && sp.from() <= out[n-1].to() {
			out[n-1][1] = max(out[n-1].to(), sp.to())
			continue
		}
		out = append(out, sp)
	}
	return out
}

// holes returns the spans between the merged spans u that end by until:
// the holes that have ended, as far as anyone can know at until.
func holes(u []Span, until int64) []Span {
	var out []Span
	for i := 1; i < len(u); i++ {
		if u[i].from() > until {
			break
		}
		out = append(out, Span{u[i-1].to(), u[i].from()})
	}
	return out
}

// coveredIn returns how many milliseconds of [from, to] the merged spans u
// cover.
func coveredIn(u []Span, from, to int64) int64 {
	var n int64
	for _, s := range u {
		a, b := max(s.from(), from), min(s.to(), to)
		if b > a {
			n += b - a
		}
	}
	return n
}

// overlaps reports whether any of the spans has time in common with h.
func overlaps(spans []Span, h Span) bool {
	for _, s := range spans {
		if s.from() < h.to() && h.from() < s.to() {
			return true
		}
	}
	return false
}

// A Leg is one subscription of one node.
type Leg struct {
	Node         string `json:"node"`
	Subscription string `json:"subscription"`
	// OpenSince is when its connection opened; zero while closed.
	OpenSince int64 `json:"open_since,omitempty"`
	Stale     bool  `json:"stale,omitempty"` // its node's record is older than the stale bound
	// Stopped is when its node's process stopped cleanly (its last record).
	Stopped int64 `json:"stopped,omitempty"`
}

// A View is what the ledger's records say at one moment.
type View struct {
	Account string `json:"account"`
	At      int64  `json:"at"`
	// Horizon is the oldest AsOf of the live nodes: every node vouches
	// for its record up to here, so a hole that ended by it is final.
	Horizon int64 `json:"horizon"`
	// Covered: at least one leg of a live node is open now.
	Covered bool  `json:"covered"`
	Legs    []Leg `json:"legs"`
	// Gaps and Interruptions that have ended, oldest first.
	Gaps          []events.Gap `json:"gaps"`
	Interruptions []events.Gap `json:"interruptions"`
	// Since is where the records' knowledge starts (the first interval
	// opened, within the retention); Ratio is the part of [max(Since,
	// At-window), At] that some leg covered.
	Since int64   `json:"since"`
	Ratio float64 `json:"ratio"`
}

// Analyze computes the view of the account at now from every node's record:
// a gap is a hole in the union of every leg's coverage, an interruption a
// hole in one leg's coverage that the others covered throughout (a hole
// that overlaps a gap is told by the gap).
// Every node computes the same holes from the same records. Holes that
// end before since are left out (retention).
func Analyze(account string, recs []Record, now time.Time, stale, window time.Duration, since int64) View {
	at := now.UnixMilli()
	v := View{Account: account, At: at, Horizon: -1}
	live := func(r Record) bool { return at-r.AsOf <= stale.Milliseconds() }
	for _, r := range recs {
		if live(r) && (v.Horizon < 0 || r.AsOf < v.Horizon) {
			v.Horizon = r.AsOf
		}
	}
	if v.Horizon < 0 { // no node is live: what the last one said is all there is
		for _, r := range recs {
			v.Horizon = max(v.Horizon, r.AsOf)
		}
	}
	type legSpans struct {
		Leg
		spans []Span
	}
	var legs []legSpans
	var all, down []Span
	nodes, subs := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		nodes[r.Node] = true
		down = append(down, r.Down...)
		for name, s := range r.Subs {
			subs[name] = true
			l := legSpans{Leg: Leg{Node: r.Node, Subscription: name, Stale: !live(r), Stopped: r.Stopped}, spans: slices.Clone(s.Intervals)}
			if s.OpenSince != nil {
				end := at // open now, as far as a live node says
				if !live(r) {
					end = r.AsOf // gone: closed from its last word
				} else {
					l.OpenSince = *s.OpenSince
					v.Covered = true
				}
				l.spans = append(l.spans, Span{*s.OpenSince, max(end, *s.OpenSince)})
			}
			l.spans = union(l.spans)
			all = append(all, l.spans...)
			legs = append(legs, l)
		}
	}
	slices.SortFunc(legs, func(a, b legSpans) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Subscription, b.Subscription))
	})
	u := union(all)
	nodeList, subList := sortedKeys(nodes), sortedKeys(subs)
	for _, h := range holes(u, v.Horizon) {
		if h.to() < since {
			continue
		}
		cause := "disconnected"
		if overlaps(down, h) {
			cause = "process_down"
		}
		v.Gaps = append(v.Gaps, events.Gap{
			ID: events.GapID(events.SystemGap, account, h.from(), h.to(), ""), Kind: events.SystemGap, AccountID: account,
			From: h.from(), To: h.to(), Subscriptions: subList, Nodes: nodeList, Cause: cause,
		})
	}
	accountHoles := holes(u, math.MaxInt64)
	for _, l := range legs {
		v.Legs = append(v.Legs, l.Leg)
		for _, h := range holes(l.spans, v.Horizon) {
			if h.to() < since || overlaps(accountHoles, h) {
				continue // before the retention, or part of a gap: the gap says it
			}
			cause := "disconnected"
			if overlaps(down, h) {
				cause = "process_down"
			}
			v.Interruptions = append(v.Interruptions, events.Gap{
				ID:   events.GapID(events.SystemInterruption, account, h.from(), h.to(), l.Subscription),
				Kind: events.SystemInterruption, AccountID: account, From: h.from(), To: h.to(),
				Subscriptions: []string{l.Subscription}, Nodes: []string{l.Node}, Cause: cause,
			})
		}
	}
	slices.SortFunc(v.Interruptions, func(a, b events.Gap) int { return cmp.Compare(a.From, b.From) })
	if len(u) > 0 {
		v.Since = u[0].from()
		from := max(v.Since, at-window.Milliseconds())
		if at > from {
			v.Ratio = float64(coveredIn(u, from, at)) / float64(at-from)
		}
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
