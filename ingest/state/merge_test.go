package state_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/zccingest/zccingest/ingest/state"
)

func fold(t testing.TB, ins []state.Input) *state.Memory {
	t.Helper()
	m := state.NewMemory()
	for _, in := range ins {
		if err := m.Apply(in); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func sameState(t *testing.T, what string, got, want *state.Memory) {
	t.Helper()
	if !reflect.DeepEqual(got.Agents(), want.Agents()) {
		t.Fatalf("%s: agents differ from the fold in order", what)
	}
	if !reflect.DeepEqual(got.Engagements(), want.Engagements()) {
		t.Fatalf("%s: engagements differ from the fold in order", what)
	}
}

// The merge of generated traffic in generation order is what the plain
// state machine says.
func TestMergeMatchesReference(t *testing.T) {
	ins := generate(t, 1, 8, 1600)
	// Cut the traffic after an answer, so that one engagement is open.
	for len(ins) > 1000 && ins[len(ins)-1].Name != "contact_center.engagement_user_answered" {
		ins = ins[:len(ins)-1]
	}
	m := fold(t, ins)
	ref := newReference()
	for _, in := range ins {
		ref.add(t, in)
	}
	if d := ref.diff(m.Agents(), m.Engagements()); len(d) > 0 {
		t.Fatalf("%d differences, first: %s", len(d), strings.Join(d[:min(5, len(d))], "\n"))
	}
	open := 0
	for _, e := range m.Engagements() {
		if !e.Ended {
			open++
		}
	}
	if open == 0 || len(m.Agents()) < 2 {
		t.Fatalf("traffic too thin to test: %d open engagements, %d agents", open, len(m.Agents()))
	}
}

// Property: every order of the same events, each applied once or more,
// gives the same state.
func TestMergeAnyOrderAnyRepeat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ins  []state.Input
	}{
		{"distinct event_ts", generate(t, 2, 5, 300)},
		{"event_ts as generated, shared milliseconds", generated(t, 3, 5, 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := fold(t, tc.ins)
			rnd := rand.New(rand.NewPCG(7, 11))
			for i := range 8 {
				ins := append([]state.Input(nil), tc.ins...)
				if i%2 == 1 { // each event once to three times
					for _, in := range tc.ins {
						for range rnd.IntN(3) {
							ins = append(ins, in)
						}
					}
				}
				rnd.Shuffle(len(ins), func(a, b int) { ins[a], ins[b] = ins[b], ins[a] })
				sameState(t, "a shuffled order", fold(t, ins), want)
			}
			// A window shuffled, as sim.Shuffle delivers: local disorder.
			ins := append([]state.Input(nil), tc.ins...)
			for w := 0; w+16 <= len(ins); w += 16 {
				rnd.Shuffle(16, func(a, b int) { ins[w+a], ins[w+b] = ins[w+b], ins[w+a] })
			}
			sameState(t, "a shuffled window", fold(t, ins), want)
		})
	}
}

// Every order of a real engagement's decisive events.
func TestMergeEveryOrder(t *testing.T) {
	t.Parallel()
	all := generate(t, 4, 1, 40)
	var ins []state.Input
	picked := map[string]bool{}
	for _, in := range all {
		switch name := strings.TrimPrefix(in.Name, "contact_center."); name {
		case "user_status_changed", "engagement_user_answered", "engagement_user_hold", "engagement_user_unhold",
			"engagement_user_ended", "engagement_ended":
			if !picked[name] {
				picked[name] = true
				ins = append(ins, in)
			}
		}
	}
	if len(ins) != 6 {
		t.Fatalf("picked %d events, want 6", len(ins))
	}
	want := fold(t, ins)
	n := 0
	permute(ins, 0, func(p []state.Input) {
		n++
		sameState(t, "a permutation", fold(t, p), want)
	})
	if n != 720 {
		t.Fatalf("%d permutations", n)
	}
}

func permute(a []state.Input, k int, f func([]state.Input)) {
	if k == len(a) {
		f(a)
		return
	}
	for i := k; i < len(a); i++ {
		a[k], a[i] = a[i], a[k]
		permute(a, k+1, f)
		a[k], a[i] = a[i], a[k]
	}
}

// generated is generate with the generator's own event_ts.
func generated(t testing.TB, seed uint64, agents, n int) []state.Input {
	t.Helper()
	ins := generate(t, seed, agents, n)
	for i := range ins {
		ins[i].TS = 1_800_000_000_000 + int64(i/7) // seven to a millisecond
	}
	return ins
}

