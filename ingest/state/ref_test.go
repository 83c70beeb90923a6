package state_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/state"
	"github.com/zccingest/zccingest/test/sim"
)

// The reference: the events folded in generation order by the plainest
// state machine, written apart from the merge so that the two check each
// other. It knows nothing of stamps.

type refAgent struct {
	LoggedIn          bool
	Status, SubStatus string
	Held              map[string]bool
}

type refEngagement struct {
	Ended, Answered, Hold, WrapUp bool
	Agents                        map[string]bool
	Recording, Transfer, Monitor  string
	Conference                    map[string]string
	Fields                        map[string]string
}

type reference struct {
	agents      map[string]*refAgent
	engagements map[string]*refEngagement
}

func newReference() *reference {
	return &reference{agents: map[string]*refAgent{}, engagements: map[string]*refEngagement{}}
}

func (r *reference) agent(account, id string) *refAgent {
	k := state.Key(account, id)
	if r.agents[k] == nil {
		r.agents[k] = &refAgent{Held: map[string]bool{}}
	}
	return r.agents[k]
}

type refObject struct {
	EngagementID, UserID, CurrentStatusName, CurrentSubStatusName, MonitoringUserID, ActionType string
	TransferToUserID, TransferToCCQueueID                                                       string
	Channel, EngagementDirection, CCQueueID, ConsumerID, RecordingID                            string
	InvitedParticipant, JoiningParticipant, LeavingParticipant                                  *struct{ ParticipantUserID string }
}

