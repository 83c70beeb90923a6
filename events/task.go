package events

// Task is the object of the task events (contact_center.task_*).
type Task struct {
	TaskID           string    `json:"task_id,omitempty"`
	TaskStatus       string    `json:"task_status,omitempty"`
	TaskPriority     int       `json:"task_priority"`
	TaskTimeout      int       `json:"task_timeout"` // seconds
	AutoAssign       bool      `json:"auto_assign"`
	FlowID           string    `json:"flow_id,omitempty"`
	FlowName         string    `json:"flow_name,omitempty"`
	ChannelID        string    `json:"channel_id,omitempty"`
	ChannelName      string    `json:"channel_name,omitempty"`
	QueueID          string    `json:"cc_queue_id,omitempty"`
	QueueName        string    `json:"queue_name,omitempty"`
	EngagementID     string    `json:"engagement_id,omitempty"`
	CallerNumber     string    `json:"caller_number,omitempty"`
	CalleeNumber     string    `json:"callee_number,omitempty"`
	CreatedTime      MilliTime `json:"created_time_ms,omitzero"`
	LastModifiedTime MilliTime `json:"last_modified_time_ms,omitzero"`
	Extra            Extra     `json:"-"`
}

func (o *Task) UnmarshalJSON(b []byte) error {
	type plain Task
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Task) MarshalJSON() ([]byte, error) {
	type plain Task
	return encodeObject(plain(o), o.Extra)
}

// The task events.
type (
	TaskCreated   struct{ Task }
	TaskUpdated   struct{ Task }
	TaskCompleted struct{ Task }
	TaskCanceled  struct{ Task }
	TaskDeleted   struct{ Task }
)

// Reservation is the object of the task reservation events
// (contact_center.task_reservation_*): a task offered to one agent.
type Reservation struct {
	ReservationID       string    `json:"task_reservation_id,omitempty"`
	TaskID              string    `json:"task_id,omitempty"`
	AssignedUserID      string    `json:"assigned_user_id,omitempty"`
	EngagementID        string    `json:"engagement_id,omitempty"`
	EngagementDirection string    `json:"engagement_direction,omitempty"`
	Channel             string    `json:"channel,omitempty"`
	ChannelSource       string    `json:"channel_source,omitempty"`
	FlowID              string    `json:"flow_id,omitempty"`
	FlowName            string    `json:"flow_name,omitempty"`
	QueueID             string    `json:"cc_queue_id,omitempty"`
	QueueName           string    `json:"queue_name,omitempty"`
	AutoAssign          bool      `json:"auto_assign"`
	TaskTimeout         int       `json:"task_timeout"` // seconds
	CallerNumber        string    `json:"caller_number,omitempty"`
	CalleeNumber        string    `json:"callee_number,omitempty"`
	CreatedTime         MilliTime `json:"created_time_ms,omitzero"`
	LastModifiedTime    MilliTime `json:"last_modified_time_ms,omitzero"`
	Extra               Extra     `json:"-"`
}

func (o *Reservation) UnmarshalJSON(b []byte) error {
	type plain Reservation
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Reservation) MarshalJSON() ([]byte, error) {
	type plain Reservation
	return encodeObject(plain(o), o.Extra)
}

// The reservation events.
type (
	ReservationCreated   struct{ Reservation }
	ReservationAccepted  struct{ Reservation }
	ReservationCanceled  struct{ Reservation }
	ReservationCompleted struct{ Reservation }
	ReservationRejected  struct{ Reservation }
	ReservationTimeout   struct{ Reservation }
)

// TaskQueue is the object of task_entered_queue and task_exited_queue: a
// task entering or leaving a queue, with the queue's settings.
type TaskQueue struct {
	TaskID                        string    `json:"task_id,omitempty"`
	EngagementID                  string    `json:"engagement_id,omitempty"`
	FlowID                        string    `json:"flow_id,omitempty"`
	FlowName                      string    `json:"flow_name,omitempty"`
	QueueID                       string    `json:"cc_queue_id,omitempty"`
	QueueName                     string    `json:"queue_name,omitempty"`
	QueueDescription              string    `json:"queue_description,omitempty"`
	Channel                       string    `json:"channel,omitempty"`
	ChannelSource                 string    `json:"channel_source,omitempty"`
	DispositionsCount             int       `json:"dispositions_count,omitempty"`
	DispositionSetsCount          int       `json:"disposition_sets_count,omitempty"`
	MaxWaitTime                   int       `json:"max_wait_time,omitempty"`
	WrapUpTime                    int       `json:"wrap_up_time,omitempty"`
	MaxEngagementInQueue          int       `json:"max_engagement_in_queue,omitempty"`
	ShortAbandonEnable            bool      `json:"short_abandon_enable,omitempty"`
	ShortAbandonThreshold         int       `json:"short_abandon_threshold,omitempty"`
	DistributionType              int       `json:"distribution_type,omitempty"`
	DistributionDurationInSeconds int       `json:"distribution_duration_in_seconds,omitempty"`
	ConnectingMediaID             string    `json:"connecting_media_id,omitempty"`
	ConnectingMediaName           string    `json:"connecting_media_name,omitempty"`
	TransferringMediaID           string    `json:"transferring_media_id,omitempty"`
	TransferringMediaName         string    `json:"transferring_media_name,omitempty"`
	HoldingMediaID                string    `json:"holding_media_id,omitempty"`
	HoldingMediaName              string    `json:"holding_media_name,omitempty"`
	WaitingRoomID                 string    `json:"waiting_room_id,omitempty"`
	WaitingRoomName               string    `json:"waiting_room_name,omitempty"`
	MessageAccept                 string    `json:"message_accept,omitempty"`
	DateTime                      MilliTime `json:"date_time_ms,omitzero"`
	Extra                         Extra     `json:"-"`
}

func (o *TaskQueue) UnmarshalJSON(b []byte) error {
	type plain TaskQueue
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o TaskQueue) MarshalJSON() ([]byte, error) {
	type plain TaskQueue
	return encodeObject(plain(o), o.Extra)
}

// The task queue events.
type (
	TaskEnteredQueue struct{ TaskQueue }
	TaskExitedQueue  struct{ TaskQueue }
)
