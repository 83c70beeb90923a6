package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"
	"unique"
)

// An Event is the event envelope inside a message frame's content, the same
// as a webhook body:
//
//	{"event": "...", "event_ts": 1627906944384, "payload": {"account_id": "...", "object": {...}}}
//
// Object stays raw so that every field Zoom sent survives; Typed decodes it.
//
// The contact_center.voice_rtms_* events are flat: Zoom sends their fields
// in payload itself, with no account_id and no object. For them Object is
// the whole payload and AccountID is empty (the subject's account token is
// then "_"), unless Zoom starts sending payload.account_id.
type Event struct {
	Name      string          // "contact_center.engagement_started"
	TS        int64           // event_ts: milliseconds since the epoch when it occurred
	AccountID string          // payload.account_id; empty for a flat event
	Object    json.RawMessage // payload.object as sent; the payload of a flat event

	// PayloadExtra holds payload fields other than account_id and object
	// (Zoom sends operator fields with some events); EnvelopeExtra holds
	// top-level fields other than event, event_ts and payload. Both are nil
	// when Zoom sent none.
	PayloadExtra  map[string]json.RawMessage
	EnvelopeExtra map[string]json.RawMessage

	compact bool // Object has no white space between tokens
	// The object's top-level engagement_id, user_id and id, found while
	// the object was validated: the CloudEvents subject, without a second
	// pass over the object.
	ids eventIDs
}

const whereContent = "content of message frame"

// Event decodes the frame's content as an event.
func (f Frame) Event() (*Event, error) { return parseEvent(f.Content, f.checked) }

// ParseEvent decodes the event envelope of a message frame's content. An
// event name this package does not know is not an error: the event decodes
// and Known reports false. The Event's raw fields alias content.
func ParseEvent(content []byte) (*Event, error) { return parseEvent(content, false) }

// parseEvent skips the UTF-8 check of content that came from a frame
// ParseFrame checked already: unquoting valid UTF-8 yields valid UTF-8.
func parseEvent(content []byte, utf8Checked bool) (*Event, error) {
	if len(bytes.TrimSpace(content)) == 0 {
		return nil, &DecodeError{Where: whereContent, Offset: -1, Err: ErrEmpty}
	}
	if !utf8Checked && !utf8.Valid(content) {
		return nil, &DecodeError{Where: whereContent, Offset: invalidUTF8Offset(content), Err: errors.New("invalid UTF-8")}
	}
	ev := &Event{TS: -1}
	var name, ts, payload, account, object []byte
	s := scanner{b: content}
	ok := s.topObject(func(k []byte, at int) int {
		if !keyIs(k, "payload") || at >= len(content) || content[at] != '{' {
			end := s.value(at)
			if end < 0 {
				return end
			}
			switch v := content[at:end]; {
			case keyIs(k, "event"):
				name = v
			case keyIs(k, "event_ts"):
				ts = v
			case keyIs(k, "payload"):
				payload = v
			default:
				ev.EnvelopeExtra = addExtra(ev.EnvelopeExtra, k, v)
			}
			return end
		}
		// The payload is walked as it is validated, not twice. The last
		// payload wins, as in encoding/json.
		account, object, ev.PayloadExtra = nil, nil, nil
		ev.ids = eventIDs{}
		end := s.object(at, func(k []byte, at int) int {
			var end int
			if keyIs(k, "object") && at < len(content) && content[at] == '{' {
				s.ids, s.idsDepth = &ev.ids, s.depth+1
				end = s.object(at, nil)
				s.ids = nil
			} else if end = s.value(at); end >= 0 {
				ev.ids.note(k, content[at:end]) // a flat payload's
			}
			if end < 0 {
				return end
			}
			switch v := content[at:end]; {
			case keyIs(k, "account_id"):
				account = v
			case keyIs(k, "object"):
				object = v
			default:
				ev.PayloadExtra = addExtra(ev.PayloadExtra, k, v)
			}
			return end
		})
		if end >= 0 {
			payload = content[at:end]
		}
		return end
	})
	if !ok {
		return nil, invalidObject(whereContent, content)
	}
	ev.compact = !s.space
	if len(name) == 0 || name[0] != '"' || len(name) == 2 {
		return nil, fieldError(whereContent, "event", name, "a non-empty string")
	}
	var k kind
	ev.Name, k = eventName(name)
	if n, err := strconv.ParseInt(string(ts), 10, 64); err == nil && n >= 0 {
		ev.TS = n
	} else {
		return nil, fieldError(whereContent, "event_ts", ts, "milliseconds as a non-negative integer")
	}
	if len(payload) == 0 || payload[0] != '{' {
		return nil, fieldError(whereContent, "payload", payload, "an object")
	}
	if k.flat {
		return ev.flat(payload, account)
	}
	if len(account) < 3 || account[0] != '"' {
		return nil, fieldError(whereContent, "payload.account_id", account, "a non-empty string")
	}
	ev.AccountID = accountID(account)
	switch {
	case len(object) > 0 && object[0] == '{':
		ev.Object = object
	case (len(object) == 0 || object[0] == 'n') && !ev.Known():
		// An event we do not model may carry no object.
	default:
		return nil, fieldError(whereContent, "payload.object", object, "an object")
	}
	return ev, nil
}

