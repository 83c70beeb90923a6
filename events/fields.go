package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Extra holds the fields of an object that its struct does not model, as
// Zoom sent them, so that re-encoding the struct loses nothing. Zoom keeps
// adding fields; a field that arrives before this package knows it lands
// here. An explicitly empty value ("", 0, false, null, []) of a modelled
// field that the struct omits when empty is kept here too, because the
// struct would otherwise drop it.
type Extra map[string]json.RawMessage

var knownFieldsCache sync.Map // reflect.Type -> map[string]fieldEncoding

// fieldEncoding says how a modelled field re-encodes.
type fieldEncoding uint8

const (
	encodedAlways fieldEncoding = iota + 1
	// encodedUnlessEmpty: omitempty or omitzero, so that an empty value Zoom
	// sent explicitly ("", 0, false, null, []) would vanish on re-encoding.
	encodedUnlessEmpty
)

// knownFields returns the JSON names of t's fields.
func knownFields(t reflect.Type) map[string]fieldEncoding {
	if m, ok := knownFieldsCache.Load(t); ok {
		return m.(map[string]fieldEncoding)
	}
	m := map[string]fieldEncoding{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = encodedAlways
		if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
			m[name] = encodedUnlessEmpty
		}
	}
	knownFieldsCache.Store(t, m)
	return m
}

// emptyLiteral reports whether raw is a JSON value that an omitempty field
// holding it would not re-encode.
func emptyLiteral(raw []byte) bool {
	switch string(raw) {
	case `""`, `0`, `false`, `null`, `[]`:
		return true
	}
	return false
}

// decodeObject decodes data into v (a pointer to a struct without custom
// JSON methods) and collects into extra every field v does not model.
func decodeObject(data []byte, v any, extra *Extra) error {
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	known := knownFields(reflect.TypeOf(v).Elem())
	for k, raw := range all {
		switch known[k] {
		case encodedAlways:
			continue
		case encodedUnlessEmpty:
			if !emptyLiteral(raw) {
				continue
			}
		}
		if *extra == nil {
			*extra = Extra{}
		}
		(*extra)[k] = raw
	}
	return nil
}

// encodeObject encodes v and appends the extra fields, sorted by name.
func encodeObject(v any, extra Extra) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = b[:len(b)-1] // the closing brace
	for _, k := range keys {
		if len(b) > 1 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, extra[k]...)
	}
	return append(b, '}'), nil
}

// MilliTime is a Contact Center time: an ISO-8601 string with milliseconds,
// as in date_time_ms ("2022-02-15T09:27:15.987Z"). It encodes the way Zoom
// writes it, always with three fractional digits.
type MilliTime struct{ time.Time }

const milliLayout = "2006-01-02T15:04:05.000Z07:00"

func (t MilliTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(milliLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, milliLayout)
	return append(b, '"'), nil
}

func (t *MilliTime) UnmarshalJSON(b []byte) error {
	if string(b) == `""` {
		*t = MilliTime{} // kept in Extra by decodeObject
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}

// FlexInt is an integer Zoom sends as a JSON number in some events and as a
// string holding one in others (user.signed_in's login_type is "100" in
// Zoom's own example, an integer in its schema). It encodes the way it came.
type FlexInt struct {
	Value  int64
	Quoted bool
}

func (n FlexInt) MarshalJSON() ([]byte, error) {
	b := strconv.AppendInt(nil, n.Value, 10)
	if n.Quoted {
		return []byte(strconv.Quote(string(b))), nil
	}
	return b, nil
}

func (n *FlexInt) UnmarshalJSON(b []byte) error {
	quoted := len(b) > 0 && b[0] == '"'
	if quoted {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "non-integer " + describe(b), Type: reflect.TypeFor[int64]()}
	}
	*n = FlexInt{Value: v, Quoted: quoted}
	return nil
}
