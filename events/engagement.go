package events

// Engagement is the object of the engagement events
// (contact_center.engagement_*, transfers aside): one interaction between a
// consumer and the contact center, on any channel.
type Engagement struct {
	EngagementID         string    `json:"engagement_id,omitempty"`
	EngagementDirection  string    `json:"engagement_direction,omitempty"` // inbound, outbound
	Channel              string    `json:"channel,omitempty"`              // voice, video, chat, sms
	ChannelSource        string    `json:"channel_source,omitempty"`
	FlowID               string    `json:"flow_id,omitempty"`
	FlowName             string    `json:"flow_name,omitempty"`
	FlowNumber           string    `json:"flow_number,omitempty"`
	QueueID              string    `json:"cc_queue_id,omitempty"`
	QueueName            string    `json:"queue_name,omitempty"`
	UserID               string    `json:"user_id,omitempty"`
	UserDisplayName      string    `json:"user_display_name,omitempty"`
	ConsumerID           string    `json:"consumer_id,omitempty"`
	ConsumerDisplayName  string    `json:"consumer_display_name,omitempty"`
	ConsumerNumber       string    `json:"consumer_number,omitempty"`
	ConsumerInviteNumber string    `json:"consumer_invite_number,omitempty"`
	ConsumerInviteEmail  string    `json:"consumer_invite_email,omitempty"`
	TransferFrom         string    `json:"transfer_from,omitempty"`
	TransferFromID       string    `json:"transfer_from_id,omitempty"`
	DTMFInput            string    `json:"dtmf_input,omitempty"` // engagement_user_dtmf_sent: the digits
	DateTime             MilliTime `json:"date_time_ms,omitzero"`
	Extra                Extra     `json:"-"`
}

func (o *Engagement) UnmarshalJSON(b []byte) error {
	type plain Engagement
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Engagement) MarshalJSON() ([]byte, error) {
	type plain Engagement
	return encodeObject(plain(o), o.Extra)
}

// The engagement events.
type (
	EngagementStarted          struct{ Engagement }
	EngagementConsumerNotified struct{ Engagement }
	EngagementUserAnswered     struct{ Engagement }
	EngagementConsumerAnswered struct{ Engagement }
	EngagementUserEnded        struct{ Engagement }
	EngagementConsumerEnded    struct{ Engagement }
	EngagementUserHold         struct{ Engagement }
	EngagementUserUnhold       struct{ Engagement }
	EngagementWrapUpStarted    struct{ Engagement }
	EngagementWrapUpEnded      struct{ Engagement }
	EngagementEnded            struct{ Engagement }
	EngagementUserMuted        struct{ Engagement }
	EngagementUserUnmuted      struct{ Engagement }
	EngagementUserDTMFSent     struct{ Engagement }
)

// Transfer is the object of the engagement transfer events
// (contact_center.engagement_transfer_*): the engagement's task moving to
// another queue, flow, agent, inbox or number.
type Transfer struct {
	TaskID                    string    `json:"task_id,omitempty"`
	TaskStatus                string    `json:"task_status,omitempty"`
	TaskTimeout               int       `json:"task_timeout"` // seconds
	TransferToTaskID          string    `json:"transfer_to_task_id,omitempty"`
	TransferToTaskStatus      string    `json:"transfer_to_task_status,omitempty"`
	TransferToTaskTimeout     int       `json:"transfer_to_task_timeout"` // seconds
	TransferLevel             string    `json:"transfer_level,omitempty"` // queue, user, flow, ...
	TransferType              string    `json:"transfer_type,omitempty"`  // warm, cold
	EngagementID              string    `json:"engagement_id,omitempty"`
	EngagementDirection       string    `json:"engagement_direction,omitempty"`
	Channel                   string    `json:"channel,omitempty"`
	FlowID                    string    `json:"flow_id,omitempty"`
	FlowName                  string    `json:"flow_name,omitempty"`
	FlowNumber                string    `json:"flow_number,omitempty"`
	TransferToFlowID          string    `json:"transfer_to_flow_id,omitempty"`
	TransferToFlowName        string    `json:"transfer_to_flow_name,omitempty"`
	QueueID                   string    `json:"cc_queue_id,omitempty"`
	QueueName                 string    `json:"queue_name,omitempty"`
	TransferToQueueID         string    `json:"transfer_to_cc_queue_id,omitempty"`
	TransferToQueueName       string    `json:"transfer_to_queue_name,omitempty"`
	UserID                    string    `json:"user_id,omitempty"`
	UserDisplayName           string    `json:"user_display_name,omitempty"`
	TransferToUserID          string    `json:"transfer_to_user_id,omitempty"`
	TransferToUserDisplayName string    `json:"transfer_to_user_display_name,omitempty"`
	TransferToInboxID         string    `json:"transfer_to_inbox_id,omitempty"`
	TransferToInboxName       string    `json:"transfer_to_inbox_name,omitempty"`
	TransferToNumber          string    `json:"transfer_to_number,omitempty"`
	ConsumerID                string    `json:"consumer_id,omitempty"`
	ConsumerDisplayName       string    `json:"consumer_display_name,omitempty"`
	ConsumerNumber            string    `json:"consumer_number,omitempty"`
	DateTime                  MilliTime `json:"date_time_ms,omitzero"`
	Extra                     Extra     `json:"-"`
}

func (o *Transfer) UnmarshalJSON(b []byte) error {
	type plain Transfer
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Transfer) MarshalJSON() ([]byte, error) {
	type plain Transfer
	return encodeObject(plain(o), o.Extra)
}

// The engagement transfer events.
type (
	TransferInitiated struct{ Transfer }
	TransferQueued    struct{ Transfer }
	TransferReserved  struct{ Transfer }
	TransferAccepted  struct{ Transfer }
	TransferRejected  struct{ Transfer }
	TransferCompleted struct{ Transfer }
	TransferCanceled  struct{ Transfer }
	TransferTimeout   struct{ Transfer }
)