// accountID returns the account the raw literal holds. A deployment serves
// one account or a few, so the string is interned rather than allocated
// for every event; unique drops it once no event holds it, so account ids
// from outside cannot pile up.
func accountID(lit []byte) string {
	if inner := lit[1 : len(lit)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return unique.Make(string(inner)).Value()
	}
	return unquoteString(lit)
}

// eventName returns the name the raw literal holds, without allocating for
// the events the registry knows, and the registry's entry (zero if none).
func eventName(lit []byte) (string, kind) {
	if k, ok := registry[string(lit[1:len(lit)-1])]; ok {
		return k.name, k
	}
	return unquoteString(lit), kind{}
}

// flat finishes an event whose fields Zoom sends in payload itself: the
// payload is its object, and nothing of the payload is extra.
func (e *Event) flat(payload, account []byte) (*Event, error) {
	e.Object, e.PayloadExtra = payload, nil
	if len(account) >= 3 && account[0] == '"' {
		e.AccountID = unquoteString(account)
	}
	return e, nil
}

func addExtra(m map[string]json.RawMessage, key, raw []byte) map[string]json.RawMessage {
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	m[unquoteString(key)] = raw
	return m
}

type fieldErr struct {
	field string
	got   string
	want  string
}

func (e *fieldErr) Error() string {
	if e.field == "" {
		return fmt.Sprintf("%s, want %s", e.got, e.want)
	}
	return fmt.Sprintf("%q is %s, want %s", e.field, e.got, e.want)
}

func fieldError(where, field string, raw []byte, want string) error {
	got := describe(raw)
	return &DecodeError{Where: where, Offset: -1, Err: &fieldErr{field: field, got: got, want: want}}
}

// describe names what a raw JSON value is, for error messages, without
// quoting it: values may be customer data.
func describe(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "missing"
	}
	switch raw[0] {
	case '"':
		if string(raw) == `""` {
			return "an empty string"
		}
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// Key is the event's de-duplication key, used as Nats-Msg-Id. Zoom sends no
// event id, so the key is a digest of everything that identifies the event:
// name, event_ts, account and the object (white space aside), and any other
// field Zoom sent. The same event delivered on two subscriptions gets the
// same key; two events that differ in any field get different keys.
func (e *Event) Key() string {
	var buf [keyLen]byte
	return string(e.appendKey(buf[:0]))
}

// keyLen is the length of a key: 128 bits in hex.
const keyLen = 32

func (e *Event) appendKey(dst []byte) []byte {
	buf := keyPool.Get().(*[]byte)
	b := append((*buf)[:0], e.Name...)
	b = append(b, 0)
	b = strconv.AppendInt(b, e.TS, 10)
	b = append(b, 0)
	b = append(b, e.AccountID...)
	b = append(b, 0)
	if e.compact {
		b = append(b, e.Object...)
	} else {
		b = appendCompact(b, e.Object)
	}
	for _, extra := range []map[string]json.RawMessage{e.PayloadExtra, e.EnvelopeExtra} {
		b = append(b, 0)
		if extra != nil {
			m, _ := json.Marshal(extra) // sorted keys, compact values
			b = append(b, m...)
		}
	}
	sum := sha256.Sum256(b)
	*buf = b
	keyPool.Put(buf)
	return hex.AppendEncode(dst, sum[:keyLen/2])
}

var keyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// FrameKey is the de-duplication key of a frame that could not be decoded:
// a digest of its bytes, so that a 1+1 pair's two copies of the same bad
// frame are one message in a stream.
func FrameKey(frame []byte) string {
	sum := sha256.Sum256(frame)
	return hex.EncodeToString(sum[:16])
}

// appendCompact appends valid JSON without the white space between tokens,
// so that the key does not depend on how the JSON was laid out. Strings are
// skipped whole. Key needs it only for objects that were not compact.
func appendCompact(dst, raw []byte) []byte {
	s := scanner{b: raw}
	start := 0
	for i := 0; i < len(raw); {
		switch raw[i] {
		case '"':
			i = stringEnd(raw, i)
		case ' ', '\t', '\n', '\r':
			dst = append(dst, raw[start:i]...)
			i = s.skipSlow(i)
			start = i
		default:
			i++
		}
	}
	return append(dst, raw[start:]...)
}
