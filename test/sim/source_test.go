package sim

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/zccingest/zccingest/events"
)

// The generator's engagements carry the recording batch in a recorder's
// order, every event one the events package models, with consistent ids.
func TestGeneratorRecordingBatch(t *testing.T) {
	g := NewGenerator(2, "acct", 4)
	var engagements [][]string // event names per engagement
	ids := map[string]string{}
	for range 2000 {
		b, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.ParseEvent(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !ev.Known() {
			t.Fatalf("generated an event the events package does not model: %s", ev.Name)
		}
		if _, err := ev.Typed(); err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
		var o map[string]any
		json.Unmarshal(ev.Object, &o)
		if ev.Name == "contact_center.engagement_started" {
			engagements = append(engagements, nil)
			ids = map[string]string{"engagement_id": o["engagement_id"].(string)}
		}
		if len(engagements) == 0 {
			continue
		}
		engagements[len(engagements)-1] = append(engagements[len(engagements)-1], ev.Name)
		for _, k := range []string{"engagement_id", "recording_id", "rtms_stream_id", "conference_id"} {
			id, ok := o[k].(string)
			if !ok {
				continue
			}
			if want, seen := ids[k]; seen && id != want {
				t.Errorf("%s %s = %s, want %s", ev.Name, k, id, want)
			}
			ids[k] = id
		}
		if ev.Family() == events.FamilyRTMS {
			if ev.AccountID != "" || ev.Subject("zoom") != "zoom._.cc.rtms."+ev.Name[len("contact_center.voice_rtms_"):] {
				t.Errorf("%s: account %q subject %s", ev.Name, ev.AccountID, ev.Subject("zoom"))
			}
		} else if ev.AccountID != "acct" {
			t.Errorf("%s: account %q", ev.Name, ev.AccountID)
		}
	}
	engagements = engagements[:len(engagements)-1] // the last may be cut short
	monitored, conferenced := 0, 0
	for _, e := range engagements {
		at := func(name string) int { return slices.Index(e, "contact_center."+name) }
		for _, order := range [][2]string{
			{"engagement_user_answered", "recording_started"},
			{"recording_started", "voice_rtms_started"},
			{"recording_paused", "engagement_user_hold"},
			{"engagement_user_hold", "engagement_user_unhold"},
			{"engagement_user_unhold", "recording_resumed"},
			{"recording_resumed", "recording_stopped"},
			{"voice_rtms_started", "voice_rtms_stopped"},
			{"recording_stopped", "engagement_user_ended"},
			{"engagement_consumer_ended", "engagement_ended"},
			{"engagement_ended", "recording_completed"},
		} {
			if a, b := at(order[0]), at(order[1]); a < 0 || b < 0 || a > b {
				t.Fatalf("engagement %v: %s (at %d) not before %s (at %d)", e, order[0], a, order[1], b)
			}
		}
		if at("engagement_monitor_started") >= 0 {
			monitored++
		}
		if at("engagement_conference_participant_joined") >= 0 {
			conferenced++
		}
	}
	if len(engagements) < 20 || monitored == 0 || conferenced == 0 || monitored == len(engagements) || conferenced == len(engagements) {
		t.Errorf("%d engagements, %d monitored, %d with a conference; want some of each, not all", len(engagements), monitored, conferenced)
	}
}
