package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/reconcile"
	"github.com/zccingest/zccingest/ingest/zoomrest"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// The simulator's ground truth through its REST endpoints and the real
// client: 5 minutes of traffic, 20 agents, a 60 s gap that ended 10 s
// ago, Zoom's Pro rate limits, a 15 s processing delay and the analytics
// repeated-page bug. What was generated outside the gap is in the stream
// as received; of the recoverable events generated inside it, at least
// 95% come back, none that did not happen, none twice.
func TestSimulatorGap(t *testing.T) {
	s := sim.New(sim.Options{})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.SetREST(sim.RESTOptions{ProcessingDelay: 15 * time.Second, RepeatFirstPage: true})
	account := s.Options().AccountID
	g := sim.NewGenerator(7, account, 20)
	const n, step = 3000, 100 * time.Millisecond
	t0 := time.Now().Add(-n * step).Truncate(time.Millisecond)
	var i atomic.Int64
	g.SetClock(func() time.Time { return t0.Add(time.Duration(i.Add(1)) * step) })
	ctx := testnats.Timeout(t, 3*time.Minute)
	if _, err := s.Play(ctx, g, 0, n); err != nil {
		t.Fatal(err)
	}
	truth := s.Truth()
	end := t0.Add(n * step)
	from, to := end.Add(-70*time.Second).UnixMilli(), end.Add(-10*time.Second).UnixMilli()

	h := newNATS(t)
	var msgs []*events.Message
	inGap := map[string]int{}
	for _, e := range truth {
		if e.TS >= from && e.TS <= to {
			inGap[e.Name]++
			continue
		}
		obj := map[string]any{"user_id": e.UserID}
		if e.EngagementID != "" {
			obj["engagement_id"] = e.EngagementID
		}
		env, _ := json.Marshal(map[string]any{"event": e.Name, "event_ts": e.TS, "payload": map[string]any{"account_id": account, "object": obj}})
		ev, err := events.ParseEvent(env)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ev.Message(prefix, "ris-a", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	gap := events.Gap{ID: events.GapID(events.SystemGap, account, from, to, ""), Kind: events.SystemGap, AccountID: account, From: from, To: to}
	body, _ := json.Marshal(gap)
	msgs = append(msgs, &events.Message{Subject: events.SystemSubject(prefix, account, events.SystemGap), ID: gap.ID,
		Header: events.Header{events.HeaderMsgID: {gap.ID}}, Data: body})
	for b := range slices.Chunk(msgs, 500) {
		h.publish(ctx, b)
	}

	tok := simToken(t, s)
	rc, err := zoomrest.New(zoomrest.Options{BaseURL: s.RESTURL(), Token: func(context.Context) (string, error) { return tok, nil }, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := reconcile.New(reconcile.Options{JS: h.js, Stream: stream, SubjectPrefix: prefix, Publisher: h.conn, REST: rc, Node: "n1",
		Settle: 10 * time.Second, RetryInterval: time.Second, ProcessingWait: time.Minute, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); r.Run(rctx) }()
	sum := h.waitSummariesOf(account, 1)[0]
	cancel()
	<-done
	t.Logf("summary: complete %v, %d requests, errors %q", sum.Complete, sum.Requests, sum.Errors)

	type key struct{ name, id string }
	happened := map[key][]int64{}
	for _, e := range truth {
		id := e.EngagementID
		if id == "" {
			id = e.UserID
		}
		happened[key{e.Name, id}] = append(happened[key{e.Name, id}], e.TS)
	}
	rebuilt, matched := map[string]int{}, map[string]int{}
	ids := map[string]bool{}
	wrong, twice := 0, 0
	for _, m := range h.read(prefix + ".>") {
		if m.body.Source != events.SourceREST {
			continue
		}
		if ids[m.body.ID] {
			twice++
		}
		ids[m.body.ID] = true
		rebuilt[m.body.Event]++
		var o struct {
			EngagementID string `json:"engagement_id"`
			UserID       string `json:"user_id"`
		}
		json.Unmarshal(m.body.Object, &o)
		id := cmpOr(o.EngagementID, o.UserID)
		near := func(ts int64) bool { return ts-m.body.EventTS <= 1000 && m.body.EventTS-ts <= 1000 }
		inside := func(ts int64) bool { return near(ts) && ts >= from && ts <= to }
		switch evs := happened[key{m.body.Event, id}]; {
		case slices.ContainsFunc(evs, inside):
			matched[m.body.Event]++
		case slices.ContainsFunc(evs, near):
			twice++ // received live, outside the gap, and rebuilt
			t.Errorf("published %s of %s at %d, received live", m.body.Event, id, m.body.EventTS)
		default:
			wrong++
			t.Errorf("published %s of %s at %d, which did not happen", m.body.Event, id, m.body.EventTS)
		}
	}
	recoverable, got := 0, 0
	var lines []string
	for _, name := range slices.Sorted(mapsKeys(inGap)) {
		_, not := reconcile.Unrecoverable(name)
		if !not {
			recoverable += inGap[name]
			got += min(matched[name], inGap[name])
		}
		lines = append(lines, fmt.Sprintf("%-58s in gap %3d  rebuilt %3d  recoverable %v", name, inGap[name], rebuilt[name], !not))
	}
	t.Logf("\n%s", strings.Join(lines, "\n"))
	pct := 100 * float64(got) / float64(recoverable)
	t.Logf("recoverable events in the gap %d, recovered %d (%.1f%%), wrong %d, twice %d", recoverable, got, pct, wrong, twice)
	if pct < 95 || wrong != 0 || twice != 0 || !sum.Complete {
		t.Errorf("recovered %.1f%%, wrong %d, twice %d, complete %v", pct, wrong, twice, sum.Complete)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func simToken(t *testing.T, s *sim.Server) string {
	t.Helper()
	tok, err := s.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
