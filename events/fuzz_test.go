package events_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zccingest/zccingest/events"
)

// FuzzDecode feeds arbitrary frames through the ingester's decode path: it
// must never panic, and whatever it accepts must become a message with a
// valid subject and a JSON body that holds the object unchanged.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frameOf(f, b))
		f.Add([]byte(`{"module":"message","success":true,"content":` + string(b) + `}`))
	}
	f.Add([]byte(`{"module":"build_connection","success":false,"content":"token is empty","header":{}}`))
	f.Add([]byte(`{"module":"message","content":"{\"event\":\"a.b\",\"event_ts\":1,\"payload\":{\"account_id\":\"x\"}}"}`))
	f.Add([]byte("{\"module\":\"message\",\"content\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		fr, err := events.ParseFrame(frame)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		ev, err := fr.Event()
		if err != nil {
			return
		}
		msg, err := ev.Message("zoom", "ris-a", time.Unix(0, 0))
		if err != nil {
			t.Fatalf("Message: %v", err)
		}
		checkSubject(t, msg.Subject)
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
