package events

import (
	"time"
)

// CloudEvents binary-mode headers, as the CloudEvents NATS protocol binding
// maps the attributes: beside the Zoom-* headers, so that any CloudEvents
// consumer (the Go SDK's NATS and JetStream bindings among them) reads a
// message as an event whose data is the body. Every value is printable
// ASCII: anything else Zoom sent is percent-encoded.
const (
	HeaderCESpecVersion     = "ce-specversion"     // "1.0"
	HeaderCEID              = "ce-id"              // = Nats-Msg-Id: a pair's two copies are one event
	HeaderCESource          = "ce-source"          // /zoom/accounts/<account>: per account, not per subscription
	HeaderCEType            = "ce-type"            // the Zoom event name
	HeaderCETime            = "ce-time"            // event_ts, RFC 3339 to the millisecond
	HeaderCEDataContentType = "ce-datacontenttype" // application/json
	HeaderCERecordedTime    = "ce-recordedtime"    // received_at, RFC 3339 to the nanosecond (extension)
	HeaderCESubject         = "ce-subject"         // the engagement id, or the user's for agent and user events; absent when there is none
)

// ceHeaders names the CloudEvents headers in the order cloudEvents
// appends their values.
var ceHeaders = [...]string{
	HeaderCESpecVersion, HeaderCEID, HeaderCESource, HeaderCEType, HeaderCETime,
	HeaderCEDataContentType, HeaderCERecordedTime, HeaderCESubject,
}

// ceSourcePrefix begins ce-source; the account id follows.
const ceSourcePrefix = "/zoom/accounts/"

// maxCESubject bounds ce-subject: an id longer than this is no id, and
// the header is left out rather than carry it.
const maxCESubject = 256

// cloudEvents appends the values of the CloudEvents headers to b, in the
// order of ceHeaders, and returns where each ends. A header whose value is
// empty is left out of the message (ce-subject without an id, ce-time
// outside the years RFC 3339 can write).
func (e *Event) cloudEvents(b, key []byte, family Family, receivedAt time.Time) ([]byte, [len(ceHeaders)]int) {
	var ends [len(ceHeaders)]int
	b = append(b, "1.0"...)
	ends[0] = len(b)
	b = append(b, key...)
	ends[1] = len(b)
	b = append(b, ceSourcePrefix...)
	b = appendHeaderSafe(b, accountToken(e.AccountID))
	ends[2] = len(b)
	b = appendHeaderSafe(b, e.Name)
	ends[3] = len(b)
	b = appendMilliTime(b, e.TS)
	ends[4] = len(b)
	b = append(b, "application/json"...)
	ends[5] = len(b)
	b = receivedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	ends[6] = len(b)
	if id := e.subjectID(family); len(id) >= 3 && len(id) <= maxCESubject+2 {
		if bytesIndexBackslash(id) {
			b = appendHeaderSafe(b, unquoteString(id))
		} else {
			b = appendHeaderSafe(b, id[1:len(id)-1])
		}
	}
	ends[7] = len(b)
	return b, ends
}

// subjectID returns the raw string literal of the id the event is about:
// the user's for agent and user events, else the engagement's (an unknown
// event without one falls back to a user_id).
func (e *Event) subjectID(f Family) []byte {
	switch f {
	case FamilyAgent:
		return e.ids.user
	case FamilyUser:
		return e.ids.id
	case FamilyUnknown:
		if e.ids.engagement == nil {
			return e.ids.user
		}
	}
	return e.ids.engagement
}

// accountToken is the account as the subject and ce-source name it: "_"
// when the event carries none (the flat voice_rtms_* events).
func accountToken(account string) string {
	if account == "" {
		return "_"
	}
	return account
}

func bytesIndexBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// appendHeaderSafe appends s with every byte outside printable ASCII, and
// space and '%', percent-encoded: a header value any NATS client and
// CloudEvents SDK reads back as sent, and that nothing in s can break.
func appendHeaderSafe[S string | []byte](b []byte, s S) []byte {
	const hex = "0123456789ABCDEF"
	i := 0
	for i < len(s) && s[i] > ' ' && s[i] < 0x7f && s[i] != '%' {
		i++
	}
	b = append(b, s[:i]...) // names and ids need no encoding
	for ; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '%' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// appendMilliTime appends ms, milliseconds since the epoch, as RFC 3339 in
// UTC to the millisecond, without time.Format's layout parsing: it runs for
// every event. A time before 1970 or past year 9999 is left out.
func appendMilliTime(b []byte, ms int64) []byte {
	if ms < 0 {
		return b
	}
	t := time.UnixMilli(ms).UTC()
	year, month, day := t.Date()
	if year > 9999 {
		return b
	}
	hour, min, sec := t.Clock()
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = append2(b, int(month), '-')
	b = append2(b, day, 'T')
	b = append2(b, hour, ':')
	b = append2(b, min, ':')
	b = append2(b, sec, '.')
	milli := int(ms % 1000)
	return append(b, byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10), 'Z')
}

func append2(b []byte, n int, sep byte) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10), sep)
}
