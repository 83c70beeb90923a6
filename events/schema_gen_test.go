package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite events/schema from the Go types")

// TestSchemaFiles generates each family's schema from the Go types of its
// events and requires the committed file to be the same.
func TestSchemaFiles(t *testing.T) {
	for _, f := range Families() {
		want, err := generateSchema(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		file := filepath.Join("schema", string(f)+".json")
		if *update {
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got := Schema(f); !bytes.Equal(got, want) {
			t.Errorf("%s is not what the Go types generate: go test ./events -run TestSchemaFiles -update", file)
		}
	}
	entries, _ := schemaFiles.ReadDir("schema")
	if len(entries) != len(Families()) {
		t.Errorf("%d schema files, want one per family (%d)", len(entries), len(Families()))
	}
}

// generateSchema writes the body schema of family f: the envelope of Body,
// the family's event names, and an object whose properties are the union
// of those of the family's Go types (a name typed two ways is an error).
func generateSchema(f Family) ([]byte, error) {
	var names []string
	props := map[string]any{}
	for _, name := range Names() {
		k := registry[name]
		if k.family != f {
			continue
		}
		names = append(names, name)
		t := reflect.TypeOf(k.new()).Elem()
		if t.NumField() == 1 && t.Field(0).Anonymous {
			t = t.Field(0).Type
		}
		for name, s := range objectSchema(t)["properties"].(map[string]any) {
			if old, ok := props[name]; ok && !reflect.DeepEqual(old, s) {
				return nil, fmt.Errorf("field %s typed two ways in the family", name)
			}
			props[name] = s
		}
	}
	object := map[string]any{"type": "object", "properties": props, "additionalProperties": true}
	if f == FamilyRTMS {
		object["description"] = "Zoom sends the voice_rtms_* events flat: the payload is the object, and account_id is empty"
	}
	schema := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/zccingest/zccingest/events/schema/" + string(f) + ".json",
		"title":       "zccingest message body: " + string(f) + " events",
		"description": "The JSON body of a message on <prefix>.<account>." + familySubject(f) + "; object holds every field Zoom sent, and fields this schema does not name may appear",
		"type":        "object",
		"required":    []string{"id", "event", "event_ts", "account_id", "subscription", "received_at", "object"},
		"properties": map[string]any{
			"id":             map[string]any{"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "Nats-Msg-Id and ce-id: equal for the same event on two subscriptions"},
			"event":          map[string]any{"enum": names},
			"event_ts":       map[string]any{"type": "integer", "minimum": 0, "description": "milliseconds since the epoch"},
			"account_id":     map[string]any{"type": "string"},
			"subscription":   map[string]any{"type": "string"},
			"received_at":    map[string]any{"type": "string", "format": "date-time"},
			"object":         object,
			"payload_extra":  map[string]any{"type": "object"},
			"envelope_extra": map[string]any{"type": "object"},
		},
		"additionalProperties": false,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(schema); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// familySubject is the subject tokens after the account of f's events.
func familySubject(f Family) string {
	var subs []string
	for _, fn := range familyNames {
		if fn.family == f {
			subs = append(subs, fn.subjectPrefix+"*")
		}
	}
	slices.Sort(subs)
	return strings.Join(subs, " or ")
}

var (
	milliTimeType = reflect.TypeFor[MilliTime]()
	timeType      = reflect.TypeFor[time.Time]()
	flexIntType   = reflect.TypeFor[FlexInt]()
)

func typeSchema(t reflect.Type) map[string]any {
	switch t {
	case milliTimeType:
		return map[string]any{"type": "string", "format": "date-time", "description": "to the millisecond"}
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case flexIntType:
		return map[string]any{"type": []string{"integer", "string"}, "description": "an integer, which Zoom sends as a string in some events"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeSchema(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Struct:
		return objectSchema(t)
	}
	panic("events: no schema for " + t.String())
}

func objectSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		props[name] = typeSchema(f.Type)
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": true}
}
