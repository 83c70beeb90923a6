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

	"github.com/tidwall/gjson"
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
func ParseFrame(data []byte) (Frame, error) {
	const where = "frame"
	if len(bytes.TrimSpace(data)) == 0 {
		return Frame{}, &DecodeError{Where: where, Offset: -1, Err: ErrEmpty}
	}
	if !utf8.Valid(data) {
		return Frame{}, &DecodeError{Where: where, Offset: invalidUTF8Offset(data), Err: errors.New("invalid UTF-8")}
	}
	if err := validObject(where, data); err != nil {
		return Frame{}, err
	}
	f := Frame{checked: true}
	var err error
	haveModule := false
	scanObject(data, func(k, v []byte) bool {
		switch {
		case keyIs(k, "module"):
			if v[0] != '"' {
				err = fieldError(where, "module", v, "a string")
				return false
			}
			f.Module, haveModule = string(unquote(v)), true
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
		return err == nil
	})
	if err == nil && !haveModule {
		err = fieldError(where, "module", nil, "a string")
	}
	return f, err
}

// validObject requires data to be one valid JSON object. The error for
// invalid JSON comes from encoding/json, which says what and where.
func validObject(where string, data []byte) error {
	if !gjson.ValidBytes(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return decodeError(where, err)
	}
	if data[skipSpace(data, 0)] != '{' {
		return &DecodeError{Where: where, Offset: -1, Err: &fieldErr{got: describe(data), want: "an object"}}
	}
	return nil
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
