package events

import (
	"strings"
)

// VoiceRTMS is the payload of the contact_center.voice_rtms_* events: Zoom's
// real-time media stream of a voice engagement. Zoom sends these events
// flat, with no payload.account_id and no payload.object; the payload
// itself is the event's object (see Event).
type VoiceRTMS struct {
	EngagementID string `json:"engagement_id,omitempty"`
	RTMSStreamID string `json:"rtms_stream_id,omitempty"`
	// ServerURLs is one string: several URLs, for different protocols, are
	// separated by commas. URLs splits them.
	ServerURLs string `json:"server_urls,omitempty"`
	StopReason int    `json:"stop_reason,omitempty"` // voice_rtms_stopped; the codes are not published for Contact Center
	Extra      Extra  `json:"-"`
}

func (o *VoiceRTMS) UnmarshalJSON(b []byte) error {
	type plain VoiceRTMS
	return decodeObject(b, (*plain)(o), &o.Extra)
}

func (o VoiceRTMS) MarshalJSON() ([]byte, error) {
	type plain VoiceRTMS
	return encodeObject(plain(o), o.Extra)
}

// URLs returns the media server URLs of server_urls, white space trimmed,
// empty ones left out.
func (o *VoiceRTMS) URLs() []string {
	var urls []string
	for u := range strings.SplitSeq(o.ServerURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// The RTMS events.
type (
	VoiceRTMSStarted     struct{ VoiceRTMS }
	VoiceRTMSStopped     struct{ VoiceRTMS }
	VoiceRTMSInterrupted struct{ VoiceRTMS }
)
