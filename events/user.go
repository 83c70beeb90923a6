package events

import (
	"encoding/json"
	"time"
)

// UserSession is the object of user.signed_in and user.signed_out: a Zoom
// user signing in to or out of a Zoom client.
type UserSession struct {
	ID         string    `json:"id,omitempty"`
	Email      string    `json:"email,omitempty"`
	ClientType string    `json:"client_type,omitempty"`
	Version    string    `json:"version,omitempty"`
	LoginType  FlexInt   `json:"login_type,omitzero"`
	DateTime   time.Time `json:"date_time,omitzero"`
	Extra      Extra     `json:"-"`
}

func (o *UserSession) UnmarshalJSON(b []byte) error {
	type plain UserSession
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o UserSession) MarshalJSON() ([]byte, error) {
	type plain UserSession
	return encodeObject(plain(o), o.Extra)
}

// The user session events.
type (
	UserSignedIn  struct{ UserSession }
	UserSignedOut struct{ UserSession }
)

// PresenceStatusUpdated is user.presence_status_updated.
type PresenceStatusUpdated struct {
	ID             string       `json:"id,omitempty"`
	Email          string       `json:"email,omitempty"`
	PresenceStatus string       `json:"presence_status,omitempty"`
	App            *PresenceApp `json:"app,omitempty"`
	// DateTime is date_time; Zoom's own example spells it "date-time", and
	// either spelling is read. The object re-encodes with the one it came with.
	DateTime time.Time `json:"date_time,omitzero"`
	Extra    Extra     `json:"-"`
}

const quirkDateTime = "date-time"

func (o *PresenceStatusUpdated) UnmarshalJSON(b []byte) error {
	type plain PresenceStatusUpdated
	if err := decodeObject(b, (*plain)(o), &o.Extra); err != nil {
		return err
	}
	if raw, ok := o.Extra[quirkDateTime]; ok && o.DateTime.IsZero() {
		if err := json.Unmarshal(raw, &o.DateTime); err != nil {
			return err
		}
	}
	return nil
}

func (o PresenceStatusUpdated) MarshalJSON() ([]byte, error) {
	type plain PresenceStatusUpdated
	if _, ok := o.Extra[quirkDateTime]; ok {
		extra := make(Extra, len(o.Extra))
		for k, v := range o.Extra {
			extra[k] = v
		}
		b, err := o.DateTime.MarshalJSON()
		if err != nil {
			return nil, err
		}
		extra[quirkDateTime] = b
		o.DateTime, o.Extra = time.Time{}, extra
	}
	return encodeObject(plain(o), o.Extra)
}

// PresenceApp is the app block of a presence update: the client whose
// presence changed.
type PresenceApp struct {
	Type           string `json:"type,omitempty"`
	PresenceStatus string `json:"presence_status,omitempty"`
	Extra          Extra  `json:"-"`
}

func (o *PresenceApp) UnmarshalJSON(b []byte) error {
	type plain PresenceApp
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o PresenceApp) MarshalJSON() ([]byte, error) {
	type plain PresenceApp
	return encodeObject(plain(o), o.Extra)
}
