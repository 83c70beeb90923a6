package main

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/nats-io/nats.go"

	"github.com/zccingest/zccingest/events"
)

// hostile holds what a probe put in event data: an OSC retitle, a screen
// clear, an 8-bit CSI, DEL, a lone invalid byte.
const hostile = "\x1b]0;pwned\a\x1b[2J\u009b31m\x7f\xff"

func noControls(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if unicode.IsControl(r) {
			t.Errorf("%s holds control character %U: %q", what, r, s)
		}
	}
}

func TestTermSafe(t *testing.T) {
	got := termSafe("agent " + hostile + ` C:\x`)
	noControls(t, "termSafe", got)
	want := `agent \u001b]0;pwned\u0007\u001b[2J\u009b31m\u007f\xff C:\\x`
	if got != want {
		t.Errorf("termSafe = %q, want %q", got, want)
	}
	if s := "plain ümlaut text"; termSafe(s) != s {
		t.Errorf("termSafe changed printable text: %q", termSafe(s))
	}
}

func TestTailEscapesEventData(t *testing.T) {
	obj, _ := json.Marshal(map[string]any{"engagement_id": hostile, "user_id": "u\x1b[2J"})
	body, _ := json.Marshal(map[string]any{"event": "contact_center.x" + hostile, "received_at": "2026-11-22T10:00:00Z", "object": json.RawMessage(obj)})
	m := &nats.Msg{Subject: "zoom.a.cc.engagement.x", Data: body, Header: nats.Header{}}
	m.Header.Set(events.HeaderSubscription, "ris-a\x1b[2J")
	line := tailLine(m)
	noControls(t, "tail line", line)
	if !strings.Contains(line, `engagement=\u001b]0;pwned`) {
		t.Errorf("tail line lost the escaped data: %q", line)
	}

	inv := &nats.Msg{Subject: "zoom.invalid", Data: []byte("{x" + hostile), Header: nats.Header{}}
	inv.Header.Set(events.HeaderError, "bad "+hostile)
	noControls(t, "invalid line", tailLine(inv))

	sys := &nats.Msg{Subject: "zoom.a.system.gap", Data: []byte(`{"id":"gap-` + hostile + `"}`), Header: nats.Header{}}
	if line := tailLine(sys); !strings.Contains(line, " SYSTEM zoom.a.system.gap ") {
		t.Errorf("system line %q", line)
	} else {
		noControls(t, "system line", line)
	}

	// --json: a valid body stays the same JSON; a raw frame is escaped.
	j := jsonLine(body)
	noControls(t, "json line", j)
	var back, orig any
	if err := json.Unmarshal([]byte(j), &back); err != nil {
		t.Fatalf("json line is not JSON: %v: %q", err, j)
	}
	json.Unmarshal(body, &orig)
	if b1, _ := json.Marshal(back); string(b1) != func() string { b2, _ := json.Marshal(orig); return string(b2) }() {
		t.Errorf("json line decodes to other data:\n%s\n%s", b1, body)
	}
	noControls(t, "json line of a raw frame", jsonLine(inv.Data))
}

// tail prints where it connects; a URL's user:password stays out.
func TestRedactURLs(t *testing.T) {
	got := redactURLs("nats://alice:s3cret@n1:4222, nats://n2:4222,tls://tok3n@n3:4222")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "alice") || strings.Contains(got, "tok3n") || !strings.Contains(got, "n2:4222") {
		t.Errorf("redactURLs = %q", got)
	}
}
