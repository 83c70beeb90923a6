package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/examples"
)

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b := examples.Get(name)
	if b == nil {
		t.Fatalf("no example of %s", name)
	}
	return b
}

// frameOf wraps an event the way Zoom does: its JSON as a string in content.
func frameOf(t testing.TB, event []byte) []byte {
	t.Helper()
	content, err := json.Marshal(string(event))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"module":"message","success":true,"content":` + string(content) + `,"header":{}}`)
}

func decode(t testing.TB, frame []byte) *events.Event {
	t.Helper()
	f, err := events.ParseFrame(frame)
	if err != nil {
		t.Fatalf("ParseFrame: %v", err)
	}
	if f.Module != events.ModuleMessage || !f.Success {
		t.Fatalf("frame = %+v, want a successful message", f)
	}
	ev, err := f.Event()
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	return ev
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// objectOf returns the example's payload.object as a generic map, or the
// payload of a flat event (one without an object).
func objectOf(t *testing.T, example []byte) map[string]any {
	t.Helper()
	var v struct {
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(example, &v); err != nil {
		t.Fatal(err)
	}
	if o, ok := v.Payload["object"].(map[string]any); ok {
		return o
	}
	return v.Payload
}

// checkRoundTrip re-encodes the typed value and requires exactly the fields
// and values Zoom sent: none lost, none changed, none added.
func checkRoundTrip(t *testing.T, typed any, example []byte) {
	t.Helper()
	b, err := json.Marshal(typed)
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("re-encoded object is not JSON: %v\n%s", err, b)
	}
	want := objectOf(t, example)
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			t.Errorf("field %q lost in re-encoding", k)
		} else if !reflect.DeepEqual(gv, wv) {
			t.Errorf("field %q = %#v after re-encoding, want %#v", k, gv, wv)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("field %q added by re-encoding", k)
		}
	}
}

func TestDecodeExamples(t *testing.T) {
	names := examples.Names()
	if len(names) != 69 {
		t.Fatalf("test/examples holds %d examples, want Zoom's 69", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			example := readExample(t, name)
			ev := decode(t, frameOf(t, example))
			if ev.Name != name {
				t.Errorf("Name = %q, want %q", ev.Name, name)
			}
			if !ev.Known() || ev.Family() == events.FamilyUnknown {
				t.Errorf("%s decoded as unknown", name)
			}
			typed, err := ev.Typed()
			if err != nil {
				t.Fatalf("Typed: %v", err)
			}
			checkRoundTrip(t, typed, example)
		})
	}
}

func TestUnknownEventDecodes(t *testing.T) {
	content := []byte(`{"event":"contact_center.asset_created","event_ts":1700000000000,` +
		`"payload":{"account_id":"acct","operator":"admin@example.com","object":{"asset_id":"a1","nested":{"k":[1,2]}}}}`)
	ev := decode(t, frameOf(t, content))
	if ev.Known() || ev.Family() != events.FamilyUnknown {
		t.Errorf("Known = %v, Family = %s; want unknown", ev.Known(), ev.Family())
	}
	if got, want := ev.Subject("zoom"), "zoom.acct.unknown.contact_center.asset_created"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if _, err := ev.Typed(); !errors.Is(err, events.ErrUnknownEvent) {
		t.Errorf("Typed error = %v, want ErrUnknownEvent", err)
	}
	msg, err := ev.Message("zoom", "ris-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var body events.Body
	if err := json.Unmarshal(msg.Data, &body); err != nil {
		t.Fatal(err)
	}
	if string(body.Object) != `{"asset_id":"a1","nested":{"k":[1,2]}}` {
		t.Errorf("object = %s", body.Object)
	}
	if string(body.PayloadExtra["operator"]) != `"admin@example.com"` {
		t.Errorf("payload_extra = %v, want the operator kept", body.PayloadExtra)
	}
}

func TestContentAsObject(t *testing.T) {
	example := readExample(t, "contact_center.task_created")
	frame := []byte(`{"module":"message","success":true,"content":` + string(example) + `,"header":{}}`)
	ev := decode(t, frame)
	if ev.Name != "contact_center.task_created" || ev.AccountID != "D8cJuqWVQ623CI4Q8yQK0Q" {
		t.Errorf("decoded %s %s", ev.Name, ev.AccountID)
	}
}

func TestControlFrames(t *testing.T) {
	for _, tc := range []struct {
		frame   string
		module  string
		success bool
		content string
	}{
		{`{"module":"build_connection","success":true,"content":"ok","header":{}}`, events.ModuleBuildConnection, true, "ok"},
		{`{"module":"build_connection","success":false,"content":"token is empty","header":{}}`, events.ModuleBuildConnection, false, "token is empty"},
		{`{"module":"heartbeat","success":true,"content":"live","header":{}}`, events.ModuleHeartbeat, true, "live"},
		{`{"module":"heartbeat","success":true}`, events.ModuleHeartbeat, true, ""},
	} {
		f, err := events.ParseFrame([]byte(tc.frame))
		if err != nil {
			t.Errorf("%s: %v", tc.frame, err)
			continue
		}
		if f.Module != tc.module || f.Success != tc.success || string(f.Content) != tc.content {
			t.Errorf("%s: got %q %v %q", tc.frame, f.Module, f.Success, f.Content)
		}
	}
}

func TestMalformed(t *testing.T) {
	good := string(readExample(t, "contact_center.engagement_started"))
	msgFrame := func(content string) string {
		b, _ := json.Marshal(content)
		return `{"module":"message","success":true,"content":` + string(b) + `}`
	}
	for _, tc := range []struct {
		name  string
		frame string
		want  string // in the error text
	}{
		{"empty frame", ``, "events: frame: empty input"},
		{"blank frame", " \n", "events: frame: empty input"},
		{"not JSON", `hello`, "events: frame: invalid character 'h' looking for beginning of value at offset 1"},
		{"truncated", `{"module":"message","content":"x`, "events: frame: unexpected end of JSON input"},
		{"invalid UTF-8", "{\"module\":\"message\",\"content\":\"\xff\"}", "events: frame: invalid UTF-8 at offset 31"},
		{"frame an array", `[{"module":"message"}]`, "events: frame: an array, want an object"},
		{"content a number", `{"module":"message","content":5}`, `events: frame: "content" is a number, want a string or an object`},
		{"missing module", `{"success":true,"content":"x"}`, `events: frame: "module" is missing, want a string`},
		{"module not a string", `{"module":7}`, `events: frame: "module" is a number, want a string`},
		{"success not a bool", `{"module":"message","success":"yes"}`, `events: frame: "success" is a string, want a boolean`},
		{"content not JSON", msgFrame(`{"event": nope}`), "events: content of message frame: invalid character 'o' in literal null (expecting 'u') at offset 12"},
		{"content empty", msgFrame(``), "events: content of message frame: empty input"},
		{"content an array", msgFrame(`[1,2]`), "events: content of message frame: an array, want an object"},
		{"missing event", msgFrame(`{"event_ts":1,"payload":{"account_id":"a","object":{}}}`), `"event" is missing, want a non-empty string`},
		{"empty event", msgFrame(`{"event":"","event_ts":1,"payload":{"account_id":"a","object":{}}}`), `"event" is an empty string, want a non-empty string`},
		{"event a number", msgFrame(`{"event":5,"event_ts":1,"payload":{"account_id":"a","object":{}}}`), `"event" is a number, want a non-empty string`},
		{"event_ts a string", msgFrame(strings.Replace(good, `"event_ts": 1627906944384`, `"event_ts": "1627906944384"`, 1)), `"event_ts" is a string, want milliseconds`},
		{"event_ts fractional", msgFrame(strings.Replace(good, `"event_ts": 1627906944384`, `"event_ts": 1.5`, 1)), `"event_ts" is a number, want milliseconds`},
		{"missing event_ts", msgFrame(`{"event":"x","payload":{"account_id":"a","object":{}}}`), `"event_ts" is missing`},
		{"payload an array", msgFrame(`{"event":"x","event_ts":1,"payload":[]}`), `"payload" is an array, want an object`},
		{"account_id a number", msgFrame(`{"event":"x","event_ts":1,"payload":{"account_id":1,"object":{}}}`), `"payload.account_id" is a number, want a non-empty string`},
		{"object a string", msgFrame(`{"event":"x","event_ts":1,"payload":{"account_id":"a","object":"o"}}`), `"payload.object" is a string, want an object`},
		{"known event without object", msgFrame(`{"event":"contact_center.task_created","event_ts":1,"payload":{"account_id":"a"}}`), `"payload.object" is missing, want an object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := events.ParseFrame([]byte(tc.frame))
			if err == nil {
				_, err = f.Event()
			}
			if err == nil {
				t.Fatalf("decoded without error")
			}
			var de *events.DecodeError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DecodeError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestTypedWrongFieldType(t *testing.T) {
	example := readExample(t, "contact_center.task_created")
	bad := bytes.Replace(example, []byte(`"task_priority": 0`), []byte(`"task_priority": "high"`), 1)
	ev := decode(t, frameOf(t, bad))
	_, err := ev.Typed()
	if err == nil || !strings.Contains(err.Error(), `"task_priority" is a JSON string, want int`) {
		t.Errorf("Typed error = %v, want one naming task_priority", err)
	}
	// The raw object, and so the published message, still carries it.
	if !bytes.Contains(ev.Object, []byte(`"high"`)) {
		t.Errorf("raw object lost the field")
	}
}

func TestQuirks(t *testing.T) {
	t.Run("login_type as number", func(t *testing.T) {
		ex := bytes.Replace(readExample(t, "user.signed_in"), []byte(`"login_type": "100"`), []byte(`"login_type": 101`), 1)
		_, v := typedOf(t, ex)
		s := v.(*events.UserSignedIn)
		if s.LoginType != (events.FlexInt{Value: 101}) {
			t.Errorf("LoginType = %+v", s.LoginType)
		}
		checkRoundTrip(t, v, ex)
	})
	t.Run("login_type not a number", func(t *testing.T) {
		ex := bytes.Replace(readExample(t, "user.signed_in"), []byte(`"login_type": "100"`), []byte(`"login_type": "sso"`), 1)
		ev := decode(t, frameOf(t, ex))
		if _, err := ev.Typed(); err == nil || !strings.Contains(err.Error(), "login_type") {
			t.Errorf("Typed error = %v, want one naming login_type", err)
		}
	})
	t.Run("presence with date_time", func(t *testing.T) {
		ex := bytes.Replace(readExample(t, "user.presence_status_updated"), []byte(`"date-time"`), []byte(`"date_time"`), 1)
		_, v := typedOf(t, ex)
		if p := v.(*events.PresenceStatusUpdated); !p.DateTime.Equal(mustTime(t, "2019-11-26T20:13:57Z")) {
			t.Errorf("DateTime = %v", p.DateTime)
		}
		checkRoundTrip(t, v, ex)
	})
	t.Run("unknown and empty fields survive", func(t *testing.T) {
		ex := bytes.Replace(readExample(t, "contact_center.engagement_user_answered"),
			[]byte(`"channel": "video",`),
			[]byte(`"channel": "video", "queue_name": "", "future_field": {"a": [1, "b"]}, "future_flag": false,`), 1)
		ex = bytes.Replace(ex, []byte(`"queue_name": "My Queue",`), nil, 1)
		_, v := typedOf(t, ex)
		e := v.(*events.EngagementUserAnswered)
		if string(e.Extra["future_field"]) != `{"a": [1, "b"]}` {
			t.Errorf("Extra = %v", e.Extra)
		}
		checkRoundTrip(t, v, ex)
	})
	t.Run("milliseconds kept", func(t *testing.T) {
		ex := bytes.Replace(readExample(t, "contact_center.user_login"), []byte(`09:27:15.987Z`), []byte(`09:27:15.900Z`), 1)
		_, v := typedOf(t, ex)
		checkRoundTrip(t, v, ex)
	})
}

func typedOf(t *testing.T, example []byte) (*events.Event, any) {
	t.Helper()
	ev := decode(t, frameOf(t, example))
	v, err := ev.Typed()
	if err != nil {
		t.Fatalf("Typed: %v", err)
	}
	return ev, v
}

func TestKey(t *testing.T) {
	example := readExample(t, "contact_center.engagement_user_answered")
	a := decode(t, frameOf(t, example))

	// The same event again, as a second subscription receives it, laid out
	// without white space.
	var compact bytes.Buffer
	if err := json.Compact(&compact, example); err != nil {
		t.Fatal(err)
	}
	b := decode(t, frameOf(t, compact.Bytes()))
	if a.Key() != b.Key() {
		t.Errorf("same event, keys %s and %s", a.Key(), b.Key())
	}
	if len(a.Key()) != 32 {
		t.Errorf("key %q, want 32 hex digits", a.Key())
	}

	// Different events with the same name and event_ts.
	for _, change := range [][2]string{
		{`"engagement_id": "u154t5-ASlK83fZb1YWqgw"`, `"engagement_id": "other"`},
		{`"user_id": "IGTRVt3gQ2i-WjoUIjeZxw"`, `"user_id": "IGTRVt3gQ2i-WjoUIjeZxx"`},
		{`"account_id": "D8cJuqWVQ623CI4Q8yQK0Q"`, `"account_id": "another"`},
		{`"event_ts": 1627906944384`, `"event_ts": 1627906944385`},
		{`"payload": {`, `"payload": {"operator": "x",`},
	} {
		other := decode(t, frameOf(t, bytes.Replace(example, []byte(change[0]), []byte(change[1]), 1)))
		if other.Key() == a.Key() {
			t.Errorf("changing %s to %s kept the key", change[0], change[1])
		}
	}
	other := decode(t, frameOf(t, bytes.Replace(example, []byte("engagement_user_answered"), []byte("engagement_user_ended"), 1)))
	if other.Key() == a.Key() {
		t.Errorf("a different event name kept the key")
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		event, account, want string
	}{
		{"user.signed_in", "acct", "zoom.acct.user.signed_in"},
		{"user.presence_status_updated", "acct", "zoom.acct.user.presence_status_updated"},
		{"contact_center.task_created", "acct", "zoom.acct.cc.task.created"},
		{"contact_center.task_reservation_timeout", "acct", "zoom.acct.cc.reservation.timeout"},
		{"contact_center.user_status_changed", "acct", "zoom.acct.cc.user.status_changed"},
		{"contact_center.user_login", "acct", "zoom.acct.cc.user.login"},
		{"contact_center.engagement_user_answered", "acct", "zoom.acct.cc.engagement.user_answered"},
		{"contact_center.engagement_transfer_queued", "acct", "zoom.acct.cc.engagement.transfer.queued"},
		{"contact_center.engagement_ended", "acct", "zoom.acct.cc.engagement.ended"},
		{"contact_center.engagement_user_dtmf_sent", "acct", "zoom.acct.cc.engagement.user_dtmf_sent"},
		{"contact_center.engagement_monitor_started", "acct", "zoom.acct.cc.engagement.monitor_started"},
		{"contact_center.engagement_conference_participant_joined", "acct", "zoom.acct.cc.engagement.conference.participant_joined"},
		{"contact_center.engagement_conference_canceled", "acct", "zoom.acct.cc.engagement.conference.canceled"},
		{"contact_center.cx_engagement_end_data_ready", "acct", "zoom.acct.cc.engagement.cx_end_data_ready"},
		{"contact_center.recording_paused", "acct", "zoom.acct.cc.recording.paused"},
		{"contact_center.recording_permanently_deleted", "acct", "zoom.acct.cc.recording.permanently_deleted"},
		{"contact_center.task_entered_queue", "acct", "zoom.acct.cc.task.entered_queue"},
		{"contact_center.voice_rtms_started", "acct", "zoom.acct.cc.rtms.started"},
		// A flat event carries no account: the token is "_".
		{"contact_center.voice_rtms_started", "", "zoom._.cc.rtms.started"},
		{"contact_center.asset_created", "acct", "zoom.acct.unknown.contact_center.asset_created"},
		{"user.created", "acct", "zoom.acct.unknown.user.created"},
		{"a..b*c>", "acct", "zoom.acct.unknown.a._.b_c_"},
		{"x y\tz", "a.b c*>", "zoom.a_b_c__.unknown.x_y_z"},
		{"é", "ü\x00", "zoom.__.unknown._"},
	} {
		ev := &events.Event{Name: tc.event, AccountID: tc.account}
		if got := ev.Subject("zoom"); got != tc.want {
			t.Errorf("Subject(%q, %q) = %q, want %q", tc.event, tc.account, got, tc.want)
		}
	}
}

func TestMessage(t *testing.T) {
	example := readExample(t, "contact_center.engagement_user_answered")
	ev := decode(t, frameOf(t, example))
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)
	msg, err := ev.Message("zoom", "ris-a", at)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "zoom.D8cJuqWVQ623CI4Q8yQK0Q.cc.engagement.user_answered" {
		t.Errorf("Subject = %q", msg.Subject)
	}
	for h, want := range map[string]string{
		"Nats-Msg-Id":       ev.Key(),
		"Zoom-Event":        "contact_center.engagement_user_answered",
		"Zoom-Event-Ts":     "1627906944384",
		"Zoom-Account-Id":   "D8cJuqWVQ623CI4Q8yQK0Q",
		"Zoom-Subscription": "ris-a",
		"Content-Type":      "application/json",
	} {
		if got := msg.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(msg.Data, &body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"id":           ev.Key(),
		"event":        "contact_center.engagement_user_answered",
		"event_ts":     1627906944384.0,
		"account_id":   "D8cJuqWVQ623CI4Q8yQK0Q",
		"subscription": "ris-a",
		"received_at":  "2026-11-22T10:00:00.123456Z",
	} {
		if body[k] != want {
			t.Errorf("body %s = %#v, want %#v", k, body[k], want)
		}
	}
	if !reflect.DeepEqual(body["object"], any(objectOf(t, example))) {
		t.Errorf("body object = %v, want every field of the example", body["object"])
	}
	if _, ok := body["payload_extra"]; ok {
		t.Errorf("payload_extra present with no extra fields")
	}
}

func TestInvalidMessage(t *testing.T) {
	frame := []byte("not json\n")
	msg := events.InvalidMessage("zoom", "ris-b", frame, "events: frame: bad\nthing")
	if msg.Subject != "zoom.invalid" || !bytes.Equal(msg.Data, frame) {
		t.Errorf("got %q %q", msg.Subject, msg.Data)
	}
	if msg.Header.Get("Zoom-Error") != "events: frame: bad thing" || msg.Header.Get("Zoom-Subscription") != "ris-b" {
		t.Errorf("headers = %v", msg.Header)
	}
	if msg.Header.Get("Nats-Msg-Id") != events.FrameKey(frame) || events.FrameKey(frame) == events.FrameKey([]byte("other")) {
		t.Errorf("Nats-Msg-Id = %q", msg.Header.Get("Nats-Msg-Id"))
	}
}

// Every event of Zoom's published list is either modelled or unknown, and
// the 69 modelled ones are exactly the examples.
func TestNames(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "contact_center_event_names.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 124 {
		t.Fatalf("%d Contact Center event names, want Zoom's 124", len(all))
	}
	names := events.Names()
	if len(names) != 69 {
		t.Fatalf("Names() = %d names, want 69", len(names))
	}
	for _, n := range names {
		if examples.Get(n) == nil {
			t.Errorf("modelled event %s has no example", n)
		}
	}
	modelled := 0
	for _, n := range all {
		ev := &events.Event{Name: n, AccountID: "a"}
		if ev.Known() {
			modelled++
		} else if !strings.HasPrefix(ev.Subject("zoom"), "zoom.a.unknown.contact_center.") {
			t.Errorf("%s: subject %s", n, ev.Subject("zoom"))
		}
	}
	// The other 6 are the 3 user.* events and the 3 voice_rtms_* events,
	// which Zoom documents under RTMS.
	if modelled != 63 {
		t.Errorf("%d of Zoom's Contact Center events modelled, want 63", modelled)
	}
}
