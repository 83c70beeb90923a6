package zoomrest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// E2 timeline event_type values. Zoom does not document them (only "Agent
// Accept" has been seen, in third-party code): these are the simulator's
// and the reconciler's assumption, to check against a real account.
const (
	EventEngagementStart = "Engagement Start" // engagement_started
	EventAgentOffer      = "Agent Offer"      // task reservation; not rebuilt
	EventAgentAccept     = "Agent Accept"     // engagement_user_answered
	EventHold            = "Hold"             // engagement_user_hold; unhold at start+duration
	EventTransfer        = "Transfer"         // engagement_transfer_completed
	EventConference      = "Conference"       // conference participant joined; left at start+duration
	EventMonitor         = "Monitor"          // engagement_monitor_started; ended at start+duration
	EventWrapUp          = "Wrap Up"          // engagement_wrap_up_started; ended at start+duration
	EventEngagementEnd   = "Engagement End"   // engagement_ended
)

// Agent statuses as E6 and E7 name them.
const (
	StatusOffline  = "Offline"
	StatusReady    = "Ready"
	StatusNotReady = "Not Ready"
	StatusOccupied = "Occupied"
)

type Channel struct {
	Channel       string `json:"channel"`
	ChannelSource string `json:"channel_source"`
}

type Consumer struct {
	ConsumerID          string `json:"consumer_id"`
	ConsumerDisplayName string `json:"consumer_display_name"`
	ConsumerNumber      string `json:"consumer_number"`
}

type Flow struct {
	FlowID   string `json:"flow_id"`
	FlowName string `json:"flow_name"`
}

type Queue struct {
	QueueID   string `json:"queue_id"`
	CCQueueID string `json:"cc_queue_id"`
	QueueName string `json:"queue_name"`
}

type Agent struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name"`
}

type Disposition struct {
	DispositionID   string `json:"disposition_id"`
	DispositionName string `json:"disposition_name"`
}

type Note struct {
	NoteID           string    `json:"note_id"`
	UserID           string    `json:"user_id"`
	Note             string    `json:"note"`
	LastModifiedTime time.Time `json:"last_modified_time"`
}

func (n *Note) UnmarshalJSON(b []byte) error {
	type plain Note
	var w struct {
		plain
		LastModifiedTime apiTime `json:"last_modified_time"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*n = Note(w.plain)
	n.LastModifiedTime = time.Time(w.LastModifiedTime)
	return nil
}

// Engagement is an E1 list entry (and E2's header).
type Engagement struct {
	EngagementID   string        `json:"engagement_id"`
	StartTime      time.Time     `json:"start_time"`
	EndTime        time.Time     `json:"end_time"`
	Direction      string        `json:"direction"`
	Channels       []Channel     `json:"channels"`
	Consumers      []Consumer    `json:"consumers"`
	Flows          []Flow        `json:"flows"`
	Queues         []Queue       `json:"queues"`
	Agents         []Agent       `json:"agents"`
	TransferCount  int           `json:"transfer_count"`
	Dispositions   []Disposition `json:"dispositions"`
	Notes          []Note        `json:"notes"`
	WrapUpDuration int           `json:"wrap_up_duration"` // seconds
}

func (e *Engagement) UnmarshalJSON(b []byte) error {
	type plain Engagement
	var w struct {
		plain
		StartTime      apiTime `json:"start_time"`
		EndTime        apiTime `json:"end_time"`
		TransferCount  apiInt  `json:"transfer_count"`
		WrapUpDuration apiInt  `json:"wrap_up_duration"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Engagement(w.plain)
	e.StartTime, e.EndTime = time.Time(w.StartTime), time.Time(w.EndTime)
	e.TransferCount, e.WrapUpDuration = int(w.TransferCount), int(w.WrapUpDuration)
	return nil
}

// EngagementDetail is E2: the engagement and its timeline.
type EngagementDetail struct {
	Engagement
	Events []TimelineEvent `json:"events"`
}

func (d *EngagementDetail) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &d.Engagement); err != nil {
		return err
	}
	var w struct {
		Events []TimelineEvent `json:"events"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	d.Events = w.Events
	return nil
}

// TimelineEvent is one entry of E2's events[]; EventType is one of the
// Event* constants (or a value Zoom has that we do not know).
type TimelineEvent struct {
	StartTime             time.Time `json:"start_time"`
	Duration              int       `json:"duration"` // seconds
	EventType             string    `json:"event_type"`
	Channel               string    `json:"channel"`
	ChannelSource         string    `json:"channel_source"`
	Direction             string    `json:"direction"`
	FlowID                string    `json:"flow_id"`
	QueueID               string    `json:"queue_id"`
	CCQueueID             string    `json:"cc_queue_id"`
	UserID                string    `json:"user_id"`
	UserDisplayName       string    `json:"user_display_name"`
	AcceptType            string    `json:"accept_type"`
	TransferToUserID      string    `json:"transfer_to_user_id"`
	TransferToQueueID     string    `json:"transfer_to_queue_id"`
	TransferType          string    `json:"transfer_type"`
	ConferenceType        string    `json:"conference_type"`
	InviteeType           string    `json:"invitee_type"`
	Invitee               string    `json:"invitee"`
	SupervisorID          string    `json:"supervisor_id"`
	SupervisorDisplayName string    `json:"supervisor_display_name"`
	ConsumerID            string    `json:"consumer_id"`
	UpgradedToChannelType string    `json:"upgraded_to_channel_type"`
}

func (e *TimelineEvent) UnmarshalJSON(b []byte) error {
	type plain TimelineEvent
	var w struct {
		plain
		StartTime apiTime `json:"start_time"`
		Duration  apiInt  `json:"duration"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = TimelineEvent(w.plain)
	e.StartTime, e.Duration = time.Time(w.StartTime), int(w.Duration)
	return nil
}

