package sim

import (
	"context"
	"slices"
	"testing"
)

// The server records every generated event in order, and whether an open
// socket took it: Play and Steady alike.
func TestTruthRecordsSent(t *testing.T) {
	s := start(t, Options{})
	g := NewGenerator(3, "acct", 5)
	if _, err := s.Play(ctxT(t), g, 0, 40); err != nil {
		t.Fatal(err)
	}
	c := connect(t, s, "simsub1")
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	if _, err := s.Play(ctxT(t), g, 0, 30); err != nil {
		t.Fatal(err)
	}
	stop := s.Steady(g, 200)
	err := s.wait(ctxT(t), func() bool { return len(s.truth) >= 80 })
	stop()
	if err != nil {
		t.Fatal(err)
	}
	truth := s.Truth()
	var evs []TruthEvent
	for _, e := range g.Engagements() {
		evs = append(evs, e.Events...)
	}
	for i, te := range truth {
		if te.Sent != (i >= 40) {
			t.Fatalf("event %d (%s) Sent = %v; the socket opened after event 40", i, te.Name, te.Sent)
		}
		if i > 0 && te.TS < truth[i-1].TS {
			t.Errorf("event %d out of order", i)
		}
		if te.Account != "acct" && te.Name != "contact_center.voice_rtms_started" && te.Name != "contact_center.voice_rtms_stopped" {
			t.Errorf("event %d account %q", i, te.Account)
		}
		if te.EngagementID != "" && !slices.ContainsFunc(evs, func(e TruthEvent) bool { return e.TS == te.TS && e.Name == te.Name }) {
			t.Errorf("event %d (%s) is not in its engagement's truth", i, te.Name)
		}
	}
	if gs := s.generators(); len(gs) != 1 || gs[0] != g {
		t.Errorf("tracked %d generators", len(gs))
	}
}

// Agents move through consistent states: each status change starts from
// the status the last one left; login before leaving Offline, logout after
// going Offline; Occupied only on an engagement.
func TestGeneratorAgentStates(t *testing.T) {
	g := NewGenerator(9, "acct", 6)
	status := map[string]string{}
	loggedIn := map[string]bool{}
	seen := map[string]int{}
	for range 4000 {
		b, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := decodeEvent(b)
		o := ev.Payload.Object
		id := str(o, "user_id")
		switch ev.Event {
		case "contact_center.user_login":
			if loggedIn[id] {
				t.Fatalf("%s logs in twice", id)
			}
			loggedIn[id] = true
		case "contact_center.user_logout":
			if !loggedIn[id] || status[id] != StatusOffline {
				t.Fatalf("%s logs out while %q (logged in %v)", id, status[id], loggedIn[id])
			}
			loggedIn[id] = false
		case "contact_center.user_status_changed":
			prev, cur := str(o, "previous_status_name"), str(o, "current_status_name")
			if was := status[id]; (was == "" && prev != StatusOffline) || (was != "" && was != prev) {
				t.Fatalf("%s: change from %q, but the last left %q", id, prev, was)
			}
			if cur != StatusOffline && !loggedIn[id] {
				t.Fatalf("%s goes %s without logging in", id, cur)
			}
			status[id] = cur
			seen[prev+">"+cur+"/"+str(o, "current_sub_status_name")]++
		}
	}
	for _, k := range []string{"Offline>Ready/", "Ready>Occupied/Inbound", "Occupied>Occupied/Wrapping up", "Occupied>Ready/", "Ready>Not Ready/Break", "Not Ready>Ready/", "Ready>Offline/"} {
		if seen[k] == 0 {
			t.Errorf("no %s in %v", k, seen)
		}
	}
	for _, c := range g.StatusChanges() {
		if (c.Status == StatusOccupied) != (c.EngagementID != "") {
			t.Errorf("status change %+v: an Occupied row names its engagement, no other does", c)
		}
	}
	open := g.OpenEngagements()
	for id, a := range g.AgentTruth() {
		if a.Status != StatusOffline && a.Status != status[id] || a.LoggedIn != loggedIn[id] {
			t.Errorf("%s: truth %+v, events say %s, logged in %v", id, a, status[id], loggedIn[id])
		}
		for _, e := range a.Engagements {
			if !slices.Contains(open[e].Agents, id) {
				t.Errorf("%s holds %s, which is not open with it", id, e)
			}
		}
	}
}
