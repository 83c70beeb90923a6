package events

// Recording is the object of the recording events
// (contact_center.recording_*): Zoom's own recording of an engagement.
// recording_deleted and recording_permanently_deleted carry only the
// recording id and date_time_ms, no engagement. started has no
// recording_start_time_ms; completed and transcript_completed have no
// date_time_ms, only the recording's start and end.
type Recording struct {
	RecordingID         string            `json:"recording_id,omitempty"`
	EngagementID        string            `json:"engagement_id,omitempty"`
	EngagementDirection string            `json:"engagement_direction,omitempty"`
	Channel             string            `json:"channel,omitempty"`
	RecordingType       string            `json:"recording_type,omitempty"` // on_demand, automatic
	RecordingStartTime  MilliTime         `json:"recording_start_time_ms,omitzero"`
	RecordingEndTime    MilliTime         `json:"recording_end_time_ms,omitzero"`
	RecordingDuration   int               `json:"recording_duration,omitempty"` // as Zoom sends it; its unit is not documented
	TranscriptURL       string            `json:"transcript_url,omitempty"`
	FlowID              string            `json:"flow_id,omitempty"`
	FlowName            string            `json:"flow_name,omitempty"`
	QueueID             string            `json:"cc_queue_id,omitempty"`
	QueueName           string            `json:"queue_name,omitempty"`
	OwnerID             string            `json:"owner_id,omitempty"`
	OwnerName           string            `json:"owner_name,omitempty"`
	OwnerType           string            `json:"owner_type,omitempty"` // user, queue
	Users               []EngagedUser     `json:"users,omitempty"`
	Consumers           []EngagedConsumer `json:"consumers,omitempty"`
	DateTime            MilliTime         `json:"date_time_ms,omitzero"`
	Extra               Extra             `json:"-"`
}

func (o *Recording) UnmarshalJSON(b []byte) error {
	type plain Recording
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Recording) MarshalJSON() ([]byte, error) {
	type plain Recording
	return encodeObject(plain(o), o.Extra)
}

// The recording events.
type (
	RecordingStarted             struct{ Recording }
	RecordingPaused              struct{ Recording }
	RecordingResumed             struct{ Recording }
	RecordingStopped             struct{ Recording }
	RecordingCompleted           struct{ Recording }
	RecordingDeleted             struct{ Recording }
	RecordingPermanentlyDeleted  struct{ Recording }
	RecordingTranscriptCompleted struct{ Recording }
)

// EngagedUser is an agent in the users[] of recording and upgrade events.
type EngagedUser struct {
	UserID          string `json:"user_id,omitempty"`
	UserDisplayName string `json:"user_display_name,omitempty"`
	Extra           Extra  `json:"-"`
}

func (o *EngagedUser) UnmarshalJSON(b []byte) error {
	type plain EngagedUser
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o EngagedUser) MarshalJSON() ([]byte, error) {
	type plain EngagedUser
	return encodeObject(plain(o), o.Extra)
}

// EngagedConsumer is a customer in the consumers[] of recording and upgrade
// events.
type EngagedConsumer struct {
	ConsumerID          string `json:"consumer_id,omitempty"`
	ConsumerNumber      string `json:"consumer_number,omitempty"`
	ConsumerDisplayName string `json:"consumer_display_name,omitempty"`
	Extra               Extra  `json:"-"`
}

func (o *EngagedConsumer) UnmarshalJSON(b []byte) error {
	type plain EngagedConsumer
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o EngagedConsumer) MarshalJSON() ([]byte, error) {
	type plain EngagedConsumer
	return encodeObject(plain(o), o.Extra)
}
