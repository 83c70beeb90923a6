package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// RTMSClaimBucket is the KV bucket of RTMS claims, a bucket of its own.
const RTMSClaimBucket = "ZOOM_RTMS_CLAIMS"

// HeaderRTMSClaim carries, on the voice_rtms_* messages, the stream's key
// in RTMSClaimBucket (see RTMSClaimKey).
const HeaderRTMSClaim = "Zoom-Rtms-Claim"

// maxClaimToken bounds each token of a claim key, so that the key, which
// is also a subject in the bucket's stream, stays short.
const maxClaimToken = 128

// ErrNoRTMSStream is returned by RTMSClaimKey for an event that is not a
// voice_rtms_* event or that lacks its engagement or stream id.
var ErrNoRTMSStream = errors.New("not an RTMS event with an engagement and a stream id")

// RTMSClaimKey returns the key under which exactly one media adapter
// claims the event's real-time media stream:
// <account>.<engagement_id>.<rtms_stream_id>. Zoom sends voice_rtms_started
// again for the same stream after a failover of its RTMS servers, and a
// 1+1 pair publishes each copy it receives; a KV create-if-absent on this
// key in RTMSClaimBucket is won by one adapter, once. Each token is one
// valid KV key token: an id made only of letters, digits, '-', '_', '='
// and '/' (as Zoom's ids are) is kept as it is; any other, or one longer
// than 128 bytes, becomes "x" and 32 hex digits of its SHA-256, so that
// distinct ids never share a key. The account of the flat voice_rtms_*
// events is "_", as in their subject.
func (e *Event) RTMSClaimKey() (string, error) {
	if e.Family() != FamilyRTMS {
		return "", fmt.Errorf("events: %s: %w", e.Name, ErrNoRTMSStream)
	}
	var o VoiceRTMS
	if err := json.Unmarshal(e.Object, &o); err != nil {
		return "", decodeError("payload of "+e.Name, err)
	}
	if o.EngagementID == "" || o.RTMSStreamID == "" {
		return "", fmt.Errorf("events: %s: %w", e.Name, ErrNoRTMSStream)
	}
	b := appendClaimToken(nil, accountToken(e.AccountID))
	b = append(b, '.')
	b = appendClaimToken(b, o.EngagementID)
	b = append(b, '.')
	b = appendClaimToken(b, o.RTMSStreamID)
	return string(b), nil
}

func appendClaimToken(b []byte, s string) []byte {
	ok := len(s) <= maxClaimToken
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '=' || c == '/'
	}
	if ok {
		return append(b, s...)
	}
	sum := sha256.Sum256([]byte(s))
	b = append(b, 'x')
	return hex.AppendEncode(b, sum[:16])
}
