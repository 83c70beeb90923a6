package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Message headers of the interface.
const (
	HeaderMsgID        = "Nats-Msg-Id" // JetStream de-duplicates by it
	HeaderEvent        = "Zoom-Event"
	HeaderEventTS      = "Zoom-Event-Ts"
	HeaderAccountID    = "Zoom-Account-Id"
	HeaderSubscription = "Zoom-Subscription"
	HeaderContentType  = "Content-Type"
	// HeaderError carries, on the invalid subject, why the frame could not
	// be decoded.
	HeaderError = "Zoom-Error"
)

// A Message is a normalized event as any output publishes it. Outputs
// translate it to their own type (NATS: a nats.Msg, Header converting as is).
type Message struct {
	Subject string
	ID      string // the de-duplication key, also in Header[HeaderMsgID]
	Header  Header
	Data    []byte
}

// Header holds a message's headers, one value a key, names as written.
type Header map[string][]string

// Get returns the first value of key, "" if there is none.
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Body is the JSON body of a normalized event message.
type Body struct {
	ID           string          `json:"id"`
	Event        string          `json:"event"`
	EventTS      int64           `json:"event_ts"`
	AccountID    string          `json:"account_id"`
	Subscription string          `json:"subscription"`
	ReceivedAt   time.Time       `json:"received_at"`
	Object       json.RawMessage `json:"object"`
	// Fields Zoom sent beside payload.account_id and payload.object, or
	// beside event, event_ts and payload; absent when there were none.
	PayloadExtra  map[string]json.RawMessage `json:"payload_extra,omitempty"`
	EnvelopeExtra map[string]json.RawMessage `json:"envelope_extra,omitempty"`
	// Source is SourceREST for an event rebuilt from Zoom's REST API (see
	// RebuiltMessage); absent on live events.
	Source string `json:"source,omitempty"`
}

// Subject returns the subject the event is published on:
// <prefix>.<account>.<family>.<action> for a known event,
// <prefix>.<account>.unknown.<event name> for any other.
func (e *Event) Subject(prefix string) string {
	var buf [128]byte
	k, known := registry[e.Name]
	return string(e.appendSubject(buf[:0], prefix, k.subject, known))
}

// appendSubject appends the subject; subject is the registry's tokens
// after the account for a known event.
func (e *Event) appendSubject(b []byte, prefix, subject string, known bool) []byte {
	b = append(b, prefix...)
	b = append(b, '.')
	b = appendToken(b, e.AccountID)
	b = append(b, '.')
	if known {
		return append(b, subject...)
	}
	b = append(b, "unknown"...)
	for tok := range strings.SplitSeq(e.Name, ".") {
		b = append(b, '.')
		b = appendToken(b, tok)
	}
	return b
}

// InvalidSubject is the subject of frames that could not be decoded.
func InvalidSubject(prefix string) string { return prefix + ".invalid" }

// appendToken appends s as one subject token: a character NATS does not
// allow in a token (separator, wildcards, white space, control characters)
// becomes '_', and so does anything outside printable ASCII, so that a
// subscriber's filter can always name the token. An empty token becomes "_".
func appendToken(b []byte, s string) []byte {
	if s == "" {
		return append(b, '_')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			_, n := utf8.DecodeRuneInString(s[i:])
			b = append(b, '_')
			i += n
			continue
		}
		if c <= ' ' || c == '.' || c == '*' || c == '>' || c == 0x7f {
			c = '_'
		}
		b = append(b, c)
		i++
	}
	return b
}

