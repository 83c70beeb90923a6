package state

import (
	"cmp"
	"maps"
	"slices"
)

// Stamp orders the writers of an attribute: event_ts, then the event id.
type Stamp struct {
	TS int64  `json:"ts"`
	ID string `json:"id,omitempty"`
	// Source is where the event came from; it takes no part in the order.
	Source string `json:"source,omitempty"`
}

// Compare returns -1, 0 or +1 as s is older than, the same as, or newer
// than o.
func (s Stamp) Compare(o Stamp) int {
	if c := cmp.Compare(s.TS, o.TS); c != 0 {
		return c
	}
	return cmp.Compare(s.ID, o.ID)
}

// After reports whether s is newer than o.
func (s Stamp) After(o Stamp) bool { return s.Compare(o) > 0 }

// Member is one member of a set: in or out, and the stamp that said so.
type Member struct {
	In bool  `json:"in"`
	At Stamp `json:"at"`
}

// Agent is a Contact Center user's live state: the value of
// ZOOM_AGENTS.<account>.<user_id>.
type Agent struct {
	AccountID   string `json:"account_id"`
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	Email       string `json:"user_email,omitempty"`
	LoggedIn    bool   `json:"logged_in"`
	StatusID    string `json:"status_id,omitempty"`
	Status      string `json:"status,omitempty"` // status name, e.g. Ready, Occupied, Offline
	SubStatusID string `json:"sub_status_id,omitempty"`
	SubStatus   string `json:"sub_status,omitempty"`
	// Engagements are the ids of the engagements the agent holds now.
	Engagements []string `json:"engagements"`
	// The newest event applied: its id (Nats-Msg-Id; empty for a REST
	// snapshot), event_ts, and source ("websocket" or "rest").
	EventID string `json:"event_id"`
	EventTS int64  `json:"event_ts"`
	Source  string `json:"source"`
	// Merge is the merge's bookkeeping: what set each attribute.
	Merge AgentMerge `json:"merge"`
}

// AgentMerge holds the stamps of an Agent's attributes.
type AgentMerge struct {
	Name   Stamp             `json:"name"`
	Login  Stamp             `json:"login"`
	Status Stamp             `json:"status"`
	Held   map[string]Member `json:"held,omitempty"` // engagement id → membership
}

// Engagement is an engagement's live state: the value of
// ZOOM_ENGAGEMENTS.<account>.<engagement_id>.
type Engagement struct {
	AccountID      string `json:"account_id"`
	EngagementID   string `json:"engagement_id"`
	Channel        string `json:"channel,omitempty"`
	ChannelSource  string `json:"channel_source,omitempty"`
	Direction      string `json:"direction,omitempty"`
	QueueID        string `json:"queue_id,omitempty"`
	QueueName      string `json:"queue_name,omitempty"`
	FlowID         string `json:"flow_id,omitempty"`
	FlowName       string `json:"flow_name,omitempty"`
	ConsumerID     string `json:"consumer_id,omitempty"`
	ConsumerNumber string `json:"consumer_number,omitempty"`
	ConsumerName   string `json:"consumer_display_name,omitempty"`
	StartedAt      int64  `json:"started_at,omitempty"` // ms; engagement_started's event_ts
	// Agents are the agents on the engagement now.
	Agents     []string `json:"agents"`
	Answered   bool     `json:"answered"`
	AnsweredAt int64    `json:"answered_at,omitempty"` // ms; the first answer
	Hold       bool     `json:"hold"`
	WrapUp     bool     `json:"wrap_up"`
	// Transfer is the last transfer step (initiated, queued, reserved,
	// accepted, rejected, completed, canceled, timeout); "" when none.
	Transfer   string `json:"transfer,omitempty"`
	TransferTo string `json:"transfer_to,omitempty"` // the user, queue, flow or number it went to
	// Conference are the participants invited or joined now.
	Conference []Participant `json:"conference,omitempty"`
	// Monitor is the supervisor listening or taking over; nil when none.
	Monitor *Monitor `json:"monitor,omitempty"`
	// Recording is Zoom's recording: recording, paused, stopped, completed;
	// "" before any recording event.
	Recording   string          `json:"recording,omitempty"`
	RecordingID string          `json:"recording_id,omitempty"`
	Ended       bool            `json:"ended"`
	EndedAt     int64           `json:"ended_at,omitempty"` // ms; engagement_ended's event_ts
	EventID     string          `json:"event_id"`
	EventTS     int64           `json:"event_ts"`
	Source      string          `json:"source"`
	Merge       EngagementMerge `json:"merge"`
}

// Participant is a conference participant.
type Participant struct {
	Key         string `json:"key"` // participant_user_id, else the phone number, else the name
	UserID      string `json:"user_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Role        string `json:"role,omitempty"`
	Status      string `json:"status"` // invited, joined
}

// Monitor is a supervisor on an engagement.
type Monitor struct {
	UserID      string `json:"user_id,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Action      string `json:"action,omitempty"` // listen, whisper, barge, takeover
}

// EngagementMerge holds the stamps of an Engagement's attributes.
type EngagementMerge struct {
	Fields       map[string]Stamp       `json:"fields,omitempty"`
	Hold         Stamp                  `json:"hold"`
	WrapUp       Stamp                  `json:"wrap_up"`
	Transfer     Stamp                  `json:"transfer"`
	Monitor      Stamp                  `json:"monitor"`
	Recording    Stamp                  `json:"recording"`
	Ended        Stamp                  `json:"ended"` // the newest engagement_ended
	Agents       map[string]Member      `json:"agents,omitempty"`
	Participants map[string]Participate `json:"participants,omitempty"`
	// ConferenceReset is the newest conference_canceled: participants
	// stamped before it are gone.
	ConferenceReset Stamp `json:"conference_reset"`
}

// Participate is a participant's register.
type Participate struct {
	Participant
	At Stamp `json:"at"`
}

// touch records the newest event applied to a value.
func touch(id *string, ts *int64, source *string, s Stamp) {
	if *source == "" || s.After(Stamp{TS: *ts, ID: *id}) {
		*id, *ts, *source = s.ID, s.TS, s.Source
	}
}

// members lists the ids that are in, sorted.
func members(m map[string]Member) []string {
	out := []string{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k].In {
			out = append(out, k)
		}
	}
	return out
}

// setMember applies one membership register; it reports a change.
func setMember(m *map[string]Member, id string, v Member) bool {
	if *m == nil {
		*m = map[string]Member{}
	}
	if cur, ok := (*m)[id]; ok && !v.At.After(cur.At) {
		return false
	}
	(*m)[id] = v
	return true
}
