package events_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/zccingest/zccingest/events"
)

func compileSchemas(t *testing.T) map[events.Family]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[events.Family]*jsonschema.Schema{}
	for _, f := range events.Families() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(events.Schema(f)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		url := "https://github.com/zccingest/zccingest/events/schema/" + string(f) + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if out[f], err = c.Compile(url); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return out
}

func validate(t *testing.T, s *jsonschema.Schema, body []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

// Every example event's normalized message validates against its family's
// published schema.
func TestSchemasValidateExamples(t *testing.T) {
	schemas := compileSchemas(t)
	seen := map[events.Family]bool{}
	for _, name := range events.Names() {
		ev := decode(t, frameOf(t, readExample(t, name)))
		msg, err := ev.Message("zoom", "ris-a", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.Family()] = true
		if err := validate(t, schemas[ev.Family()], msg.Data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(seen) != len(events.Families()) {
		t.Errorf("examples cover %d families, want %d", len(seen), len(events.Families()))
	}
}

// The schemas say something: a wrong type, another family's event or a
// missing envelope field fails.
func TestSchemasReject(t *testing.T) {
	schemas := compileSchemas(t)
	ev := decode(t, frameOf(t, readExample(t, "contact_center.recording_started")))
	msg, err := ev.Message("zoom", "ris-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good := string(msg.Data)
	for _, tc := range []struct{ name, body string }{
		{"engagement_id a number", strings.Replace(good, `"engagement_id": "u154t5-ASlK83fZb1YWqgw"`, `"engagement_id": 5`, 1)},
		{"users not an array", strings.Replace(good, `"users": [`, `"users": "x", "was_users": [`, 1)},
		{"date_time_ms not a time", strings.Replace(good, `"2022-02-15T09:27:15.987Z"`, `"yesterday"`, 1)},
		{"another family's event", strings.Replace(good, `"contact_center.recording_started"`, `"contact_center.task_created"`, 1)},
		{"no id", strings.Replace(good, `"id":`, `"idx":`, 1)},
	} {
		if tc.body == good {
			t.Fatalf("%s: the replacement did not apply", tc.name)
		}
		if err := validate(t, schemas[events.FamilyRecording], []byte(tc.body)); err == nil {
			t.Errorf("%s: validates", tc.name)
		}
	}
	if events.Schema(events.FamilyUnknown) != nil {
		t.Errorf("a schema for unknown events")
	}
}
