package events_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/examples"
)

// TestParseFrameBufferMessageOwnsItsBytes: the ingester decodes content
// into a buffer it reuses for the next frame, so a Message must alias
// nothing of its Event. Every example, with extra fields and escapes,
// through a buffer that is then overwritten, gives the message ParseFrame
// gives.
func TestParseFrameBufferMessageOwnsItsBytes(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	extra := []byte(`{"event":"user.x\u00e9","event_ts":1,"operator":"a\"b","payload":{"account_id":"ac\\u00e9","operator_id":"o","object":{"id":"u\u00e91","engagement_id":"e\"2","k":"v"}}}`)
	contents := [][]byte{extra}
	for _, name := range examples.Names() {
		var c bytes.Buffer
		if err := json.Compact(&c, examples.Get(name)); err != nil {
			t.Fatal(err)
		}
		contents = append(contents, c.Bytes())
	}
	buf := make([]byte, 0, 64<<10)
	for _, content := range contents {
		frame := frameOf(t, content)
		want := message(t, events.ParseFrame, frame, at)
		got := message(t, func(b []byte) (events.Frame, error) { return events.ParseFrameBuffer(b, buf) }, frame, at)
		for i := range buf[:cap(buf)] {
			buf[:cap(buf)][i] = 'X'
		}
		if got.Subject != want.Subject || got.ID != want.ID || !bytes.Equal(got.Data, want.Data) ||
			!maps.EqualFunc(got.Header, want.Header, slices.Equal) {
			t.Fatalf("%s: after the buffer was reused\n got %s %v %s\nwant %s %v %s", content,
				got.Subject, got.Header, got.Data, want.Subject, want.Header, want.Data)
		}
	}
}

func message(t *testing.T, parse func([]byte) (events.Frame, error), frame []byte, at time.Time) *events.Message {
	t.Helper()
	f, err := parse(frame)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := f.Event()
	if err != nil {
		t.Fatal(err)
	}
	m, err := ev.Message("zoom", "ris-a", at)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
