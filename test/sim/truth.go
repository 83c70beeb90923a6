package sim

import (
	"slices"
	"sync"
)

// A TruthEvent is one event a generator generated, as played through a
// Server: the record a gap's reconciliation is scored against.
type TruthEvent struct {
	Name         string // Zoom event name
	TS           int64  // event_ts in ms
	Account      string
	EngagementID string // "" for agent events
	UserID       string
	// Sent says the event was written on at least one open socket; false
	// means it was generated inside a gap, for REST to give back.
	Sent bool
}

// Agent statuses as Zoom names them (E6/E7 status_name), with the ids the
// generator uses.
const (
	StatusOffline  = "Offline"
	StatusReady    = "Ready"
	StatusNotReady = "Not Ready"
	StatusOccupied = "Occupied"
)

// AgentTruth is an agent's state as generated.
type AgentTruth struct {
	UserID, DisplayName, Email string
	StatusID, Status           string
	SubStatusID, SubStatus     string
	LoggedIn                   bool
	// Engagements are the engagements the agent is on now: answered (or
	// joined as a conference participant) and not yet ended or left.
	Engagements []string
	// Since is the event_ts of the status change that set Status (0: never
	// changed since the generator began; the agent is Offline).
	Since int64

	answered string // the engagement the agent answered last: Occupied's through wrap-up
}

// A StatusChange is one user_status_changed the generator generated: an E6
// row from TS until the agent's next change.
type StatusChange struct {
	UserID, DisplayName    string
	StatusID, Status       string
	SubStatusID, SubStatus string
	TS                     int64
	// EngagementID is the engagement that occupies the agent (Occupied only).
	EngagementID string
}

// A RecordingChange is one recording status change (E4 statuses[]).
type RecordingChange struct {
	Status string // start, pause, resume, stop
	TS     int64
}

// EngagementTruth is an engagement as generated.
type EngagementTruth struct {
	EngagementID               string
	Direction, Channel         string
	FlowID, FlowName           string
	QueueID, QueueName         string // cc_queue_id
	ConsumerID, ConsumerNumber string
	ConsumerName               string
	Agents                     []string // user ids on it now (answering agent or a completed transfer's target, joined participants)
	AnsweredBy                 string   // the answering agent's user id
	// State is the last stage reached: started, answered, hold, ended,
	// wrap_up, wrapped (wrap-up ended).
	State                        string
	Transferred                  bool
	Recording                    string // "", started, paused, resumed, stopped
	RecordingID                  string
	Recordings                   []RecordingChange
	Dispositions                 [][2]string // {id, name}
	Started, Ended, Completed    int64       // event_ts of started, ended, wrap_up_ended (0: not yet)
	RecordingStart, RecordingEnd int64
	RecordingDone                bool // recording_completed generated
	// Events are the engagement's generated events, in order.
	Events []TruthEvent

	objs []fields // each event's fields REST gives, in step with Events
}

// fields are the few fields of an event's object that REST gives back
// (the whole object would cost a kilobyte an event).
type fields map[string]string

// restFields are the object fields REST's timeline uses; the participant
// fields keep their participant_user_id.
var restFields = []string{"assigned_user_id", "cc_queue_id", "user_display_name", "transfer_to_user_id", "transfer_type",
	"transfer_to_cc_queue_id", "monitoring_user_id", "monitoring_user_display_name"}

func keep(o map[string]any) fields {
	f := fields{}
	for _, k := range restFields {
		if v := str(o, k); v != "" {
			f[k] = v
		}
	}
	for _, k := range []string{"joining_participant", "leaving_participant"} {
		if p, ok := o[k].(map[string]any); ok {
			f[k] = str(p, "participant_user_id")
		}
	}
	return f
}

// Bounds of what the truth keeps, so that a simulator serving for days
// stays small: the oldest go first.
const (
	maxTruthEvents      = 500_000
	maxTruthEngagements = 10_000
	maxTruthChanges     = 200_000
)

// truth is what a generator generated, kept as it is emitted.
type truth struct {
	mu      sync.Mutex
	agents  map[string]*AgentTruth
	order   []string // agent ids in creation order
	changes []StatusChange
	engs    map[string]*EngagementTruth
	engList []string // engagement ids in start order
}

func newTruth() *truth {
	return &truth{agents: map[string]*AgentTruth{}, engs: map[string]*EngagementTruth{}}
}