func (r *reference) add(t testing.TB, in state.Input) {
	t.Helper()
	var o refObject
	// Field names in snake case, by hand: the reference shares no code.
	var raw map[string]any
	if err := json.Unmarshal(in.Object, &raw); err != nil {
		t.Fatal(err)
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	part := func(k string) *struct{ ParticipantUserID string } {
		m, ok := raw[k].(map[string]any)
		if !ok {
			return nil
		}
		id, _ := m["participant_user_id"].(string)
		return &struct{ ParticipantUserID string }{id}
	}
	o.EngagementID, o.UserID, o.CurrentStatusName, o.CurrentSubStatusName = str("engagement_id"), str("user_id"), str("current_status_name"), str("current_sub_status_name")
	o.MonitoringUserID, o.ActionType, o.TransferToUserID, o.TransferToCCQueueID = str("monitoring_user_id"), str("action_type"), str("transfer_to_user_id"), str("transfer_to_cc_queue_id")
	o.Channel, o.EngagementDirection, o.CCQueueID, o.ConsumerID, o.RecordingID = str("channel"), str("engagement_direction"), str("cc_queue_id"), str("consumer_id"), str("recording_id")
	o.InvitedParticipant, o.JoiningParticipant, o.LeavingParticipant = part("invited_participant"), part("joining_participant"), part("leaving_participant")

	name := strings.TrimPrefix(in.Name, "contact_center.")
	switch name {
	case "user_login":
		r.agent(in.AccountID, o.UserID).LoggedIn = true
		return
	case "user_logout":
		a := r.agent(in.AccountID, o.UserID)
		a.LoggedIn, a.Status, a.SubStatus = false, "Offline", ""
		return
	case "user_status_changed":
		a := r.agent(in.AccountID, o.UserID)
		a.LoggedIn, a.Status, a.SubStatus = o.CurrentStatusName != "Offline", o.CurrentStatusName, o.CurrentSubStatusName
		return
	case "recording_deleted", "recording_permanently_deleted", "recording_transcript_completed":
		return
	}
	if !strings.HasPrefix(name, "engagement_") && !strings.HasPrefix(name, "recording_") && !strings.HasPrefix(name, "cx_engagement_") {
		return
	}
	k := state.Key(in.AccountID, o.EngagementID)
	e := r.engagements[k]
	if e == nil {
		e = &refEngagement{Agents: map[string]bool{}, Conference: map[string]string{}, Fields: map[string]string{}}
		r.engagements[k] = e
	}
	set := func(f, v string) {
		if v != "" {
			e.Fields[f] = v
		}
	}
	set("channel", o.Channel)
	set("direction", o.EngagementDirection)
	set("consumer_id", o.ConsumerID)
	if !strings.HasPrefix(name, "engagement_transfer_") {
		set("queue_id", o.CCQueueID)
	}
	join := func(u string, in bool) {
		if u == "" {
			return
		}
		e.Agents[u] = in
		r.agent(strings.Split(k, ".")[0], u).Held[o.EngagementID] = in && !e.Ended
	}
	switch name {
	case "engagement_user_answered":
		e.Answered = true
		join(o.UserID, true)
	case "engagement_user_ended":
		join(o.UserID, false)
	case "engagement_user_hold":
		e.Hold = true
	case "engagement_user_unhold":
		e.Hold = false
	case "engagement_wrap_up_started":
		e.WrapUp = true
	case "engagement_wrap_up_ended":
		e.WrapUp = false
	case "engagement_ended":
		e.Ended = true
		for u := range e.Agents {
			r.agent(in.AccountID, u).Held[o.EngagementID] = false
		}
	case "engagement_monitor_started":
		e.Monitor = o.MonitoringUserID + "/" + o.ActionType
	case "engagement_takeover_started":
		e.Monitor = "takeover"
	case "engagement_monitor_ended":
		e.Monitor = ""
	case "recording_started", "recording_resumed":
		e.Recording = "recording"
	case "recording_paused":
		e.Recording = "paused"
	case "recording_stopped":
		e.Recording = "stopped"
	case "recording_completed":
		e.Recording = "completed"
	case "engagement_conference_participant_invited":
		e.Conference[o.InvitedParticipant.ParticipantUserID] = "invited"
	case "engagement_conference_participant_joined":
		e.Conference[o.JoiningParticipant.ParticipantUserID] = "joined"
	case "engagement_conference_participant_left":
		delete(e.Conference, o.LeavingParticipant.ParticipantUserID)
	}
	if action, ok := strings.CutPrefix(name, "engagement_transfer_"); ok {
		e.Transfer = action
		if action == "completed" {
			join(o.UserID, false)
			join(o.TransferToUserID, true)
			set("queue_id", o.TransferToCCQueueID)
		}
	}
}

// diff compares the merged state with the reference: every agent's login,
// status and engagements; every engagement's end and attributes.
func (r *reference) diff(agents map[string]state.Agent, engs map[string]state.Engagement) []string {
	var d []string
	for k, ra := range r.agents {
		a, ok := agents[k]
		held := []string{}
		for _, e := range slices.Sorted(maps.Keys(ra.Held)) {
			if ra.Held[e] {
				held = append(held, e)
			}
		}
		if !ok {
			d = append(d, fmt.Sprintf("agent %s missing", k))
			continue
		}
		if a.LoggedIn != ra.LoggedIn || a.Status != ra.Status || a.SubStatus != ra.SubStatus || !slices.Equal(a.Engagements, held) {
			d = append(d, fmt.Sprintf("agent %s: logged_in %v status %q/%q holds %v; want %v %q/%q %v", k, a.LoggedIn, a.Status, a.SubStatus, a.Engagements, ra.LoggedIn, ra.Status, ra.SubStatus, held))
		}
	}
	for k := range agents {
		if r.agents[k] == nil {
			d = append(d, fmt.Sprintf("agent %s not in the reference", k))
		}
	}
	for k, re := range r.engagements {
		e, ok := engs[k]
		if !ok {
			d = append(d, fmt.Sprintf("engagement %s missing", k))
			continue
		}
		if e.Ended != re.Ended {
			d = append(d, fmt.Sprintf("engagement %s: ended %v, want %v", k, e.Ended, re.Ended))
			continue
		}
		var agents []string
		for _, u := range slices.Sorted(maps.Keys(re.Agents)) {
			if re.Agents[u] {
				agents = append(agents, u)
			}
		}
		monitor := ""
		if e.Monitor != nil {
			monitor = e.Monitor.UserID + "/" + e.Monitor.Action
			if e.Monitor.Action == "takeover" {
				monitor = "takeover"
			}
		}
		conf := map[string]string{}
		for _, p := range e.Conference {
			conf[p.Key] = p.Status
		}
		got := fmt.Sprintf("answered %v hold %v wrap_up %v agents %v recording %q transfer %q monitor %q conference %v channel %q direction %q consumer %q queue %q",
			e.Answered, e.Hold, e.WrapUp, append([]string{}, e.Agents...), e.Recording, e.Transfer, monitor, conf, e.Channel, e.Direction, e.ConsumerID, e.QueueID)
		want := fmt.Sprintf("answered %v hold %v wrap_up %v agents %v recording %q transfer %q monitor %q conference %v channel %q direction %q consumer %q queue %q",
			re.Answered, re.Hold, re.WrapUp, append([]string{}, agents...), re.Recording, re.Transfer, re.Monitor, re.Conference, re.Fields["channel"], re.Fields["direction"], re.Fields["consumer_id"], re.Fields["queue_id"])
		if got != want {
			d = append(d, fmt.Sprintf("engagement %s:\n got %s\nwant %s", k, got, want))
		}
	}
	for k, e := range engs {
		if r.engagements[k] == nil && !e.Ended {
			d = append(d, fmt.Sprintf("open engagement %s not in the reference", k))
		}
	}
	slices.Sort(d)
	return d
}

// inputOf reads a generated event as the state would from the stream.
func inputOf(t testing.TB, raw []byte) (state.Input, bool) {
	t.Helper()
	ev, err := events.ParseEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ev.AccountID == "" {
		return state.Input{}, false // the flat RTMS events: not the state's
	}
	return state.Input{ID: ev.Key(), Name: ev.Name, TS: ev.TS, AccountID: ev.AccountID, Source: state.SourceWebSocket, Object: ev.Object}, true
}

// generate returns n generated events the state reads, stamped 1 ms apart
// in generation order (the generator stamps the wall clock, where many
// share a millisecond).
func generate(t testing.TB, seed uint64, agents, n int) []state.Input {
	t.Helper()
	g := sim.NewGenerator(seed, "SimAccount0000000000000", agents)
	var out []state.Input
	base := int64(1_800_000_000_000)
	for len(out) < n {
		raw, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		in, ok := inputOf(t, raw)
		if !ok {
			continue
		}
		in.TS = base + int64(len(out))
		in.ID = fmt.Sprintf("%s-%d", in.ID, in.TS)
		out = append(out, in)
	}
	return out
}
