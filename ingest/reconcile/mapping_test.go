package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func detail() *EngagementDetail {
	return &EngagementDetail{
		Engagement: Engagement{
			EngagementID: "eng-A", StartTime: at(0), EndTime: at(100), Direction: "inbound",
			Channels:  []Channel{{Channel: "voice", ChannelSource: "voice"}},
			Consumers: []Consumer{{ConsumerID: "cons-1", ConsumerDisplayName: "Caller", ConsumerNumber: "+18005550000"}},
			Flows:     []Flow{{FlowID: "flow-1", FlowName: "Main"}},
			Queues:    []Queue{{QueueID: "legacy-q", CCQueueID: "q-1", QueueName: "Sales"}},
			Agents:    []Agent{{UserID: "u-1", DisplayName: "Agent 1"}, {UserID: "u-2", DisplayName: "Agent 2"}},
			Notes:     []Note{{NoteID: "n-1", UserID: "u-1", Note: "called back", LastModifiedTime: at(98)}},
		},
		Events: []TimelineEvent{
			// Out of order on purpose: the mapping sorts by time.
			{StartTime: at(5), EventType: EventAgentAccept, UserID: "u-1", AcceptType: "manual"},
			{StartTime: at(0), EventType: EventEngagementStart, Channel: "voice", Direction: "inbound", ConsumerID: "cons-1", FlowID: "flow-1"},
			{StartTime: at(4), EventType: EventAgentOffer, UserID: "u-1", QueueID: "q-1"},
			{StartTime: at(10), Duration: 7, EventType: EventHold, UserID: "u-1"},
			{StartTime: at(20), Duration: 5, EventType: EventConference, UserID: "u-1", ConferenceType: "warm", InviteeType: "Agent", Invitee: "u-2"},
			{StartTime: at(30), Duration: 6, EventType: EventMonitor, SupervisorID: "sup-1", SupervisorDisplayName: "Boss"},
			{StartTime: at(40), EventType: EventTransfer, UserID: "u-1", TransferToUserID: "u-2", TransferType: "cold"},
			{StartTime: at(90), EventType: EventEngagementEnd},
			{StartTime: at(90), Duration: 15, EventType: EventWrapUp, UserID: "u-2"},
			{StartTime: at(95), EventType: "Survey Sent"},
		},
	}
}

type nameTS struct {
	Name string
	TS   time.Time
}

func names(evs []rebuiltEvent) []nameTS {
	var out []nameTS
	for _, e := range evs {
		out = append(out, nameTS{e.Name, time.UnixMilli(e.TS).UTC()})
	}
	return out
}

func TestMapEngagement(t *testing.T) {
	rs := &RecordingStatus{EngagementID: "eng-A", Channel: "voice", Statuses: []RecordingStatusEntry{
		{Status: "start", LastModifiedTime: at(6)}, {Status: "pause", LastModifiedTime: at(10)},
		{Status: "resume", LastModifiedTime: at(17)}, {Status: "stop", LastModifiedTime: at(90)},
	}}
	evs, unknown := mapEngagement(detail(), rs)
	want := []nameTS{
		{evStarted, at(0)}, {evAnswered, at(5)}, {evRecStarted, at(6)}, {evHold, at(10)}, {evRecPaused, at(10)},
		{evUnhold, at(17)}, {evRecResumed, at(17)}, {evConfJoined, at(20)}, {evConfLeft, at(25)},
		{evMonitorStarted, at(30)}, {evMonitorEnded, at(36)}, {evTransferDone, at(40)},
		{evEnded, at(90)}, {evWrapUpStarted, at(90)}, {evRecStopped, at(90)}, {evNoteAdded, at(98)}, {evWrapUpEnded, at(105)},
	}
	if got := names(evs); !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	if unknown["Survey Sent"] != 1 || len(unknown) != 1 {
		t.Errorf("unknown = %v", unknown)
	}
	// Each decodes through the typed structs with the fields a live one
	// carries.
	for _, e := range evs {
		ev, err := events.RebuiltEvent(e.Name, e.TS, "acct", e.Object)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ev.Typed()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		check := func(ok bool, what string) {
			if !ok {
				b, _ := json.Marshal(v)
				t.Errorf("%s: %s in %s", e.Name, what, b)
			}
		}
		switch o := v.(type) {
		case *events.EngagementStarted:
			check(o.EngagementID == "eng-A" && o.Channel == "voice" && o.EngagementDirection == "inbound" && o.ConsumerID == "cons-1" &&
				o.FlowID == "flow-1" && o.QueueID == "q-1" && o.UserID == "" && o.DateTime.Equal(at(0)), "engagement fields")
		case *events.EngagementUserAnswered:
			check(o.UserID == "u-1" && o.UserDisplayName == "Agent 1" && o.EngagementID == "eng-A" && o.QueueID == "q-1", "user and queue")
		case *events.EngagementUserUnhold:
			check(o.UserID == "u-1" && o.DateTime.Equal(at(17)), "unhold at start+duration")
		case *events.TransferCompleted:
			check(o.TransferToUserID == "u-2" && o.TransferToUserDisplayName == "Agent 2" && o.TransferType == "cold" && o.TransferLevel == "user" && o.UserID == "u-1", "transfer outcome")
		case *events.ConferenceParticipantJoined:
			check(o.Joining != nil && o.Joining.UserID == "u-2" && o.EngagementID == "eng-A", "joining participant")
		case *events.ConferenceParticipantLeft:
			check(o.Leaving != nil && o.Leaving.UserID == "u-2", "leaving participant")
		case *events.EngagementMonitorStarted:
			check(o.MonitoringUserID == "sup-1" && o.MonitoringUserDisplayName == "Boss", "supervisor")
		case *events.RecordingPaused:
			check(o.EngagementID == "eng-A" && len(o.Users) == 2 && o.Channel == "voice", "recording fields")
		case *events.EngagementNoteAdded:
			check(o.NoteID == "n-1" && o.Text == "called back" && o.UserID == "u-1", "note")
		}
	}
	// The same REST data gives the same keys: a second run, the pair's
	// other node.
	again, _ := mapEngagement(detail(), rs)
	for i := range evs {
		if evs[i].key("acct") != again[i].key("acct") {
			t.Fatalf("key of %s differs between runs", evs[i].Name)
		}
	}
	seen := map[string]bool{}
	for _, e := range evs {
		k := e.key("acct")
		if seen[k] {
			t.Errorf("two events share key %s (%s)", k, e.Name)
		}
		seen[k] = true
	}
}

