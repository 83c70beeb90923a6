package events

import "time"

// Supervision is the object of engagement_monitor_started,
// engagement_monitor_ended and engagement_takeover_started: a supervisor
// listening in, whispering, barging in or taking the engagement over from
// its agent (user_id).
type Supervision struct {
	EngagementID              string    `json:"engagement_id,omitempty"`
	EngagementDirection       string    `json:"engagement_direction,omitempty"`
	Channel                   string    `json:"channel,omitempty"`
	ActionType                string    `json:"action_type,omitempty"` // barge, ...
	FlowID                    string    `json:"flow_id,omitempty"`
	FlowName                  string    `json:"flow_name,omitempty"`
	QueueID                   string    `json:"cc_queue_id,omitempty"`
	QueueName                 string    `json:"queue_name,omitempty"`
	UserID                    string    `json:"user_id,omitempty"`
	UserDisplayName           string    `json:"user_display_name,omitempty"`
	MonitoringUserID          string    `json:"monitoring_user_id,omitempty"`
	MonitoringUserDisplayName string    `json:"monitoring_user_display_name,omitempty"`
	TakeoverUserID            string    `json:"takeover_user_id,omitempty"`
	TakeoverUserDisplayName   string    `json:"takeover_user_display_name,omitempty"`
	ContactCenterNumber       string    `json:"contact_center_number,omitempty"`
	ConsumerID                string    `json:"consumer_id,omitempty"`
	ConsumerNumber            string    `json:"consumer_number,omitempty"`
	ConsumerDisplayName       string    `json:"consumer_display_name,omitempty"`
	DateTime                  MilliTime `json:"date_time_ms,omitzero"`
	Extra                     Extra     `json:"-"`
}

func (o *Supervision) UnmarshalJSON(b []byte) error {
	type plain Supervision
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Supervision) MarshalJSON() ([]byte, error) {
	type plain Supervision
	return encodeObject(plain(o), o.Extra)
}

// The supervision events.
type (
	EngagementMonitorStarted  struct{ Supervision }
	EngagementMonitorEnded    struct{ Supervision }
	EngagementTakeoverStarted struct{ Supervision }
)

// Upgrade is the object of the engagement_upgrade_* events: an engagement
// moving to another channel (an SMS conversation becoming a video call).
type Upgrade struct {
	EngagementID           string            `json:"engagement_id,omitempty"`
	EngagementDirection    string            `json:"engagement_direction,omitempty"`
	Channel                string            `json:"channel,omitempty"`
	ChannelSource          string            `json:"channel_source,omitempty"`
	UpgradeToChannel       string            `json:"upgrade_to_channel,omitempty"`
	UpgradeToChannelSource string            `json:"upgrade_to_channel_source,omitempty"`
	FlowID                 string            `json:"flow_id,omitempty"`
	FlowName               string            `json:"flow_name,omitempty"`
	QueueID                string            `json:"cc_queue_id,omitempty"`
	QueueName              string            `json:"queue_name,omitempty"`
	Users                  []EngagedUser     `json:"users,omitempty"`
	Consumers              []EngagedConsumer `json:"consumers,omitempty"`
	DateTime               MilliTime         `json:"date_time_ms,omitzero"`
	Extra                  Extra             `json:"-"`
}

func (o *Upgrade) UnmarshalJSON(b []byte) error {
	type plain Upgrade
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Upgrade) MarshalJSON() ([]byte, error) {
	type plain Upgrade
	return encodeObject(plain(o), o.Extra)
}

// The channel upgrade events.
type (
	EngagementUpgradeInitiated struct{ Upgrade }
	EngagementUpgradeCompleted struct{ Upgrade }
	EngagementUpgradeExpired   struct{ Upgrade }
)

// Disposition is the object of engagement_disposition_added: the outcome
// an agent chose for the engagement.
type Disposition struct {
	DispositionID          string    `json:"disposition_id,omitempty"`
	DispositionName        string    `json:"disposition_name,omitempty"`
	DispositionDescription string    `json:"disposition_description,omitempty"`
	Status                 string    `json:"status,omitempty"`
	LastModifiedTime       time.Time `json:"last_modified_time,omitzero"` // to the second
	ModifiedBy             string    `json:"modified_by,omitempty"`
	EngagementID           string    `json:"engagement_id,omitempty"`
	EngagementDirection    string    `json:"engagement_direction,omitempty"`
	QueueID                string    `json:"cc_queue_id,omitempty"`
	QueueName              string    `json:"queue_name,omitempty"`
	FlowID                 string    `json:"flow_id,omitempty"`
	FlowName               string    `json:"flow_name,omitempty"`
	FlowNumber             string    `json:"flow_number,omitempty"`
	Channel                string    `json:"channel,omitempty"`
	ChannelSource          string    `json:"channel_source,omitempty"`
	UserID                 string    `json:"user_id,omitempty"`
	UserDisplayName        string    `json:"user_display_name,omitempty"`
	ConsumerID             string    `json:"consumer_id,omitempty"`
	ConsumerDisplayName    string    `json:"consumer_display_name,omitempty"`
	ConsumerNumber         string    `json:"consumer_number,omitempty"`
	DateTime               MilliTime `json:"date_time_ms,omitzero"`
	Extra                  Extra     `json:"-"`
}

