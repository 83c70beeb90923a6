// Package capture journals received frames as newline-delimited JSON, one
// frame a line, kept byte for byte, and reads such journals back for replay:
//
//	{"at":"2026-11-22T10:00:00.123456789Z","subscription":"ris-a","frame":"<the frame text>"}
//
// A frame that is not valid UTF-8 cannot travel in a JSON string (an
// encoder turns its bad bytes into U+FFFD), so it is written base64-encoded
// in "frame_b64" instead of "frame". Journals written before that field
// existed read as they always did.
package capture

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

// A Record is one received frame. Frame holds its bytes exactly, valid
// UTF-8 or not.
type Record struct {
	At           time.Time
	Subscription string
	Frame        string
}

// wire is a Record as written.
type wire struct {
	At           time.Time `json:"at"`
	Subscription string    `json:"subscription"`
	Frame        *string   `json:"frame,omitempty"`
	FrameB64     *string   `json:"frame_b64,omitempty"`
}

// MarshalJSON writes one journal line's JSON, without HTML escaping (which
// would grow every < > & sixfold for no reader's benefit).
func (r Record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	err := r.encode(&b)
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), err
}

// encode appends the record's line, newline included, to b. A frame whose
// JSON escaping would grow it by more than half (control characters
// become six bytes each) is written as base64 too, so that no line is
// much longer than its frame.
func (r Record) encode(b *bytes.Buffer) error {
	w := wire{At: r.At.UTC(), Subscription: r.Subscription}
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	start := b.Len()
	if utf8.ValidString(r.Frame) {
		w.Frame = &r.Frame
		if err := enc.Encode(w); err != nil {
			return err
		}
		if b.Len()-start <= len(r.Frame)*3/2+256 {
			return nil
		}
		b.Truncate(start)
		w.Frame = nil
	}
	s := base64.StdEncoding.EncodeToString([]byte(r.Frame))
	w.FrameB64 = &s
	return enc.Encode(w)
}

var errNotRecord = errors.New("not a capture record (needs at, and frame or frame_b64)")

// UnmarshalJSON reads a line written by any version.
func (r *Record) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.At.IsZero() || (w.Frame == nil) == (w.FrameB64 == nil) {
		return errNotRecord
	}
	*r = Record{At: w.At, Subscription: w.Subscription}
	if w.Frame != nil {
		r.Frame = *w.Frame
		return nil
	}
	raw, err := base64.StdEncoding.DecodeString(*w.FrameB64)
	if err != nil {
		return errors.New("frame_b64 is not base64")
	}
	r.Frame = string(raw)
	return nil
}
