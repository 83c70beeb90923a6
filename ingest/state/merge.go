package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Sources of a stamp.
const (
	SourceWebSocket = "websocket"
	SourceREST      = "rest"
)

// An Input is one event as the events stream holds it.
type Input struct {
	ID        string // Nats-Msg-Id
	Name      string // Zoom event name
	TS        int64  // event_ts, ms
	AccountID string
	Source    string // SourceWebSocket or SourceREST (a rebuilt event)
	Object    json.RawMessage
}

// body is the part of a message body the state reads.
type body struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	TS        *int64          `json:"event_ts"`
	AccountID string          `json:"account_id"`
	Source    string          `json:"source"`
	Object    json.RawMessage `json:"object"`
}

// ParseMessage reads a message of the events stream: its body, with
// Nats-Msg-Id and Zoom-Source from the headers when given.
func ParseMessage(data []byte, msgID, source string) (Input, error) {
	var b body
	if err := json.Unmarshal(data, &b); err != nil {
		return Input{}, fmt.Errorf("state: decoding the message body: %w", err)
	}
	switch {
	case b.Event == "":
		return Input{}, errors.New("state: message body has no event")
	case b.TS == nil || *b.TS < 0:
		return Input{}, errors.New("state: message body has no event_ts")
	case b.AccountID == "":
		return Input{}, errors.New("state: message body has no account_id")
	}
	in := Input{ID: cmpOr(msgID, b.ID), Name: b.Event, TS: *b.TS, AccountID: b.AccountID, Source: cmpOr(source, b.Source), Object: b.Object}
	if in.Source != SourceREST {
		in.Source = SourceWebSocket
	}
	return in, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// object is every field of an event's object the state reads.
type object struct {
	EngagementID        string `json:"engagement_id"`
	UserID              string `json:"user_id"`
	DisplayName         string `json:"display_name"`
	UserDisplayName     string `json:"user_display_name"`
	Email               string `json:"user_email"`
	CurrentStatusID     string `json:"current_status_id"`
	CurrentStatusName   string `json:"current_status_name"`
	CurrentSubStatusID  string `json:"current_sub_status_id"`
	CurrentSubStatus    string `json:"current_sub_status_name"`
	Channel             string `json:"channel"`
	ChannelSource       string `json:"channel_source"`
	Direction           string `json:"engagement_direction"`
	QueueID             string `json:"cc_queue_id"`
	QueueName           string `json:"queue_name"`
	FlowID              string `json:"flow_id"`
	FlowName            string `json:"flow_name"`
	ConsumerID          string `json:"consumer_id"`
	ConsumerNumber      string `json:"consumer_number"`
	ConsumerDisplayName string `json:"consumer_display_name"`
	RecordingID         string `json:"recording_id"`
	ToUserID            string `json:"transfer_to_user_id"`
	ToQueueID           string `json:"transfer_to_cc_queue_id"`
	ToQueueName         string `json:"transfer_to_queue_name"`
	ToFlowID            string `json:"transfer_to_flow_id"`
	ToFlowName          string `json:"transfer_to_flow_name"`
	ToNumber            string `json:"transfer_to_number"`
	ActionType          string `json:"action_type"`
	MonitoringUserID    string `json:"monitoring_user_id"`
	MonitoringUserName  string `json:"monitoring_user_display_name"`
	TakeoverUserID      string `json:"takeover_user_id"`
	TakeoverUserName    string `json:"takeover_user_display_name"`
	Invited             *party `json:"invited_participant"`
	Joining             *party `json:"joining_participant"`
	Leaving             *party `json:"leaving_participant"`
	Rejecting           *party `json:"rejecting_participant"`
	TimedOut            *party `json:"timed_out_participant"`
	Canceled            *party `json:"canceled_participant"`
}

type party struct {
	UserID      string `json:"participant_user_id"`
	DisplayName string `json:"participant_display_name"`
	Role        string `json:"participant_role"`
	PhoneNumber string `json:"participant_phone_number"`
}

func (p *party) key() string { return cmpOr(p.UserID, cmpOr(p.PhoneNumber, p.DisplayName)) }

// A change is what one event does to the state: to its engagement, to its
// agent, and to the membership of agents in the engagement.
type change struct {
	at      Stamp
	account string

	engagement string            // the engagement's id; "" when the event names none
	eng        func(*Engagement) // merges the event into it
	joins      []Member          // membership of the agents below, before the end rule
	joiners    []string
	endsAll    bool // engagement_ended: every agent on it goes out

	agent string       // an agent event's user id
	ag    func(*Agent) // merges it
}

// ErrIgnored is returned by plan for an event the state does not follow.
var ErrIgnored = errors.New("state: event not followed")

const ccPrefix = "contact_center."

// plan decodes an event into its change.
func plan(in Input) (*change, error) {
	name, ok := strings.CutPrefix(in.Name, ccPrefix)
	if !ok {
		return nil, ErrIgnored
	}
	var o object
	if len(in.Object) > 0 {
		if err := json.Unmarshal(in.Object, &o); err != nil {
			return nil, fmt.Errorf("state: decoding the object of %s: %w", in.Name, err)
		}
	}
	c := &change{at: Stamp{TS: in.TS, ID: in.ID, Source: in.Source}, account: in.AccountID}
	at := c.at
	switch name {
	case "user_login", "user_logout", "user_status_changed":
		if o.UserID == "" {
			return nil, fmt.Errorf("state: %s without user_id", in.Name)
		}
		c.agent = o.UserID
		c.ag = func(a *Agent) {
			if at.After(a.Merge.Name) && (o.DisplayName != "" || o.Email != "") {
				a.Merge.Name = at
				a.DisplayName = cmpOr(o.DisplayName, a.DisplayName)
				a.Email = cmpOr(o.Email, a.Email)
			}
			switch name {
			case "user_login":
				setLogin(a, at, true)
			case "user_logout":
				setLogin(a, at, false)
				setStatus(a, at, "", offline, "", "")
			default:
				setLogin(a, at, !strings.EqualFold(o.CurrentStatusName, offline))
				setStatus(a, at, o.CurrentStatusID, o.CurrentStatusName, o.CurrentSubStatusID, o.CurrentSubStatus)
			}
		}
		return c, nil
	}
	switch {
	case strings.HasPrefix(name, "engagement_"), strings.HasPrefix(name, "cx_engagement_"):
	case strings.HasPrefix(name, "recording_"):
		switch name {
		case "recording_deleted", "recording_permanently_deleted", "recording_transcript_completed":
			return nil, ErrIgnored // after the engagement; not its live state
		}
	default:
		return nil, ErrIgnored
	}
	if o.EngagementID == "" {
		return nil, fmt.Errorf("state: %s without engagement_id", in.Name)
	}
	c.engagement = o.EngagementID
	join := func(user string, in bool) {
		if user != "" {
			c.joiners = append(c.joiners, user)
			c.joins = append(c.joins, Member{In: in, At: at})
		}
	}
	var step func(e *Engagement)
	switch name {
	case "engagement_started":
		step = func(e *Engagement) {
			if e.StartedAt == 0 || at.TS < e.StartedAt {
				e.StartedAt = at.TS
			}
		}
	case "engagement_user_answered":
		join(o.UserID, true)
		step = func(e *Engagement) {
			if !e.Answered || at.TS < e.AnsweredAt {
				e.Answered, e.AnsweredAt = true, at.TS
			}
		}
	case "engagement_user_ended":
		join(o.UserID, false)
	case "engagement_user_hold", "engagement_user_unhold":
		step = func(e *Engagement) {
			if at.After(e.Merge.Hold) {
				e.Merge.Hold, e.Hold = at, name == "engagement_user_hold"
			}
		}
	case "engagement_wrap_up_started", "engagement_wrap_up_ended":
		step = func(e *Engagement) {
			if at.After(e.Merge.WrapUp) {
				e.Merge.WrapUp, e.WrapUp = at, name == "engagement_wrap_up_started"
			}
		}
	case "engagement_ended":
		c.endsAll = true
		step = func(e *Engagement) {
			// The newest end: a copy of the end with another id (a
			// rebuilt event) moves every agent's "out" to it, whatever
			// the order.
			if !e.Ended || at.After(e.Merge.Ended) {
				e.Ended, e.EndedAt, e.Merge.Ended = true, at.TS, at
			}
		}
	case "engagement_monitor_started", "engagement_monitor_ended", "engagement_takeover_started":
		m := &Monitor{UserID: o.MonitoringUserID, DisplayName: o.MonitoringUserName, Action: o.ActionType}
		switch name {
		case "engagement_monitor_ended":
			m = nil
		case "engagement_takeover_started":
			m = &Monitor{UserID: cmpOr(o.TakeoverUserID, o.MonitoringUserID), DisplayName: cmpOr(o.TakeoverUserName, o.MonitoringUserName), Action: "takeover"}
		}
		step = func(e *Engagement) {
			if at.After(e.Merge.Monitor) {
				e.Merge.Monitor, e.Monitor = at, m
			}
		}
	case "recording_started", "recording_paused", "recording_resumed", "recording_stopped", "recording_completed":
		rec := map[string]string{"recording_started": "recording", "recording_paused": "paused", "recording_resumed": "recording",
			"recording_stopped": "stopped", "recording_completed": "completed"}[name]
		step = func(e *Engagement) {
			if at.After(e.Merge.Recording) {
				e.Merge.Recording, e.Recording = at, rec
			}
			setField(e, "recording_id", &e.RecordingID, o.RecordingID, at)
		}
	case "engagement_conference_canceled":
		step = func(e *Engagement) {
			if at.After(e.Merge.ConferenceReset) {
				e.Merge.ConferenceReset = at
				for k, p := range e.Merge.Participants {
					if !p.At.After(at) {
						delete(e.Merge.Participants, k)
					}
				}
			}
		}
	default:
		if action, ok := strings.CutPrefix(name, "engagement_transfer_"); ok {
			to := cmpOr(o.ToUserID, cmpOr(o.ToQueueID, cmpOr(o.ToFlowID, o.ToNumber)))
			if action == "completed" {
				join(o.UserID, false)
				join(o.ToUserID, true)
			}
			step = func(e *Engagement) {
				if at.After(e.Merge.Transfer) {
					e.Merge.Transfer, e.Transfer, e.TransferTo = at, action, to
				}
				if action == "completed" {
					setField(e, "queue_id", &e.QueueID, o.ToQueueID, at)
					setField(e, "queue_name", &e.QueueName, o.ToQueueName, at)
					setField(e, "flow_id", &e.FlowID, o.ToFlowID, at)
					setField(e, "flow_name", &e.FlowName, o.ToFlowName, at)
				}
			}
			break
		}
		if action, ok := strings.CutPrefix(name, "engagement_conference_participant_"); ok {
			var p *party
			status := ""
			switch action {
			case "invited":
				p, status = o.Invited, "invited"
			case "joined":
				p, status = o.Joining, "joined"
			case "left":
				p = o.Leaving
			case "rejected":
				p = o.Rejecting
			case "timeout":
				p = o.TimedOut
			case "canceled":
				p = o.Canceled
			}
			if p == nil || p.key() == "" {
				break
			}
			v := Participate{Participant: Participant{Key: p.key(), UserID: p.UserID, DisplayName: p.DisplayName, Role: p.Role, Status: status}, At: at}
			step = func(e *Engagement) {
				if !at.After(e.Merge.ConferenceReset) {
					return
				}
				if cur, ok := e.Merge.Participants[v.Key]; ok && !at.After(cur.At) {
					return
				}
				if e.Merge.Participants == nil {
					e.Merge.Participants = map[string]Participate{}
				}
				e.Merge.Participants[v.Key] = v
			}
		}
	}
	queue, flow := o.QueueID, o.FlowID
	queueName, flowName := o.QueueName, o.FlowName
	if strings.HasPrefix(name, "engagement_transfer_") {
		// The transfer events' cc_queue_id is where the engagement was;
		// only completed moves it (above).
		queue, flow, queueName, flowName = "", "", "", ""
	}
	c.eng = func(e *Engagement) {
		setField(e, "channel", &e.Channel, o.Channel, at)
		setField(e, "channel_source", &e.ChannelSource, o.ChannelSource, at)
		setField(e, "direction", &e.Direction, o.Direction, at)
		setField(e, "queue_id", &e.QueueID, queue, at)
		setField(e, "queue_name", &e.QueueName, queueName, at)
		setField(e, "flow_id", &e.FlowID, flow, at)
		setField(e, "flow_name", &e.FlowName, flowName, at)
		setField(e, "consumer_id", &e.ConsumerID, o.ConsumerID, at)
		setField(e, "consumer_number", &e.ConsumerNumber, o.ConsumerNumber, at)
		setField(e, "consumer_display_name", &e.ConsumerName, o.ConsumerDisplayName, at)
		for i, u := range c.joiners {
			setMember(&e.Merge.Agents, u, c.joins[i])
		}
		if step != nil {
			step(e)
		}
	}
	return c, nil
}

const offline = "Offline"

func setLogin(a *Agent, at Stamp, in bool) {
	if at.After(a.Merge.Login) {
		a.Merge.Login, a.LoggedIn = at, in
	}
}

func setStatus(a *Agent, at Stamp, id, name, subID, sub string) {
	if at.After(a.Merge.Status) {
		a.Merge.Status = at
		a.StatusID, a.Status, a.SubStatusID, a.SubStatus = id, name, subID, sub
	}
}

// setField is a register per field: a non-empty value with a newer stamp
// replaces the field.
func setField(e *Engagement, key string, field *string, v string, at Stamp) {
	if v == "" {
		return
	}
	if e.Merge.Fields == nil {
		e.Merge.Fields = map[string]Stamp{}
	}
	if cur, ok := e.Merge.Fields[key]; ok && !at.After(cur) {
		return
	}
	e.Merge.Fields[key], *field = at, v
}

// applyEngagement merges the change into e (the engagement's current
// value, a zero Engagement when it has none).
func (c *change) applyEngagement(e *Engagement) {
	e.AccountID, e.EngagementID = c.account, c.engagement
	c.eng(e)
	e.Agents = members(e.Merge.Agents)
	e.Conference = e.Conference[:0]
	for _, k := range slices.Sorted(maps.Keys(e.Merge.Participants)) {
		if p := e.Merge.Participants[k]; p.Status != "" {
			e.Conference = append(e.Conference, p.Participant)
		}
	}
	if len(e.Conference) == 0 {
		e.Conference = nil
	}
	touch(&e.EventID, &e.EventTS, &e.Source, c.at)
}

// memberships returns what the change does to agents' holdings, given the
// engagement's value after the change: the agent ids and their registers.
// An agent joining an engagement that ended later is out at the end; at
// the end every agent on the engagement is out.
func (c *change) memberships(e *Engagement) map[string]Member {
	out := map[string]Member{}
	add := func(u string, m Member) {
		if cur, ok := out[u]; !ok || m.At.After(cur.At) {
			out[u] = m
		}
	}
	for i, u := range c.joiners {
		m := c.joins[i]
		if e.Ended && m.In && e.Merge.Ended.After(m.At) {
			m = Member{In: false, At: e.Merge.Ended}
		}
		add(u, m)
	}
	if c.endsAll && e.Ended {
		for u := range e.Merge.Agents {
			add(u, Member{In: false, At: e.Merge.Ended})
		}
	}
	return out
}

// applyAgent merges the change into a (the agent's current value); hold
// is the agent's membership in the change's engagement, if any.
// Out-registers older than pruneBefore (ms) are forgotten, so that the
// value does not grow for ever.
func (c *change) applyAgent(a *Agent, user string, hold *Member, pruneBefore int64) {
	a.AccountID, a.UserID = c.account, user
	if c.ag != nil {
		c.ag(a)
	}
	at := c.at
	if hold != nil {
		setMember(&a.Merge.Held, c.engagement, *hold)
		if hold.At.After(at) { // moved to the engagement's end
			at = hold.At
		}
	}
	for id, m := range a.Merge.Held {
		if !m.In && m.At.TS < pruneBefore {
			delete(a.Merge.Held, id)
		}
	}
	a.Engagements = members(a.Merge.Held)
	touch(&a.EventID, &a.EventTS, &a.Source, at)
}

// RESTUser is an agent as Zoom's REST API lists it (GET
// /contact_center/users, users[]): the fields of zoomrest.User, in its
// order, so that one converts to the other. The state reads the ids, the
// name and the status.
type RESTUser struct {
	UserID           string
	CCUserID         string
	DisplayName      string
	UserEmail        string
	StatusID         string
	StatusName       string // Ready, Not Ready, Occupied, Offline
	SubStatusID      string
	SubStatusName    string
	UserAccess       string
	LastModifiedTime time.Time
}

// snapshot is the change a REST listing makes to one agent. Its stamp is
// the time the request started, with no id: what Zoom listed was true at
// some moment after that, so every event stamped before it is older, and
// an event of the same millisecond or later wins.
func snapshot(account string, u RESTUser, requested int64) *change {
	at := Stamp{TS: requested, Source: SourceREST}
	c := &change{at: at, account: account, agent: u.UserID}
	c.ag = func(a *Agent) {
		if at.After(a.Merge.Name) && (u.DisplayName != "" || u.UserEmail != "") {
			a.Merge.Name = at
			a.DisplayName = cmpOr(u.DisplayName, a.DisplayName)
			a.Email = cmpOr(u.UserEmail, a.Email)
		}
		if u.StatusName == "" {
			return // nothing known of the status
		}
		setLogin(a, at, !strings.EqualFold(u.StatusName, offline))
		setStatus(a, at, u.StatusID, u.StatusName, u.SubStatusID, u.SubStatusName)
	}
	return c
}
