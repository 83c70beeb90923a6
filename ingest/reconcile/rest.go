//go:build !reconcile_zoomrest

package reconcile

import (
	"context"
	"errors"
	"time"
)

// The REST types below are the subset of package zoomrest's (design page
// "zoomrest API") the reconciler reads, with the same names and fields.
// MERGER: once zoomrest is merged, delete this file and the build tag of
// rest_zoomrest.go, where each is an alias of zoomrest's and
// *zoomrest.Client satisfies REST as it is (go test -tags
// reconcile_zoomrest runs it, and the simulator scenario, before that).

// REST is what the reconciler asks of Zoom's Contact Center REST API
// (*zoomrest.Client). Each list method follows every page and splits long
// windows itself; a call is one entry in the summary's request count.
type REST interface {
	Engagements(ctx context.Context, from, to time.Time) ([]Engagement, error)          // E1
	Engagement(ctx context.Context, id string) (*EngagementDetail, error)               // E2; ErrNotFound while Zoom processes it
	RecordingStatus(ctx context.Context, engagementID string) (*RecordingStatus, error) // E4
	StatusHistory(ctx context.Context, from, to time.Time) ([]AgentStatus, error)       // E6 (Heavy)
}

// ErrNotFound is REST's answer for an engagement Zoom does not show (yet).
var ErrNotFound = errors.New("zoomrest: not found")

// E2 timeline event types (zoomrest.Event*): an assumption, Zoom does not
// document them (see the README).
const (
	EventEngagementStart = "Engagement Start"
	EventAgentOffer      = "Agent Offer"
	EventAgentAccept     = "Agent Accept"
	EventHold            = "Hold"
	EventTransfer        = "Transfer"
	EventConference      = "Conference"
	EventMonitor         = "Monitor"
	EventWrapUp          = "Wrap Up"
	EventEngagementEnd   = "Engagement End"
)

// Engagement is an E1 row.
type Engagement struct {
	EngagementID   string
	StartTime      time.Time
	EndTime        time.Time
	Direction      string
	Channels       []Channel
	Consumers      []Consumer
	Flows          []Flow
	Queues         []Queue
	Agents         []Agent
	TransferCount  int
	Dispositions   []Disposition
	Notes          []Note
	WrapUpDuration int // seconds
}

type Channel struct{ Channel, ChannelSource string }

type Consumer struct{ ConsumerID, ConsumerDisplayName, ConsumerNumber string }

type Flow struct{ FlowID, FlowName string }

type Queue struct{ QueueID, CCQueueID, QueueName string }

type Agent struct{ UserID, DisplayName string }

type Disposition struct{ DispositionID, DispositionName string }

type Note struct {
	NoteID, UserID, Note string
	LastModifiedTime     time.Time
}

// EngagementDetail is E2: the E1 fields and the timeline.
type EngagementDetail struct {
	Engagement
	Events []TimelineEvent
}

// TimelineEvent is one entry of E2's events[].
type TimelineEvent struct {
	StartTime             time.Time
	Duration              int // seconds
	EventType             string
	Channel               string
	ChannelSource         string
	Direction             string
	FlowID                string
	QueueID               string
	CCQueueID             string
	UserID                string
	UserDisplayName       string
	AcceptType            string
	TransferToUserID      string
	TransferToQueueID     string
	TransferType          string
	ConferenceType        string
	InviteeType           string
	Invitee               string
	SupervisorID          string
	SupervisorDisplayName string
	ConsumerID            string
	UpgradedToChannelType string
}

// RecordingStatus is E4: every status change of an engagement's recording.
type RecordingStatus struct {
	EngagementID, Channel, ChannelSource string
	Statuses                             []RecordingStatusEntry
}

type RecordingStatusEntry struct {
	Status           string // start, stop, pause, resume
	LastModifiedTime time.Time
}

// AgentStatus is an E6 row: StartTime is when the agent entered the status.
type AgentStatus struct {
	UserID, DisplayName                              string
	StatusID, StatusName, SubStatusID, SubStatusName string
	StartTime, EndTime                               time.Time
	Duration                                         int
	OccupiedEngagementID                             string
}
