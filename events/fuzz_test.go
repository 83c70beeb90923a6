package events_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/examples"
)

// FuzzDecode feeds arbitrary frames through the ingester's decode path: it
// must never panic, and whatever it accepts must become a message with a
// valid subject and a JSON body that holds the object unchanged.
func FuzzDecode(f *testing.F) {
	for _, b := range examples.All() {
		f.Add(frameOf(f, b))
		f.Add([]byte(`{"module":"message","success":true,"content":` + string(b) + `}`))
	}
	f.Add([]byte(`{"module":"build_connection","success":false,"content":"token is empty","header":{}}`))
	f.Add([]byte(`{"module":"message","content":"{\"event\":\"a.b\",\"event_ts\":1,\"payload\":{\"account_id\":\"x\"}}"}`))
	f.Add([]byte("{\"module\":\"message\",\"content\":\"\xff\"}"))
	// Duplicate keys: the last wins, as in encoding/json.
	f.Add([]byte(`{"module":"heartbeat","module":"message","content":"{}","content":"{\"event\":\"a.b\",\"event_ts\":1,\"payload\":{\"account_id\":\"x\",\"object\":{}},\"payload\":{\"account_id\":\"y\"}}"}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		fr, err := events.ParseFrame(frame)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		want := referenceFrame(t, frame)
		if fr.Module != want.Module || fr.Success != want.Success || !bytes.Equal(fr.Content, want.Content) {
			t.Fatalf("ParseFrame = %q %v %q, encoding/json says %q %v %q", fr.Module, fr.Success, fr.Content, want.Module, want.Success, want.Content)
		}
		ev, err := fr.Event()
		if err != nil {
			return
		}
		if w := referenceEvent(t, fr.Content); ev.Name != w.Name || ev.TS != w.TS || ev.AccountID != w.AccountID || !bytes.Equal(ev.Object, w.Object) ||
			!equalExtra(ev.PayloadExtra, w.PayloadExtra) || !equalExtra(ev.EnvelopeExtra, w.EnvelopeExtra) {
			t.Fatalf("Event = %+v, encoding/json says %+v", ev, w)
		}
		msg, err := ev.Message("zoom", "ris-a", time.Unix(0, 0))
		if err != nil {
			t.Fatalf("Message: %v", err)
		}
		checkSubject(t, msg.Subject)
		for h, vals := range msg.Header {
			if !strings.HasPrefix(h, "ce-") {
				continue
			}
			for _, c := range []byte(vals[0]) {
				if c <= ' ' || c >= 0x7f {
					t.Fatalf("header %s = %q: not printable ASCII", h, vals[0])
				}
			}
		}
		var body events.Body
		if err := json.Unmarshal(msg.Data, &body); err != nil {
			t.Fatalf("body is not JSON: %v", err)
		}
		if body.Event != ev.Name || body.ID != ev.Key() {
			t.Fatalf("body %q %q, want %q %q", body.Event, body.ID, ev.Name, ev.Key())
		}
		if ev.Known() {
			ev.Typed() // may fail on wrong field types, must not panic
		}
	})
}

// referenceFrame decodes a frame ParseFrame accepted the slow, obvious way,
// with encoding/json; duplicate keys go to the last, as there.
func referenceFrame(t *testing.T, frame []byte) events.Frame {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(frame, &m); err != nil {
		t.Fatalf("ParseFrame accepted what encoding/json refuses (%v): %q", err, frame)
	}
	var f events.Frame
	if err := json.Unmarshal(m["module"], &f.Module); err != nil {
		t.Fatalf("module: %v", err)
	}
	if raw, ok := m["success"]; ok {
		json.Unmarshal(raw, &f.Success)
	}
	switch raw := m["content"]; {
	case len(raw) > 0 && raw[0] == '"':
		var c string
		json.Unmarshal(raw, &c)
		f.Content = []byte(c)
	case len(raw) > 0 && raw[0] == '{':
		f.Content = raw
	}
	return f
}

// referenceEvent is referenceFrame for the event envelope.
func referenceEvent(t *testing.T, content []byte) events.Event {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(content, &env); err != nil {
		t.Fatalf("Event accepted what encoding/json refuses (%v): %q", err, content)
	}
	var e events.Event
	json.Unmarshal(env["event"], &e.Name)
	if err := json.Unmarshal(env["event_ts"], &e.TS); err != nil {
		t.Fatalf("event_ts: %v", err)
	}
	var payload map[string]json.RawMessage
	json.Unmarshal(env["payload"], &payload)
	json.Unmarshal(payload["account_id"], &e.AccountID)
	if raw := payload["object"]; len(raw) > 0 && raw[0] == '{' {
		e.Object = raw
	}
	if e.Family() == events.FamilyRTMS {
		// Flat: the payload is the object.
		e.Object = env["payload"]
		e.EnvelopeExtra = without(env, "event", "event_ts", "payload")
		return e
	}
	e.EnvelopeExtra = without(env, "event", "event_ts", "payload")
	e.PayloadExtra = without(payload, "account_id", "object")
	return e
}

func without(m map[string]json.RawMessage, keys ...string) map[string]json.RawMessage {
	for _, k := range keys {
		delete(m, k)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func equalExtra(a, b map[string]json.RawMessage) bool {
	return maps.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

// FuzzSubject maps arbitrary event names and account ids to subjects.
func FuzzSubject(f *testing.F) {
	f.Add("contact_center.task_created", "D8cJuqWVQ623CI4Q8yQK0Q")
	f.Add("a..b", "")
	f.Add("x y*>", "a.b")
	f.Add("\xff.é", "\x00")
	f.Fuzz(func(t *testing.T, name, account string) {
		ev := &events.Event{Name: name, AccountID: account}
		s := ev.Subject("zoom")
		checkSubject(t, s)
		if !strings.HasPrefix(s, "zoom.") {
			t.Fatalf("subject %q lost its prefix", s)
		}
	})
}

func checkSubject(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("subject %q is not UTF-8", s)
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" {
			t.Fatalf("subject %q has an empty token", s)
		}
		for _, c := range []byte(tok) {
			if c <= ' ' || c == '*' || c == '>' || c >= 0x7f {
				t.Fatalf("subject %q has byte %q in token %q", s, c, tok)
			}
		}
	}
}
