package events_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/examples"
)

// withUnknownEverywhere adds a field no type models to every object in v,
// at every depth, arrays' elements included.
func withUnknownEverywhere(v any, depth int) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v)+1)
		for k, x := range v {
			m[k] = withUnknownEverywhere(x, depth+1)
		}
		m[fmt.Sprintf("zz_future_%d", depth)] = map[string]any{"n": 1.0, "s": []any{"x"}}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = withUnknownEverywhere(x, depth+1)
		}
		return a
	}
	return v
}

// Every registered type round-trips an unknown field at every level of its
// object: a type (or a nested one) without its marshalling pair loses it.
func TestRegistryRoundTrip(t *testing.T) {
	for _, name := range events.Names() {
		t.Run(name, func(t *testing.T) {
			ex := readExample(t, name)
			var env map[string]any
			if err := json.Unmarshal(ex, &env); err != nil {
				t.Fatal(err)
			}
			payload := env["payload"].(map[string]any)
			obj, hasObject := payload["object"].(map[string]any)
			if !hasObject {
				obj = payload
			}
			want := withUnknownEverywhere(obj, 0).(map[string]any)
			if hasObject {
				payload["object"] = want
			} else {
				env["payload"] = want
			}
			content, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			ev := decode(t, frameOf(t, content))
			typed, err := ev.Typed()
			if err != nil {
				t.Fatalf("Typed: %v", err)
			}
			b, err := json.Marshal(typed)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%T re-encodes as\n%s\nwant\n%s", typed, b, mustJSON(t, want))
			}
			// The same holds for zero values Zoom may send explicitly.
			for k, zero := range map[string]any{"recording_duration": 0.0, "stop_reason": 0.0, "short_abandon_enable": false, "users": []any{}, "teams": nil, "channel": ""} {
				if _, ok := want[k]; !ok {
					continue
				}
				want[k] = zero
				checkTypedRoundTrip(t, env, hasObject, want)
			}
		})
	}
}

func checkTypedRoundTrip(t *testing.T, env map[string]any, hasObject bool, want map[string]any) {
	t.Helper()
	if hasObject {
		env["payload"].(map[string]any)["object"] = want
	} else {
		env["payload"] = want
	}
	content, _ := json.Marshal(env)
	typed, err := decode(t, frameOf(t, content)).Typed()
	if err != nil {
		t.Fatalf("Typed: %v", err)
	}
	b, _ := json.Marshal(typed)
	var got map[string]any
	json.Unmarshal(b, &got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%T re-encodes as\n%s\nwant\n%s", typed, b, mustJSON(t, want))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every registered event has its own subject, and every example is
// registered.
func TestRegistrySubjects(t *testing.T) {
	seen := map[string]string{}
	for _, name := range events.Names() {
		s := (&events.Event{Name: name, AccountID: "a"}).Subject("zoom")
		if other, dup := seen[s]; dup {
			t.Errorf("%s and %s share subject %s", name, other, s)
		}
		seen[s] = name
		if (&events.Event{Name: name}).Family() == events.FamilyUnknown {
			t.Errorf("%s has no family", name)
		}
	}
	for _, name := range examples.Names() {
		if !(&events.Event{Name: name}).Known() {
			t.Errorf("example %s is not registered", name)
		}
	}
}
