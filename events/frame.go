// Package events decodes what Zoom sends over a WebSocket event subscription:
// the frame envelope, the event envelope inside a message frame, and a typed
// struct for each Contact Center and user-activity event the service knows.
// It also turns an event into the normalized NATS message of the interface.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Frame modules Zoom sends.
const (
	ModuleBuildConnection = "build_connection"
	ModuleHeartbeat       = "heartbeat"
	ModuleMessage         = "message"
)

// A Frame is one text frame from Zoom's WebSocket.
type Frame struct {
	Module  string
	Success bool
	// Content is the content field as text: for a message frame the event
	// JSON, for build_connection Zoom's explanation. Zoom sends it as a JSON
	// string; an object sent in its place is kept as its raw JSON text.
	Content []byte
	Header  json.RawMessage

	checked bool // Content is valid UTF-8: ParseFrame made it from a checked frame
}

// A DecodeError says what part of a frame could not be decoded.
type DecodeError struct {
	Where  string // "frame", "content of message frame", ...
	Offset int64  // byte offset of a JSON syntax error, or -1
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("events: %s: %v at offset %d", e.Where, e.Err, e.Offset)
	}
	return fmt.Sprintf("events: %s: %v", e.Where, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrEmpty is returned for a frame or event with no bytes at all.
var ErrEmpty = errors.New("empty input")

func decodeError(where string, err error) error {
	off := int64(-1)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		err = fmt.Errorf("%s is a JSON %s, want %s", fieldName(te), te.Value, te.Type)
	}
	return &DecodeError{Where: where, Offset: off, Err: err}
}

func fieldName(te *json.UnmarshalTypeError) string {
	if te.Field == "" {
		return "value"
	}
	return fmt.Sprintf("%q", te.Field)
}

// ParseFrame decodes a frame's envelope. It does not look inside a message
// frame's content; Frame.Event does. The Frame does not alias data.
func ParseFrame(data []byte) (Frame, error) { return parseFrame(data, nil) }

// ParseFrameBuffer is ParseFrame with the content decoded into buf's
// storage when it fits (a content string is never longer than the frame):
// the Frame's Content, and every Event made from it, then alias buf, and
// buf may be used again only once they are no longer used. A Message does
// not alias its Event.
func ParseFrameBuffer(data, buf []byte) (Frame, error) { return parseFrame(data, buf[:0]) }

func parseFrame(data, buf []byte) (Frame, error) {
	const where = "frame"
	if len(bytes.TrimSpace(data)) == 0 {
		return Frame{}, &DecodeError{Where: where, Offset: -1, Err: ErrEmpty}
	}
	if !utf8.Valid(data) {
		return Frame{}, &DecodeError{Where: where, Offset: invalidUTF8Offset(data), Err: errors.New("invalid UTF-8")}
	}
	f := Frame{checked: true}
	var err error
	haveModule := false
	s := scanner{b: data}
	ok := s.topObject(func(k []byte, at int) int {
		if at < len(data) && data[at] == '"' && keyIs(k, "content") {
			// Most of a frame is this string: decode it as it is scanned.
			var end int
			f.Content, end = decodeString(buf, data, at)
			return end
		}
		end := s.value(at)
		if end < 0 || err != nil {
			return end
		}
		v := data[at:end]
		switch {
		case keyIs(k, "module"):
			if v[0] != '"' {
				err = fieldError(where, "module", v, "a string")
				break
			}
			f.Module, haveModule = module(v), true
		case keyIs(k, "success"):
			if v[0] != 't' && v[0] != 'f' {
				err = fieldError(where, "success", v, "a boolean")
			}
			f.Success = v[0] == 't'
		case keyIs(k, "content"):
			switch v[0] {
			case '"':
				f.Content = unquote(v)
			case '{':
				f.Content = bytes.Clone(v)
			case 'n':
				f.Content = nil
			default:
				err = fieldError(where, "content", v, "a string or an object")
			}
		case keyIs(k, "header"):
			f.Header = json.RawMessage(bytes.Clone(v))
		}
		return end
	})
	if !ok {
		return Frame{}, invalidObject(where, data)
	}
	if err == nil && !haveModule {
		err = fieldError(where, "module", nil, "a string")
	}
	return f, err
}

// module returns the module named by the raw literal, without allocating
// for the ones Zoom sends.
func module(lit []byte) string {
	switch m := lit[1 : len(lit)-1]; string(m) {
	case ModuleMessage:
		return ModuleMessage
	case ModuleHeartbeat:
		return ModuleHeartbeat
	case ModuleBuildConnection:
		return ModuleBuildConnection
	}
	return unquoteString(lit)
}

// invalidObject explains why data, which the scanner rejected, is not one
// JSON object. The words come from encoding/json, which says what and where;
// this is the slow path, taken only for bad input.
func invalidObject(where string, data []byte) error {
	var v any
	err := json.Unmarshal(data, &v)
	if err != nil {
		return decodeError(where, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return &DecodeError{Where: where, Offset: -1, Err: &fieldErr{got: describe(data), want: "an object"}}
	}
	// The scanner and encoding/json disagree; FuzzScan is there to keep
	// this from happening.
	return &DecodeError{Where: where, Offset: -1, Err: errors.New("invalid JSON")}
}

func invalidUTF8Offset(b []byte) int64 {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return int64(i)
		}
		i += n
	}
	return -1
}
