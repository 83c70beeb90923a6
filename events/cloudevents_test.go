package events_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	cejs "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/zccingest/zccingest/events"
)

func TestCloudEventsHeaders(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)
	for _, tc := range []struct {
		name    string
		source  string
		subject string // "" when the header must be absent
	}{
		{"contact_center.engagement_user_answered", "/zoom/accounts/D8cJuqWVQ623CI4Q8yQK0Q", "u154t5-ASlK83fZb1YWqgw"},
		{"contact_center.recording_paused", "/zoom/accounts/D8cJuqWVQ623CI4Q8yQK0Q", "u154t5-ASlK83fZb1YWqgw"},
		{"contact_center.recording_deleted", "/zoom/accounts/D8cJuqWVQ623CI4Q8yQK0Q", ""},
		{"contact_center.user_login", "/zoom/accounts/D8cJuqWVQ623CI4Q8yQK0Q", "ukAAkZKfROKMSw1bj_RDFQ"},
		{"user.signed_in", "/zoom/accounts/AAAAAABBBB", "abcD3ojfdbjfg"},
		{"contact_center.voice_rtms_started", "/zoom/accounts/_", "4444AAAiAAAAAiAiAiiAii=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := decode(t, frameOf(t, readExample(t, tc.name)))
			msg, err := ev.Message("zoom", "ris-a", at)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"ce-specversion":     "1.0",
				"ce-id":              ev.Key(),
				"ce-source":          tc.source,
				"ce-type":            tc.name,
				"ce-time":            time.UnixMilli(ev.TS).UTC().Format("2006-01-02T15:04:05.000Z"),
				"ce-datacontenttype": "application/json",
				"ce-recordedtime":    "2026-11-22T10:00:00.123456Z",
				"ce-subject":         tc.subject,
			}
			for h, w := range want {
				if got := msg.Header.Get(h); got != w {
					t.Errorf("%s = %q, want %q", h, got, w)
				}
			}
			if _, ok := msg.Header["ce-subject"]; ok && tc.subject == "" {
				t.Errorf("ce-subject present without an id")
			}
			if msg.Header.Get("ce-id") != msg.Header.Get("Nats-Msg-Id") {
				t.Errorf("ce-id %q differs from Nats-Msg-Id", msg.Header.Get("ce-id"))
			}
		})
	}
}

