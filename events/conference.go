package events

// Conference is the object of the engagement conference events
// (contact_center.engagement_conference_*): more parties joined to an
// engagement. Each participant event names the participant it is about
// under a key of its own (invited_participant, joining_participant, ...);
// Participant returns whichever one came.
type Conference struct {
	EngagementID        string                  `json:"engagement_id,omitempty"`
	EngagementDirection string                  `json:"engagement_direction,omitempty"`
	Channel             string                  `json:"channel,omitempty"`
	FlowID              string                  `json:"flow_id,omitempty"`
	FlowName            string                  `json:"flow_name,omitempty"`
	FlowNumber          string                  `json:"flow_number,omitempty"`
	Teams               []Team                  `json:"teams,omitempty"`
	DivisionID          string                  `json:"division_id,omitempty"`
	DivisionName        string                  `json:"division_name,omitempty"`
	ConferenceID        string                  `json:"conference_id,omitempty"`
	Participants        []ConferenceParticipant `json:"conference_participants,omitempty"`
	Invited             *ConferenceParticipant  `json:"invited_participant,omitempty"`
	Joining             *ConferenceParticipant  `json:"joining_participant,omitempty"`
	Leaving             *ConferenceParticipant  `json:"leaving_participant,omitempty"`
	Rejecting           *ConferenceParticipant  `json:"rejecting_participant,omitempty"`
	TimedOut            *ConferenceParticipant  `json:"timed_out_participant,omitempty"`
	Canceled            *ConferenceParticipant  `json:"canceled_participant,omitempty"`
	DateTime            MilliTime               `json:"date_time_ms,omitzero"`
	Extra               Extra                   `json:"-"`
}

func (o *Conference) UnmarshalJSON(b []byte) error {
	type plain Conference
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Conference) MarshalJSON() ([]byte, error) {
	type plain Conference
	return encodeObject(plain(o), o.Extra)
}

// Participant returns the participant the event is about (the invited,
// joining, leaving, rejecting, timed-out or canceled one), or nil.
func (o *Conference) Participant() *ConferenceParticipant {
	for _, p := range []*ConferenceParticipant{o.Invited, o.Joining, o.Leaving, o.Rejecting, o.TimedOut, o.Canceled} {
		if p != nil {
			return p
		}
	}
	return nil
}

// The engagement conference events.
type (
	ConferenceParticipantInvited  struct{ Conference }
	ConferenceParticipantJoined   struct{ Conference }
	ConferenceParticipantLeft     struct{ Conference }
	ConferenceParticipantRejected struct{ Conference }
	ConferenceParticipantTimeout  struct{ Conference }
	ConferenceParticipantCanceled struct{ Conference }
	ConferenceCanceled            struct{ Conference }
)

// ConferenceParticipant is one party of a conference: an agent
// (participant_user_id) or a phone number.
type ConferenceParticipant struct {
	UserID      string `json:"participant_user_id,omitempty"`
	DisplayName string `json:"participant_display_name,omitempty"`
	Role        string `json:"participant_role,omitempty"` // customer, host, invitee
	PhoneNumber string `json:"participant_phone_number,omitempty"`
	Extra       Extra  `json:"-"`
}

func (o *ConferenceParticipant) UnmarshalJSON(b []byte) error {
	type plain ConferenceParticipant
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o ConferenceParticipant) MarshalJSON() ([]byte, error) {
	type plain ConferenceParticipant
	return encodeObject(plain(o), o.Extra)
}

// Team is a team in the teams[] of conference events.
type Team struct {
	TeamID   string `json:"team_id,omitempty"`
	TeamName string `json:"team_name,omitempty"`
	Extra    Extra  `json:"-"`
}

func (o *Team) UnmarshalJSON(b []byte) error {
	type plain Team
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o Team) MarshalJSON() ([]byte, error) {
	type plain Team
	return encodeObject(plain(o), o.Extra)
}
