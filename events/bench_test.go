package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
)

// decodeNormalize is the ingester's per-frame work.
func decodeNormalize(b *testing.B, frame []byte, at time.Time) {
	f, err := events.ParseFrame(frame)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := f.Event()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ev.Message("zoom", "ris-a", at); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkDecodeNormalize(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	at := time.Now()
	for _, file := range files {
		example, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		// Zoom sends compact JSON; the examples are laid out for reading.
		var compact bytes.Buffer
		if err := json.Compact(&compact, example); err != nil {
			b.Fatal(err)
		}
		frame := frameOf(b, compact.Bytes())
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				decodeNormalize(b, frame, at)
			}
		})
	}
}

func BenchmarkTyped(b *testing.B) {
	ev, err := events.ParseEvent(readExample(b, "contact_center.engagement_user_answered"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.Typed(); err != nil {
			b.Fatal(err)
		}
	}
}