func (o *Disposition) UnmarshalJSON(b []byte) error {
	type plain Disposition
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Disposition) MarshalJSON() ([]byte, error) {
	type plain Disposition
	return encodeObject(plain(o), o.Extra)
}

// EngagementDispositionAdded is engagement_disposition_added.
type EngagementDispositionAdded struct{ Disposition }

// Note is the object of engagement_note_added: a note an agent wrote on
// the engagement.
type Note struct {
	NoteID              string    `json:"note_id,omitempty"`
	Text                string    `json:"note,omitempty"`              // the note itself
	LastModifiedTime    time.Time `json:"last_modified_time,omitzero"` // to the second
	EngagementID        string    `json:"engagement_id,omitempty"`
	EngagementDirection string    `json:"engagement_direction,omitempty"`
	Channel             string    `json:"channel,omitempty"`
	ChannelSource       string    `json:"channel_source,omitempty"`
	QueueID             string    `json:"cc_queue_id,omitempty"`
	QueueName           string    `json:"queue_name,omitempty"`
	FlowID              string    `json:"flow_id,omitempty"`
	FlowName            string    `json:"flow_name,omitempty"`
	FlowNumber          string    `json:"flow_number,omitempty"`
	UserID              string    `json:"user_id,omitempty"`
	UserDisplayName     string    `json:"user_display_name,omitempty"`
	ConsumerID          string    `json:"consumer_id,omitempty"`
	ConsumerDisplayName string    `json:"consumer_display_name,omitempty"`
	ConsumerNumber      string    `json:"consumer_number,omitempty"`
	DateTime            MilliTime `json:"date_time_ms,omitzero"`
	Extra               Extra     `json:"-"`
}

func (o *Note) UnmarshalJSON(b []byte) error {
	type plain Note
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Note) MarshalJSON() ([]byte, error) {
	type plain Note
	return encodeObject(plain(o), o.Extra)
}

// EngagementNoteAdded is engagement_note_added.
type EngagementNoteAdded struct{ Note }

// Survey is the object of engagement_survey_status. The answers are not in
// it: Zoom serves them over REST.
type Survey struct {
	EngagementID        string    `json:"engagement_id,omitempty"`
	Channel             string    `json:"channel,omitempty"`
	ChannelSource       string    `json:"channel_source,omitempty"`
	QueueID             string    `json:"cc_queue_id,omitempty"`
	QueueName           string    `json:"queue_name,omitempty"`
	FlowID              string    `json:"flow_id,omitempty"`
	FlowName            string    `json:"flow_name,omitempty"`
	FlowNumber          string    `json:"flow_number,omitempty"`
	SurveyStatus        string    `json:"survey_status,omitempty"`
	SurveyID            string    `json:"survey_id,omitempty"`
	SurveyQuestionID    string    `json:"survey_question_id,omitempty"`
	SurveyTriggerFrom   string    `json:"survey_trigger_from,omitempty"`
	ConsumerID          string    `json:"consumer_id,omitempty"`
	ConsumerNumber      string    `json:"consumer_number,omitempty"`
	ConsumerDisplayName string    `json:"consumer_display_name,omitempty"`
	ConsumerEmail       string    `json:"consumer_email,omitempty"`
	UserID              string    `json:"user_id,omitempty"`
	UserDisplayName     string    `json:"user_display_name,omitempty"`
	DateTime            MilliTime `json:"date_time_ms,omitzero"`
	Extra               Extra     `json:"-"`
}

func (o *Survey) UnmarshalJSON(b []byte) error {
	type plain Survey
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Survey) MarshalJSON() ([]byte, error) {
	type plain Survey
	return encodeObject(plain(o), o.Extra)
}

// EngagementSurveyStatus is engagement_survey_status.
type EngagementSurveyStatus struct{ Survey }

// EngagementEndData is the object of cx_engagement_end_data_ready: the
// ended engagement's data can now be read over REST.
type EngagementEndData struct {
	EngagementID        string    `json:"engagement_id,omitempty"`
	EngagementDirection string    `json:"engagement_direction,omitempty"`
	Channel             string    `json:"channel,omitempty"`
	StartTime           MilliTime `json:"start_time,omitzero"` // to the millisecond despite its name
	DateTime            MilliTime `json:"date_time_ms,omitzero"`
	Extra               Extra     `json:"-"`
}

func (o *EngagementEndData) UnmarshalJSON(b []byte) error {
	type plain EngagementEndData
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o EngagementEndData) MarshalJSON() ([]byte, error) {
	type plain EngagementEndData
	return encodeObject(plain(o), o.Extra)
}

// CXEngagementEndDataReady is cx_engagement_end_data_ready.
type CXEngagementEndDataReady struct{ EngagementEndData }