func (t *truth) addAgent(a agent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.agents[a.id] = &AgentTruth{UserID: a.id, DisplayName: a.name, Email: a.email, StatusID: "0", Status: StatusOffline}
	t.order = append(t.order, a.id)
}

func str(o map[string]any, k string) string { s, _ := o[k].(string); return s }

// observe applies an emitted event to the truth.
func (t *truth) observe(account string, ev *event) TruthEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := ev.Payload.Object
	te := TruthEvent{Name: ev.Event, TS: ev.EventTS, Account: account, EngagementID: str(o, "engagement_id"), UserID: str(o, "user_id")}
	if ev.Payload.AccountID != "" {
		te.Account = ev.Payload.AccountID
	}
	if a := t.agents[te.UserID]; a != nil && te.EngagementID == "" {
		switch ev.Event {
		case "contact_center.user_login":
			a.LoggedIn = true
		case "contact_center.user_logout":
			a.LoggedIn = false
		case "contact_center.user_status_changed":
			a.StatusID, a.Status = str(o, "current_status_id"), str(o, "current_status_name")
			a.SubStatusID, a.SubStatus = str(o, "current_sub_status_id"), str(o, "current_sub_status_name")
			a.Since = ev.EventTS
			c := StatusChange{UserID: a.UserID, DisplayName: a.DisplayName, StatusID: a.StatusID, Status: a.Status,
				SubStatusID: a.SubStatusID, SubStatus: a.SubStatus, TS: ev.EventTS}
			if a.Status == StatusOccupied {
				c.EngagementID = a.answered
			}
			t.changes = append(t.changes, c)
			if len(t.changes) > maxTruthChanges {
				t.changes = slices.Delete(t.changes, 0, maxTruthChanges/10)
			}
		}
	}
	if te.EngagementID == "" {
		return te
	}
	e := t.engs[te.EngagementID]
	if e == nil {
		e = &EngagementTruth{EngagementID: te.EngagementID, State: "started"}
		t.engs[te.EngagementID] = e
		t.engList = append(t.engList, te.EngagementID)
		if len(t.engList) > maxTruthEngagements {
			for _, id := range t.engList[:maxTruthEngagements/10] {
				delete(t.engs, id)
			}
			t.engList = slices.Delete(t.engList, 0, maxTruthEngagements/10)
		}
	}
	e.Events = append(e.Events, te)
	e.objs = append(e.objs, keep(o))
	fill := func(dst *string, k string) {
		if *dst == "" {
			*dst = str(o, k)
		}
	}
	fill(&e.Direction, "engagement_direction")
	fill(&e.Channel, "channel")
	fill(&e.FlowID, "flow_id")
	fill(&e.FlowName, "flow_name")
	fill(&e.QueueID, "cc_queue_id")
	fill(&e.QueueName, "queue_name")
	fill(&e.ConsumerID, "consumer_id")
	fill(&e.ConsumerNumber, "consumer_number")
	fill(&e.ConsumerName, "consumer_display_name")
	join := func(id string) {
		if id == "" || slices.Contains(e.Agents, id) {
			return
		}
		e.Agents = append(e.Agents, id)
		if a := t.agents[id]; a != nil {
			a.Engagements = append(a.Engagements, e.EngagementID)
		}
	}
	leave := func(id string) {
		e.Agents = slices.DeleteFunc(e.Agents, func(x string) bool { return x == id })
		if a := t.agents[id]; a != nil {
			a.Engagements = slices.DeleteFunc(a.Engagements, func(x string) bool { return x == e.EngagementID })
		}
	}
	participant := func(k string) string {
		p, _ := o[k].(map[string]any)
		return str(p, "participant_user_id")
	}
	switch ev.Event {
	case "contact_center.engagement_started":
		e.Started = ev.EventTS
	case "contact_center.engagement_user_answered":
		e.State, e.AnsweredBy = "answered", te.UserID
		join(te.UserID)
		if a := t.agents[te.UserID]; a != nil {
			a.answered = e.EngagementID
		}
	case "contact_center.engagement_user_hold":
		e.State = "hold"
	case "contact_center.engagement_user_unhold":
		e.State = "answered"
	case "contact_center.engagement_conference_participant_joined":
		join(participant("joining_participant"))
	case "contact_center.engagement_conference_participant_left":
		leave(participant("leaving_participant"))
	case "contact_center.engagement_transfer_completed":
		// The engagement passes from the transferring agent to the
		// one it went to.
		e.Transferred = true
		leave(te.UserID)
		join(str(o, "transfer_to_user_id"))
	case "contact_center.engagement_ended":
		e.State, e.Ended = "ended", ev.EventTS
		for _, id := range slices.Clone(e.Agents) {
			leave(id)
		}
	case "contact_center.engagement_wrap_up_started":
		e.State = "wrap_up"
	case "contact_center.engagement_wrap_up_ended":
		e.State, e.Completed = "wrapped", ev.EventTS
	case "contact_center.engagement_disposition_added":
		e.Dispositions = append(e.Dispositions, [2]string{str(o, "disposition_id"), str(o, "disposition_name")})
	case "contact_center.recording_started", "contact_center.recording_paused",
		"contact_center.recording_resumed", "contact_center.recording_stopped":
		st := map[string]string{"started": "start", "paused": "pause", "resumed": "resume", "stopped": "stop"}
		e.Recording = ev.Event[len("contact_center.recording_"):]
		e.Recordings = append(e.Recordings, RecordingChange{Status: st[e.Recording], TS: ev.EventTS})
		e.RecordingID = str(o, "recording_id")
		if e.Recording == "started" {
			e.RecordingStart = ev.EventTS
		}
		if e.Recording == "stopped" {
			e.RecordingEnd = ev.EventTS
		}
	case "contact_center.recording_completed":
		e.RecordingDone = true
	}
	return te
}

