package coverage

import (
	"reflect"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
)

func TestUnionAndHoles(t *testing.T) {
	u := union([]Span{{50, 60}, {10, 20}, {15, 30}, {30, 40}, {70, 80}, {5, 4}})
	if want := []Span{{10, 40}, {50, 60}, {70, 80}}; !reflect.DeepEqual(u, want) {
		t.Fatalf("union = %v, want %v", u, want)
	}
	if h, want := holes(u, 100), []Span{{40, 50}, {60, 70}}; !reflect.DeepEqual(h, want) {
		t.Errorf("holes = %v, want %v", h, want)
	}
	// A hole ends where coverage resumes: one that resumed past the
	// horizon is not known to be final yet.
	if h, want := holes(u, 69), []Span{{40, 50}}; !reflect.DeepEqual(h, want) {
		t.Errorf("holes up to 69 = %v, want %v", h, want)
	}
	if n := coveredIn(u, 35, 75); n != 5+10+5 {
		t.Errorf("covered in [35,75] = %d, want 20", n)
	}
}

func ms(v int64) *int64 { return &v }

var (
	stale  = 10 * time.Second
	window = time.Hour
)

func gapSpans(gs []events.Gap) [][3]any {
	var out [][3]any
	for _, g := range gs {
		out = append(out, [3]any{g.From, g.To, g.Cause})
	}
	return out
}

// Two nodes, one leg each: a hole of one leg that the other covered is an
// interruption, a hole of both a gap; the ids are the same whichever node
// computes them, and a gap resumed after the horizon (the oldest as_of of
// the live nodes) is not published yet.
func TestAnalyzeTwoNodes(t *testing.T) {
	now := time.UnixMilli(100_000)
	n1 := Record{Node: "n1", AsOf: 100_000, Subs: map[string]Sub{
		"a": {OpenSince: ms(60_000), Intervals: []Span{{1_000, 20_000}, {25_000, 50_000}}},
	}}
	n2 := Record{Node: "n2", AsOf: 99_000, Subs: map[string]Sub{
		"b": {OpenSince: ms(99_500), Intervals: []Span{{2_000, 30_000}, {40_000, 55_000}}},
	}}
	v := Analyze("acct", []Record{n1, n2}, now, stale, window, 0)
	if v.Horizon != 99_000 {
		t.Errorf("horizon %d, want the older as_of 99000", v.Horizon)
	}
	if got, want := gapSpans(v.Gaps), [][3]any{{int64(55_000), int64(60_000), "disconnected"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("gaps %v, want %v", got, want)
	}
	g := v.Gaps[0]
	if g.ID != events.GapID(events.SystemGap, "acct", 55_000, 60_000, "") || !reflect.DeepEqual(g.Nodes, []string{"n1", "n2"}) || !reflect.DeepEqual(g.Subscriptions, []string{"a", "b"}) {
		t.Errorf("gap %+v", g)
	}
	// a's hole 20-25 (b covered it), b's 30-40 (a covered it); a's 50-60
	// overlaps the gap, which tells it; b's 55-99.5 s resumed after the
	// horizon.
	if got, want := gapSpans(v.Interruptions), [][3]any{
		{int64(20_000), int64(25_000), "disconnected"}, {int64(30_000), int64(40_000), "disconnected"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("interruptions %v, want %v", got, want)
	}
	if !v.Covered || len(v.Legs) != 2 || v.Legs[0].OpenSince != 60_000 {
		t.Errorf("covered %v, legs %+v", v.Covered, v.Legs)
	}
	// The same records, seen by the other node a moment later: the same.
	v2 := Analyze("acct", []Record{n2, n1}, now.Add(500*time.Millisecond), stale, window, 0)
	if !reflect.DeepEqual(v2.Gaps, v.Gaps) || !reflect.DeepEqual(v2.Interruptions, v.Interruptions) {
		t.Errorf("the other node sees gaps %v and interruptions %v", gapSpans(v2.Gaps), gapSpans(v2.Interruptions))
	}
	// Covered: 1-60 s less the gap, and 60-100 s: 94 s of 99 s.
	if want := 94.0 / 99.0; v.Ratio < want-1e-9 || v.Ratio > want+1e-9 {
		t.Errorf("ratio %f, want %f", v.Ratio, want)
	}
	// Retention: holes that ended before since are left out.
	if v3 := Analyze("acct", []Record{n1, n2}, now, stale, window, 26_000); len(v3.Gaps) != 1 || len(v3.Interruptions) != 1 {
		t.Errorf("since 58 s: %v, %v", gapSpans(v3.Gaps), gapSpans(v3.Interruptions))
	}
}

// A node whose record went stale counts as closed from its as_of: another
// node opening later ends a gap that starts there. A node that finds on
// start it was down records the time, and the gap says process_down.
func TestAnalyzeStaleAndDown(t *testing.T) {
	now := time.UnixMilli(200_000)
	dead := Record{Node: "n1", AsOf: 100_000, Subs: map[string]Sub{"a": {OpenSince: ms(10_000)}}}
	alive := Record{Node: "n2", AsOf: 200_000, Subs: map[string]Sub{"b": {OpenSince: ms(150_000), Intervals: []Span{{5_000, 90_000}}}}}
	v := Analyze("acct", []Record{dead, alive}, now, stale, window, 0)
	if got, want := gapSpans(v.Gaps), [][3]any{{int64(100_000), int64(150_000), "disconnected"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("gaps %v, want %v", got, want)
	}
	if !v.Legs[0].Stale || v.Legs[0].OpenSince != 0 || v.Horizon != 200_000 {
		t.Errorf("legs %+v, horizon %d", v.Legs, v.Horizon)
	}
	// n1 restarts alone: its own last record closed at its as_of, down
	// from there to its start.
	back := Record{Node: "n1", AsOf: 200_000, Down: []Span{{100_000, 160_000}}, Subs: map[string]Sub{
		"a": {OpenSince: ms(161_000), Intervals: []Span{{10_000, 100_000}}}}}
	v = Analyze("acct", []Record{back}, now, stale, window, 0)
	if got, want := gapSpans(v.Gaps), [][3]any{{int64(100_000), int64(161_000), "process_down"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("gaps %v, want %v", got, want)
	}
	// No node live at all (status with everything stopped): the last
	// word of the records is the horizon, and nothing is covered.
	v = Analyze("acct", []Record{dead}, now, stale, window, 0)
	if v.Covered || v.Horizon != 100_000 || len(v.Gaps) != 0 {
		t.Errorf("all stale: %+v", v)
	}
}