func ev(name string, ts int64, obj string) state.Input {
	return state.Input{ID: name + "-" + string(rune('a'+ts%26)), Name: "contact_center." + name, TS: ts, AccountID: "acct", Source: state.SourceWebSocket, Object: json.RawMessage(obj)}
}

// The rules a late event must not break, in both orders.
func TestLateEventsDoNotRollBack(t *testing.T) {
	const e, u = `"engagement_id":"E1"`, `"user_id":"U1"`
	for _, tc := range []struct {
		name   string
		events []state.Input
		check  func(*state.Memory) string
	}{
		{"answer after the end", []state.Input{ev("engagement_user_answered", 10, "{"+e+","+u+"}"), ev("engagement_ended", 20, "{"+e+"}")},
			func(m *state.Memory) string {
				if a := m.Agents()["acct.U1"]; len(a.Engagements) != 0 {
					return "the agent still holds the ended engagement"
				}
				if !m.Engagements()["acct.E1"].Ended {
					return "not ended"
				}
				return ""
			}},
		{"hold older than unhold", []state.Input{ev("engagement_user_hold", 10, "{"+e+"}"), ev("engagement_user_unhold", 20, "{"+e+"}")},
			func(m *state.Memory) string {
				if m.Engagements()["acct.E1"].Hold {
					return "on hold"
				}
				return ""
			}},
		{"status older than logout", []state.Input{ev("user_status_changed", 10, `{`+u+`,"current_status_name":"Ready"}`), ev("user_logout", 20, "{"+u+"}")},
			func(m *state.Memory) string {
				if a := m.Agents()["acct.U1"]; a.LoggedIn || a.Status != "Offline" {
					return "logged in again: " + a.Status
				}
				return ""
			}},
		{"ended stays ended", []state.Input{ev("engagement_started", 5, "{"+e+"}"), ev("engagement_ended", 10, "{"+e+"}"), ev("engagement_user_answered", 7, "{"+e+","+u+"}")},
			func(m *state.Memory) string {
				if x := m.Engagements()["acct.E1"]; !x.Ended || x.EndedAt != 10 || x.StartedAt != 5 {
					return "reopened"
				}
				return ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}} {
				var ins []state.Input
				for _, i := range order {
					if i < len(tc.events) {
						ins = append(ins, tc.events[i])
					}
				}
				if msg := tc.check(fold(t, ins)); msg != "" {
					t.Errorf("order %v: %s", order, msg)
				}
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	for _, bad := range []string{`not json`, `{"event_ts":1,"account_id":"a"}`, `{"event":"x","account_id":"a"}`, `{"event":"x","event_ts":1}`} {
		if _, err := state.ParseMessage([]byte(bad), "id", ""); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	in, err := state.ParseMessage([]byte(`{"id":"k","event":"contact_center.user_login","event_ts":5,"account_id":"a","source":"rest","object":{"user_id":"u"}}`), "", "")
	if err != nil || in.ID != "k" || in.Source != state.SourceREST || in.TS != 5 {
		t.Fatalf("%+v %v", in, err)
	}
	m := state.NewMemory()
	if err := m.Apply(state.Input{ID: "x", Name: "contact_center.engagement_ended", TS: 1, AccountID: "a", Object: json.RawMessage(`{}`)}); err == nil {
		t.Error("an engagement event without engagement_id applied")
	}
	if err := m.Apply(state.Input{ID: "x", Name: "contact_center.user_login", TS: 1, AccountID: "a", Object: json.RawMessage(`{"user_id":5}`)}); err == nil {
		t.Error("a user_id of the wrong type applied")
	}
}

// Ids from outside are bounded before they become a key: a token that is
// not 1 to 128 of [A-Za-z0-9_-] becomes x and 32 hex digits.
func TestKey(t *testing.T) {
	if k := state.Key("acct_1", "E-1"); k != "acct_1.E-1" {
		t.Errorf("safe ids changed: %s", k)
	}
	long := strings.Repeat("a", 129)
	for _, tc := range [][2]string{{"a.b", "e"}, {"a", "x y"}, {"a", long}, {"", "e"}, {"a", "*"}, {"a", ">"}} {
		k := state.Key(tc[0], tc[1])
		parts := strings.Split(k, ".")
		if len(parts) != 2 || len(k) > 2*33+1 {
			t.Errorf("Key(%q, %q) = %q: not two bounded tokens", tc[0], tc[1], k)
		}
		for _, p := range parts {
			if strings.ContainsAny(p, "*> .") || p == "" {
				t.Errorf("Key(%q, %q) = %q: unsafe token", tc[0], tc[1], k)
			}
		}
	}
	if state.Key("a", "x y") == state.Key("a", "x_y") {
		t.Error("an unsafe id collides with a safe one")
	}
}