// Without Engagement Start and End in the timeline, E1's times stand in.
func TestMapEngagementE1Times(t *testing.T) {
	d := detail()
	d.Events = nil
	evs, _ := mapEngagement(d, nil)
	want := []nameTS{{evStarted, at(0)}, {evEnded, at(100)}, {evNoteAdded, at(98)}}
	slices.SortFunc(want, func(a, b nameTS) int { return a.TS.Compare(b.TS) })
	if got := names(evs); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMapAgentStatuses(t *testing.T) {
	rows := []AgentStatus{
		{UserID: "u-1", StatusID: "2", StatusName: "Ready", StartTime: at(50)},
		{UserID: "u-1", StatusID: "0", StatusName: "Offline", StartTime: at(10)},
		{UserID: "u-2", StatusID: "1", StatusName: "Occupied", SubStatusName: "Inbound", StartTime: at(20)},
		{UserID: "u-1", StatusID: "0", StatusName: "Offline", StartTime: at(80)},
		{UserID: "u-1", StatusID: "0", StatusName: "Offline", StartTime: at(80)}, // a repeated page
	}
	evs := mapAgentStatuses(rows)
	want := []nameTS{
		{evLogout, at(10)}, {evStatusChanged, at(10)}, {evStatusChanged, at(20)},
		{evLogin, at(50)}, {evStatusChanged, at(50)}, {evLogout, at(80)}, {evStatusChanged, at(80)},
	}
	if got := names(evs); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	ev, err := events.RebuiltEvent(evs[4].Name, evs[4].TS, "acct", evs[4].Object)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ev.Typed()
	if o := v.(*events.AgentStatusChanged); o.PreviousStatusName != "Offline" || o.CurrentStatusName != "Ready" || o.UserID != "u-1" {
		t.Errorf("status change %+v", o)
	}
	if evs[2].UserID != "u-2" || evs[2].matchID() != "u-2" {
		t.Errorf("agent event is matched by %q", evs[2].matchID())
	}
}

// The live check: the same event name and id within the tolerance is the
// same event; the rebuilt key of an earlier run is recognised as such.
func TestReceivedMatch(t *testing.T) {
	rc := newReceived()
	tol := (2 * time.Second).Milliseconds()
	one := func(r rebuiltEvent) verdict { return rc.match([]rebuiltEvent{r}, []string{r.key("a")}, tol)[0] }
	rc.add(evAnswered, "eng-A", at(5).UnixMilli()+400, "livekey", false)
	rc.add(evHold, "eng-A", at(10).UnixMilli(), "", false)
	r := rebuiltEvent{Name: evAnswered, TS: at(5).UnixMilli(), EngagementID: "eng-A", UserID: "u-1"}
	far := r
	far.TS += 3000
	if v := one(far); v != notReceived {
		t.Errorf("an answered 2.6 s from the live one: %v", v)
	}
	other := r
	other.EngagementID = "eng-B"
	if v := one(other); v != notReceived {
		t.Errorf("another engagement's event: %v", v)
	}
	unhold := rebuiltEvent{Name: evUnhold, TS: at(10).UnixMilli(), EngagementID: "eng-A"}
	if v := one(unhold); v != notReceived {
		t.Errorf("another event name: %v", v)
	}
	if v := one(r); v != receivedLive {
		t.Errorf("live answered 400 ms later: %v", v)
	}
	rc.add(evUnhold, "eng-A", at(60).UnixMilli(), unhold.key("a"), true)
	if v := one(unhold); v != publishedBefore {
		t.Errorf("the earlier run's own message: %v", v)
	}
	// A rebuilt message stands for itself only.
	near := rebuiltEvent{Name: evUnhold, TS: at(61).UnixMilli(), EngagementID: "eng-A"}
	if v := one(near); v != notReceived {
		t.Errorf("a rebuilt message was taken for another event 1 s from it: %v", v)
	}
	// A live event stands for one rebuilt event, the nearest, in the
	// whole batch: an agent's status changes 800 ms apart, the live one
	// received just before the gap, the other inside it.
	rc.add(evStatusChanged, "u-1", at(30).UnixMilli()-500, "live1", false)
	before := rebuiltEvent{Name: evStatusChanged, TS: at(30).UnixMilli() - 500, UserID: "u-1"}
	inside := rebuiltEvent{Name: evStatusChanged, TS: at(30).UnixMilli() + 300, UserID: "u-1"}
	vs := rc.match([]rebuiltEvent{inside, before}, []string{inside.key("a"), before.key("a")}, tol)
	if vs[0] != notReceived || vs[1] != receivedLive {
		t.Errorf("verdicts %v: the live status change went to the wrong rebuilt one", vs)
	}
	if v := one(inside); v != notReceived {
		t.Errorf("a live event stood for two rebuilt ones: %v", v)
	}
}

func TestProgressKey(t *testing.T) {
	for _, tc := range []struct{ acct, gap, want string }{
		{"D8cJuqWVQ623CI4Q8yQK0Q", "gap-D8cJuqWVQ623CI4Q8yQK0Q-1-2", "D8cJuqWVQ623CI4Q8yQK0Q.gap-D8cJuqWVQ623CI4Q8yQK0Q-1-2"},
		{"a.b*c", "x y", "a_b_c.x_y"},
	} {
		if got := progressKey(tc.acct, tc.gap); got != tc.want {
			t.Errorf("progressKey(%q, %q) = %q, want %q", tc.acct, tc.gap, got, tc.want)
		}
	}
	if n := len(progressKey(fmt.Sprint(make([]byte, 500)), "g")); n > 210 {
		t.Errorf("key of %d bytes", n)
	}
}

// A timeline entry of duration 0 (shorter than half a second) still ended:
// its end event is at its start.
func TestMapZeroDuration(t *testing.T) {
	d := detail()
	d.Events = []TimelineEvent{{StartTime: at(10), EventType: EventHold, UserID: "u-1"}, {StartTime: at(20), EventType: EventWrapUp, UserID: "u-1"}}
	d.Notes = nil
	evs, _ := mapEngagement(d, nil)
	want := []nameTS{{evStarted, at(0)}, {evHold, at(10)}, {evUnhold, at(10)}, {evWrapUpStarted, at(20)}, {evWrapUpEnded, at(20)}, {evEnded, at(100)}}
	if got := names(evs); !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestValidGap(t *testing.T) {
	now := t0.Add(time.Hour)
	ok := events.Gap{ID: "gap-a-1-2", AccountID: "a", From: t0.UnixMilli(), To: t0.Add(time.Minute).UnixMilli()}
	if !validGap(&ok, now) {
		t.Fatal("a valid gap refused")
	}
	for name, edit := range map[string]func(*events.Gap){
		"no account":    func(g *events.Gap) { g.AccountID = "" },
		"long account":  func(g *events.Gap) { g.AccountID = strings.Repeat("a", 129) },
		"no id":         func(g *events.Gap) { g.ID = "" },
		"long id":       func(g *events.Gap) { g.ID = strings.Repeat("g", 257) },
		"no from":       func(g *events.Gap) { g.From = 0 },
		"to before":     func(g *events.Gap) { g.To = g.From - 1 },
		"in the future": func(g *events.Gap) { g.To = now.Add(6 * time.Minute).UnixMilli() },
	} {
		g := ok
		edit(&g)
		if validGap(&g, now) {
			t.Errorf("%s: taken as valid", name)
		}
	}
}

type deliveredMsg struct {
	jetstream.Msg
	n uint64
}

func (m deliveredMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{NumDelivered: m.n}, nil
}

func TestRetryDelay(t *testing.T) {
	r := &Reconciler{opts: Options{RetryInterval: 30 * time.Second}}
	for _, tc := range []struct {
		n    uint64
		want time.Duration
	}{{1, 30 * time.Second}, {2, time.Minute}, {4, 4 * time.Minute}, {7, 30 * time.Minute}, {1000, 30 * time.Minute}} {
		if got := r.retryDelay(deliveredMsg{n: tc.n}); got != tc.want {
			t.Errorf("delivery %d: %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestUnrecoverable(t *testing.T) {
	for name, want := range map[string]bool{
		"contact_center.task_created":                 true, // task_*
		"contact_center.task_reservation_accepted":    true,
		"contact_center.engagement_user_muted":        true,
		"contact_center.engagement_upgrade_completed": true, // engagement_upgrade_*
		"contact_center.engagement_user_answered":     false,
		"contact_center.recording_paused":             false,
	} {
		if why, got := Unrecoverable(name); got != want || got && why == "" {
			t.Errorf("Unrecoverable(%s) = %q, %v; want %v", name, why, got, want)
		}
	}
}
