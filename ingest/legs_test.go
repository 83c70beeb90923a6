package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/test/sim"
)

type nopSink struct{}

func (nopSink) Publish(_ context.Context, msgs []*events.Message, errs []error) { clear(errs) }
func (nopSink) Ready() error                                                    { return nil }

// singleLeg returns zccingest_single_leg_events_total by subscription.
func singleLeg(t *testing.T, in *ingest.Ingester) map[string]int {
	t.Helper()
	mfs, err := in.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() == "zccingest_single_leg_events_total" {
			for _, m := range mf.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = int(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

// An event delivered on one leg of a pair only, while both legs were
// open, is counted for that leg once its de-duplication window has
// passed; none is counted for a window in which a leg closed.
func TestSingleLegEvents(t *testing.T) {
	for _, closeB := range []bool{false, true} {
		name := "both-open"
		if closeB {
			name = "b-closed-for-a-moment"
		}
		t.Run(name, func(t *testing.T) {
			const w = time.Second
			in, err := ingest.New(ingest.Options{Sink: nopSink{}, SubjectPrefix: "zoom", Subscriptions: []string{"a", "b"}, DuplicateWindow: w})
			if err != nil {
				t.Fatal(err)
			}
			src := sim.NewExampleSource()
			t0 := time.Now()
			send := func(at time.Duration, subs ...string) {
				ev, err := src.Next()
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range subs {
					in.Handle(s, sim.MessageFrame(ev), t0.Add(at))
				}
			}
			in.OnState("a", true, t0, "")
			in.OnState("b", true, t0, "")
			send(w+10*time.Millisecond, "a", "b") // turns: a map made with both legs open
			for range 3 {
				send(w+20*time.Millisecond, "a")
			}
			send(w+30*time.Millisecond, "b")
			send(w+40*time.Millisecond, "b", "a")
			if closeB {
				in.OnState("b", false, t0, "read_error")
				in.OnState("b", true, t0, "")
			}
			send(2*w+50*time.Millisecond, "a", "b") // turns: that map held a window more
			send(3*w+60*time.Millisecond, "a", "b") // turns: that map discarded, and counted
			want := map[string]int{"a": 3, "b": 1}
			if closeB {
				want = map[string]int{"a": 0, "b": 0}
			}
			var got map[string]int
			for deadline := time.Now().Add(10 * time.Second); ; {
				// The count runs in a goroutine of its own: wait for it.
				if got = singleLeg(t, in); got["a"] == want["a"] && got["b"] == want["b"] || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if got["a"] != want["a"] || got["b"] != want["b"] {
				t.Errorf("single-leg events %v, want %v", got, want)
			}
			if _, metrics := get(t, in, "/metrics"); !strings.Contains(metrics, `zccingest_single_leg_events_total{subscription="b"}`) {
				t.Error("/metrics lacks the series of leg b")
			}
		})
	}
}

// Options.Ready's lines follow /readyz's verdict, whatever it is, and do
// not change its status code.
func TestReadyzExtraLines(t *testing.T) {
	in, err := ingest.New(ingest.Options{Sink: nopSink{}, SubjectPrefix: "zoom", Subscriptions: []string{"a"},
		Ready: func() []string { return []string{"coverage: account acct covered by n2/b"} }})
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, in, "/readyz")
	if code != 503 || !strings.HasPrefix(body, "subscription a: not connected\n") || !strings.HasSuffix(body, "coverage: account acct covered by n2/b\n") {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, _ := get(t, in, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
}