// Message returns the normalized message of the event as it arrived on the
// named subscription.
func (e *Event) Message(prefix, subscription string, receivedAt time.Time) (*Message, error) {
	// The key, event_ts, subject, CloudEvents values and the body share
	// one allocation: the strings are the front of it, never written
	// again, and the body is the rest, capped so that an append to Data
	// cannot reach them. A body larger than the guess moves out on its own.
	k, known := registry[e.Name]
	b := make([]byte, 0, e.messageSize(prefix, subscription))
	b = e.appendKey(b)
	b = strconv.AppendInt(b, e.TS, 10)
	tsEnd := len(b)
	b = e.appendSubject(b, prefix, k.subject, known)
	subjectEnd := len(b)
	b, ceEnds := e.cloudEvents(b, b[:keyLen], k.family, receivedAt)
	strsEnd := len(b)
	strs := unsafe.String(unsafe.SliceData(b), strsEnd)
	key, ts, subject := strs[:keyLen], strs[keyLen:tsEnd], strs[tsEnd:subjectEnd]
	receivedAtText := strs[ceEnds[5]:ceEnds[6]] // ce-recordedtime
	b, err := e.appendBody(b, key, ts, subscription, receivedAtText)
	if err != nil {
		return nil, &DecodeError{Where: "normalizing " + e.Name, Offset: -1, Err: err}
	}
	body := b[strsEnd:len(b):len(b)]
	// The message and its header values share one allocation, and the map
	// is sized for exactly the headers it gets: a hint one too large
	// doubles its table (14 headers fit 16 slots, 15 need 32), and every
	// publish iterates every slot when it encodes the headers.
	claim := ""
	if k.family == FamilyRTMS {
		if c, err := e.RTMSClaimKey(); err == nil {
			claim = c
		}
	}
	n := 6
	start := subjectEnd
	for _, end := range ceEnds {
		if end > start {
			n++
			start = end
		}
	}
	if claim != "" {
		n++
	}
	a := &messageAlloc{vals: [len(messageAlloc{}.vals)]string{key, e.Name, ts, e.AccountID, subscription, "application/json"}}
	vals := a.vals[:]
	h := make(Header, n)
	h[HeaderMsgID] = vals[0:1:1]
	h[HeaderEvent] = vals[1:2:2]
	h[HeaderEventTS] = vals[2:3:3]
	h[HeaderAccountID] = vals[3:4:4]
	h[HeaderSubscription] = vals[4:5:5]
	h[HeaderContentType] = vals[5:6:6]
	start = subjectEnd
	for i, name := range ceHeaders {
		if end := ceEnds[i]; end > start {
			vals[6+i] = strs[start:end]
			h[name] = vals[6+i : 7+i : 7+i]
			start = end
		}
	}
	if claim != "" {
		last := len(vals) - 1
		vals[last] = claim
		h[HeaderRTMSClaim] = vals[last:]
	}
	a.m = Message{Subject: subject, ID: key, Header: h, Data: body}
	return &a.m, nil
}

// messageSize is room for what Message writes for most events: the key
// three times (Nats-Msg-Id, ce-id, body), the account and the name three
// times (subject, CloudEvents, body), the object, and the fixed text,
// times and an id for ce-subject. Extra fields, escapes and a longer
// ce-subject may take more, and the body then moves out.
func (e *Event) messageSize(prefix, subscription string) int {
	const fixed = 320 // 250 to 255 for the examples
	return 3*keyLen + fixed + len(prefix) + 3*len(e.AccountID) + 3*len(e.Name) + len(subscription) + len(e.Object)
}

// messageAlloc is a Message with the backing array of its header values:
// the Zoom-* headers, the CloudEvents headers and the RTMS claim.
type messageAlloc struct {
	m    Message
	vals [6 + len(ceHeaders) + 1]string
}

// appendBody appends the JSON of Body. It is written out by hand because
// this is the hot path: the object is copied as Zoom sent it, never
// re-encoded.
func (e *Event) appendBody(b []byte, key, ts, subscription, receivedAt string) ([]byte, error) {
	b = append(b, `{"id":"`...)
	b = append(b, key...)
	b = append(b, `","event":`...)
	b = appendString(b, e.Name)
	b = append(b, `,"event_ts":`...)
	b = append(b, ts...)
	b = append(b, `,"account_id":`...)
	b = appendString(b, e.AccountID)
	b = append(b, `,"subscription":`...)
	b = appendString(b, subscription)
	b = append(b, `,"received_at":"`...)
	b = append(b, receivedAt...)
	b = append(b, `","object":`...)
	if len(e.Object) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Object...)
	}
	for _, x := range []struct {
		name  string
		extra map[string]json.RawMessage
	}{{"payload_extra", e.PayloadExtra}, {"envelope_extra", e.EnvelopeExtra}} {
		if len(x.extra) == 0 {
			continue
		}
		m, err := json.Marshal(x.extra)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"`...)
		b = append(b, x.name...)
		b = append(b, `":`...)
		b = append(b, m...)
	}
	return append(b, '}'), nil
}

// InvalidMessage returns the message for a frame that could not be decoded:
// the raw frame as the body, on the invalid subject. reason must already be
// free of secrets; it goes in the Zoom-Error header.
func InvalidMessage(prefix, subscription string, frame []byte, reason string) *Message {
	key := FrameKey(frame)
	return &Message{
		Subject: InvalidSubject(prefix),
		ID:      key,
		Header: Header{
			HeaderMsgID:        {key},
			HeaderSubscription: {subscription},
			HeaderError:        {strings.ToValidUTF8(strings.ReplaceAll(reason, "\n", " "), "?")},
			HeaderContentType:  {"application/octet-stream"},
		},
		Data: frame,
	}
}

// appendString appends s as a JSON string. Names and ids need no escaping;
// anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
