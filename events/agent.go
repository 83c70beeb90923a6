package events

// Agent is the object of contact_center.user_login and user_logout: a Contact
// Center user (an agent) signing in to or out of the Contact Center.
type Agent struct {
	UserID      string    `json:"user_id,omitempty"`
	DisplayName string    `json:"display_name,omitempty"`
	Email       string    `json:"user_email,omitempty"`
	DateTime    MilliTime `json:"date_time_ms,omitzero"`
	Extra       Extra     `json:"-"`
}

func (o *Agent) UnmarshalJSON(b []byte) error {
	type plain Agent
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Agent) MarshalJSON() ([]byte, error) {
	type plain Agent
	return encodeObject(plain(o), o.Extra)
}

// The agent session events.
type (
	AgentLogin  struct{ Agent }
	AgentLogout struct{ Agent }
)

// AgentStatusChanged is contact_center.user_status_changed.
type AgentStatusChanged struct {
	UserID                string    `json:"user_id,omitempty"`
	DisplayName           string    `json:"display_name,omitempty"`
	Email                 string    `json:"user_email,omitempty"`
	PreviousStatusID      string    `json:"previous_status_id,omitempty"`
	PreviousStatusName    string    `json:"previous_status_name,omitempty"`
	PreviousSubStatusID   string    `json:"previous_sub_status_id,omitempty"`
	PreviousSubStatusName string    `json:"previous_sub_status_name,omitempty"`
	CurrentStatusID       string    `json:"current_status_id,omitempty"`
	CurrentStatusName     string    `json:"current_status_name,omitempty"`
	CurrentSubStatusID    string    `json:"current_sub_status_id,omitempty"`
	CurrentSubStatusName  string    `json:"current_sub_status_name,omitempty"`
	DateTime              MilliTime `json:"date_time_ms,omitzero"`
	Extra                 Extra     `json:"-"`
}

func (o *AgentStatusChanged) UnmarshalJSON(b []byte) error {
	type plain AgentStatusChanged
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o AgentStatusChanged) MarshalJSON() ([]byte, error) {
	type plain AgentStatusChanged
	return encodeObject(plain(o), o.Extra)
}