// Values from outside become plain ASCII that cannot break a header, and
// an id too long to be one is left out.
func TestCloudEventsHeadersASCII(t *testing.T) {
	content := []byte(`{"event":"contact_center.engagement_ended","event_ts":1700000000000,` +
		`"payload":{"account_id":"a/cc é\r\n","object":{"engagement_id":"e 1\n%é"}}}`)
	ev := decode(t, frameOf(t, content))
	msg, err := ev.Message("zoom", "ris-a", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := msg.Header.Get("ce-source"), "/zoom/accounts/a/cc%20%C3%A9%0D%0A"; got != want {
		t.Errorf("ce-source = %q, want %q", got, want)
	}
	if got, want := msg.Header.Get("ce-subject"), "e%201%0A%25%C3%A9"; got != want {
		t.Errorf("ce-subject = %q, want %q", got, want)
	}
	long := bytes.Replace(content, []byte(`e 1\n%é`), bytes.Repeat([]byte("x"), 257), 1)
	msg, err = decode(t, frameOf(t, long)).Message("zoom", "ris-a", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := msg.Header["ce-subject"]; ok {
		t.Errorf("ce-subject of 257 bytes kept")
	}
}

// A consumer that speaks only CloudEvents, the Go SDK with its JetStream
// binding, receives the messages as the right events.
func TestCloudEventsSDK(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}}); err != nil {
		t.Fatal(err)
	}

	consumer, err := cejs.NewConsumerFromConn(nc, "ZOOM_EVENTS", "zoom.*.cc.>", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inbound := make(chan error, 1)
	go func() { inbound <- consumer.OpenInbound(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-inbound; err != nil {
			t.Errorf("OpenInbound: %v", err)
		}
	})

	at := time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC)
	for _, name := range []string{
		"contact_center.recording_started",
		"contact_center.engagement_conference_participant_joined",
		"contact_center.voice_rtms_started",
		"contact_center.engagement_user_answered",
	} {
		ev := decode(t, frameOf(t, readExample(t, name)))
		msg, err := ev.Message("zoom", "ris-a", at)
		if err != nil {
			t.Fatal(err)
		}
		// As natsout publishes it.
		if _, err := js.PublishMsg(&nats.Msg{Subject: msg.Subject, Header: nats.Header(msg.Header), Data: msg.Data}); err != nil {
			t.Fatal(err)
		}
		m, err := consumer.Receive(ctx)
		if err != nil {
			t.Fatalf("%s: Receive: %v", name, err)
		}
		if m.ReadEncoding() != binding.EncodingBinary {
			t.Errorf("%s: encoding %v, want binary", name, m.ReadEncoding())
		}
		got, err := binding.ToEvent(ctx, m)
		if err != nil {
			t.Fatalf("%s: ToEvent: %v", name, err)
		}
		m.Finish(nil)
		if err := got.Validate(); err != nil {
			t.Errorf("%s: invalid event: %v", name, err)
		}
		if got.ID() != ev.Key() || got.Type() != name || got.SpecVersion() != "1.0" {
			t.Errorf("%s: id %q type %q specversion %q", name, got.ID(), got.Type(), got.SpecVersion())
		}
		if !got.Time().Equal(time.UnixMilli(ev.TS)) {
			t.Errorf("%s: time %v, want event_ts %d", name, got.Time(), ev.TS)
		}
		if got.Source() != "/zoom/accounts/"+map[bool]string{true: "_", false: ev.AccountID}[ev.AccountID == ""] {
			t.Errorf("%s: source %q", name, got.Source())
		}
		wantSubject := map[string]string{
			"contact_center.engagement_conference_participant_joined": "KGyggzS9QXWjt7L7yl2OxQ",
			"contact_center.voice_rtms_started":                       "4444AAAiAAAAAiAiAiiAii==",
		}[name]
		if wantSubject == "" {
			wantSubject = "u154t5-ASlK83fZb1YWqgw"
		}
		if got.Subject() != wantSubject {
			t.Errorf("%s: subject %q, want %q", name, got.Subject(), wantSubject)
		}
		if rt, _ := got.Extensions()["recordedtime"].(string); rt != "2026-11-22T10:00:00.123456Z" {
			t.Errorf("%s: recordedtime %v", name, got.Extensions()["recordedtime"])
		}
		if got.DataContentType() != "application/json" || !bytes.Equal(got.Data(), msg.Data) {
			t.Errorf("%s: data %s %q, want the body", name, got.DataContentType(), got.Data())
		}
		var body events.Body
		if err := got.DataAs(&body); err != nil || body.ID != ev.Key() {
			t.Errorf("%s: DataAs: %v, id %q", name, err, body.ID)
		}
	}
}

func TestCloudEventsTime(t *testing.T) {
	for _, ms := range []int64{0, 1, 999, 1627906944384, 1627906944000, 951782400123, 253402300799999, 4102444800000 - 1} {
		ev := &events.Event{Name: "contact_center.engagement_ended", TS: ms, AccountID: "a", Object: []byte(`{}`)}
		msg, err := ev.Message("zoom", "ris-a", time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		if got := msg.Header.Get("ce-time"); got != want {
			t.Errorf("event_ts %d: ce-time %q, want %q", ms, got, want)
		}
	}
	for _, ms := range []int64{253402300800000, 1 << 62, -1} {
		ev := &events.Event{Name: "contact_center.engagement_ended", TS: ms, AccountID: "a", Object: []byte(`{}`)}
		msg, err := ev.Message("zoom", "ris-a", time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.Header["ce-time"]; ok {
			t.Errorf("event_ts %d: ce-time %q, want none", ms, msg.Header.Get("ce-time"))
		}
	}
}
