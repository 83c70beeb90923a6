package reconcile

import (
	"context"
	"time"

	"github.com/zccingest/zccingest/ingest/zoomrest"
)

// REST is what the reconciler asks of Zoom's Contact Center REST API.
type REST interface {
	Engagements(ctx context.Context, from, to time.Time) ([]Engagement, error)
	Engagement(ctx context.Context, id string) (*EngagementDetail, error)
	RecordingStatus(ctx context.Context, engagementID string) (*RecordingStatus, error)
	StatusHistory(ctx context.Context, from, to time.Time) ([]AgentStatus, error)
}

var _ REST = (*zoomrest.Client)(nil)

var ErrNotFound = zoomrest.ErrNotFound

const (
	EventEngagementStart = zoomrest.EventEngagementStart
	EventAgentOffer      = zoomrest.EventAgentOffer
	EventAgentAccept     = zoomrest.EventAgentAccept
	EventHold            = zoomrest.EventHold
	EventTransfer        = zoomrest.EventTransfer
	EventConference      = zoomrest.EventConference
	EventMonitor         = zoomrest.EventMonitor
	EventWrapUp          = zoomrest.EventWrapUp
	EventEngagementEnd   = zoomrest.EventEngagementEnd
)

type (
	Engagement           = zoomrest.Engagement
	Channel              = zoomrest.Channel
	Consumer             = zoomrest.Consumer
	Flow                 = zoomrest.Flow
	Queue                = zoomrest.Queue
	Agent                = zoomrest.Agent
	Disposition          = zoomrest.Disposition
	Note                 = zoomrest.Note
	EngagementDetail     = zoomrest.EngagementDetail
	TimelineEvent        = zoomrest.TimelineEvent
	RecordingStatus      = zoomrest.RecordingStatus
	RecordingStatusEntry = zoomrest.RecordingStatusEntry
	AgentStatus          = zoomrest.AgentStatus
)