func (e *EngagementTruth) clone() EngagementTruth {
	c := *e
	c.Agents = slices.Clone(e.Agents)
	c.Recordings = slices.Clone(e.Recordings)
	c.Dispositions = slices.Clone(e.Dispositions)
	c.Events = slices.Clone(e.Events)
	c.objs = nil
	return c
}

// AgentTruth returns every agent's state now, by user id.
func (g *Generator) AgentTruth() map[string]AgentTruth {
	t := g.truth
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[string]AgentTruth, len(t.agents))
	for id, a := range t.agents {
		c := *a
		c.Engagements = slices.Clone(a.Engagements)
		m[id] = c
	}
	return m
}

// OpenEngagements returns the engagements started and not yet ended
// (engagement_ended not generated), by engagement id.
func (g *Generator) OpenEngagements() map[string]EngagementTruth {
	t := g.truth
	t.mu.Lock()
	defer t.mu.Unlock()
	m := map[string]EngagementTruth{}
	for id, e := range t.engs {
		if e.Ended == 0 {
			m[id] = e.clone()
		}
	}
	return m
}

// Engagements returns every engagement generated so far, in start order.
func (g *Generator) Engagements() []EngagementTruth {
	t := g.truth
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]EngagementTruth, 0, len(t.engList))
	for _, id := range t.engList {
		out = append(out, t.engs[id].clone())
	}
	return out
}

// StatusChanges returns every agent status change generated so far, in order.
func (g *Generator) StatusChanges() []StatusChange {
	t := g.truth
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.changes)
}

// Truth returns every event the generators played through the server
// (Play, Steady) generated, in order, each saying whether an open socket
// took it.
func (s *Server) Truth() []TruthEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.truth)
}

// Track makes the server serve g's ground truth on its REST endpoints. Play
// and Steady track a *Generator they are given; Track is for a generator
// wrapped in another Source.
func (s *Server) Track(g *Generator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.gens, g) {
		s.gens = append(s.gens, g)
	}
}

// generators returns the generators tracked.
func (s *Server) generators() []*Generator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gens)
}

// played records an event Play or Steady took from a generator and sent
// to n sockets; other sources' events are not ground truth (and cost
// nothing here).
func (s *Server) played(src Source, n int) {
	g, ok := src.(*Generator)
	if !ok {
		return
	}
	s.Track(g)
	te, ok := g.last()
	if !ok {
		return
	}
	te.Sent = n > 0
	s.mu.Lock()
	s.truth = append(s.truth, te)
	if len(s.truth) > maxTruthEvents {
		s.truth = slices.Delete(s.truth, 0, maxTruthEvents/10)
	}
	s.notify()
	s.mu.Unlock()
}
