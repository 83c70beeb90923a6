package events_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
)

func BenchmarkSteps(b *testing.B) {
	var c bytes.Buffer
	json.Compact(&c, readExample(b, "contact_center.engagement_user_answered"))
	frame := frameOf(b, c.Bytes())
	f, _ := events.ParseFrame(frame)
	ev, _ := f.Event()
	at := time.Now()
	b.Run("ParseFrame", func(b *testing.B) {
		for b.Loop() {
			events.ParseFrame(frame)
		}
	})
	b.Run("Event", func(b *testing.B) {
		for b.Loop() {
			f.Event()
		}
	})
	b.Run("Key", func(b *testing.B) {
		for b.Loop() {
			ev.Key()
		}
	})
	b.Run("Message", func(b *testing.B) {
		for b.Loop() {
			ev.Message("zoom", "ris-a", at)
		}
	})
}