// RecordingStatus is E4: the engagement's recording status changes.
type RecordingStatus struct {
	EngagementID  string                 `json:"engagement_id"`
	Channel       string                 `json:"channel"`
	ChannelSource string                 `json:"channel_source"`
	Statuses      []RecordingStatusEntry `json:"statuses"`
}

type RecordingStatusEntry struct {
	Status           string    `json:"status"` // start, stop, pause, resume
	LastModifiedTime time.Time `json:"last_modified_time"`
}

func (r *RecordingStatusEntry) UnmarshalJSON(b []byte) error {
	type plain RecordingStatusEntry
	var w struct {
		plain
		LastModifiedTime apiTime `json:"last_modified_time"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = RecordingStatusEntry(w.plain)
	r.LastModifiedTime = time.Time(w.LastModifiedTime)
	return nil
}

// Recording is an E5 list entry.
type Recording struct {
	RecordingID        string    `json:"recording_id"`
	EngagementID       string    `json:"engagement_id"`
	UserID             string    `json:"user_id"`
	QueueID            string    `json:"queue_id"`
	CCQueueID          string    `json:"cc_queue_id"`
	FlowID             string    `json:"flow_id"`
	RecordingStartTime time.Time `json:"recording_start_time"`
	RecordingEndTime   time.Time `json:"recording_end_time"`
	RecordingDuration  int       `json:"recording_duration"` // seconds
	RecordingType      string    `json:"recording_type"`
	Channel            string    `json:"channel"`
	Direction          string    `json:"direction"`
	DownloadURL        string    `json:"download_url"`
	TranscriptURL      string    `json:"transcript_url"`
}

func (r *Recording) UnmarshalJSON(b []byte) error {
	type plain Recording
	var w struct {
		plain
		RecordingStartTime apiTime `json:"recording_start_time"`
		RecordingEndTime   apiTime `json:"recording_end_time"`
		RecordingDuration  apiInt  `json:"recording_duration"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Recording(w.plain)
	r.RecordingStartTime, r.RecordingEndTime = time.Time(w.RecordingStartTime), time.Time(w.RecordingEndTime)
	r.RecordingDuration = int(w.RecordingDuration)
	return nil
}

// AgentStatus is an E6 row: the agent held the status from StartTime (the
// time of the change) to EndTime (zero while it lasts).
type AgentStatus struct {
	UserID               string    `json:"user_id"`
	DisplayName          string    `json:"display_name"`
	StatusID             string    `json:"status_id"`
	StatusName           string    `json:"status_name"`
	SubStatusID          string    `json:"sub_status_id"`
	SubStatusName        string    `json:"sub_status_name"`
	StartTime            time.Time `json:"start_time"`
	EndTime              time.Time `json:"end_time"`
	Duration             int       `json:"duration"` // seconds
	OccupiedEngagementID string    `json:"occupied_engagement_id"`
}

func (a *AgentStatus) UnmarshalJSON(b []byte) error {
	type plain AgentStatus
	var w struct {
		plain
		StatusID    apiString `json:"status_id"`
		SubStatusID apiString `json:"sub_status_id"`
		StartTime   apiTime   `json:"start_time"`
		EndTime     apiTime   `json:"end_time"`
		Duration    apiInt    `json:"duration"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = AgentStatus(w.plain)
	a.StatusID, a.SubStatusID = string(w.StatusID), string(w.SubStatusID)
	a.StartTime, a.EndTime, a.Duration = time.Time(w.StartTime), time.Time(w.EndTime), int(w.Duration)
	return nil
}

// User is an E7 entry: a Contact Center user and the status now (E7 has
// no "since": LastModifiedTime is when the user record last changed).
type User struct {
	UserID           string    `json:"user_id"`
	CCUserID         string    `json:"cc_user_id"`
	DisplayName      string    `json:"display_name"`
	UserEmail        string    `json:"user_email"`
	StatusID         string    `json:"status_id"`
	StatusName       string    `json:"status_name"`
	SubStatusID      string    `json:"sub_status_id"`
	SubStatusName    string    `json:"sub_status_name"`
	UserAccess       string    `json:"user_access"`
	LastModifiedTime time.Time `json:"last_modified_time"`
}

func (u *User) UnmarshalJSON(b []byte) error {
	type plain User
	var w struct {
		plain
		StatusID         apiString `json:"status_id"`
		SubStatusID      apiString `json:"sub_status_id"`
		LastModifiedTime apiTime   `json:"last_modified_time"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*u = User(w.plain)
	u.StatusID, u.SubStatusID = string(w.StatusID), string(w.SubStatusID)
	u.LastModifiedTime = time.Time(w.LastModifiedTime)
	return nil
}

// apiTime reads Zoom's times: ISO 8601 with a 'Z' or an offset, with or
// without fractions; without a zone, UTC (we never ask for another
// timezone); "" or null, the zero time.
type apiTime time.Time

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

func (t *apiTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = apiTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: want a string, got %.40s", b)
	}
	v, err := parseTime(s)
	if err != nil {
		return err
	}
	*t = apiTime(v)
	return nil
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			if v.Year() < 1970 || v.Year() > 9999 {
				break
			}
			return v, nil
		}
	}
	return time.Time{}, fmt.Errorf("time: cannot read %q", truncate(s, 40))
}

// apiInt reads a count or duration written as a number (whole or not) or
// a numeric string; null is 0.
type apiInt int

func (n *apiInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(uq)
		if s == "" {
			*n = 0
			return nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= -1<<31 && f <= 1<<31) { // NaN too
		return fmt.Errorf("number: cannot read %.40s", b)
	}
	*n = apiInt(f)
	return nil
}

// apiString reads an id Zoom may write as a string or a number.
type apiString string

func (s *apiString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err == nil {
		*s = apiString(v)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("id: cannot read %.40s", b)
	}
	*s = apiString(num.String())
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodePage reads a list response: the items under field and the
// next_page_token.
func decodePage[T any](body []byte, field string) (items []T, next string, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, "", fmt.Errorf("decoding the response: %w", err)
	}
	if raw, ok := m["next_page_token"]; ok && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &next); err != nil {
			return nil, "", fmt.Errorf("decoding next_page_token: %w", err)
		}
	}
	if raw, ok := m[field]; ok && !bytes.Equal(raw, []byte("null")) {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, "", fmt.Errorf("decoding %s: %w", field, err)
		}
	}
	return items, next, nil
}
