package events_test

import (
	"bytes"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/examples"
)

// decodeNormalize is the ingester's per-frame work; with buf, the content
// is decoded into it, as the ingester does.
func decodeNormalize(b *testing.B, frame, buf []byte, at time.Time) {
	var f events.Frame
	var err error
	if buf == nil {
		f, err = events.ParseFrame(frame)
	} else {
		f, err = events.ParseFrameBuffer(frame, buf)
	}
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
	at := time.Now()
	all := examples.All()
	for _, name := range examples.Names() {
		example := all[name]
		// Zoom sends compact JSON; the examples are laid out for reading.
		var compact bytes.Buffer
		if err := json.Compact(&compact, example); err != nil {
			b.Fatal(err)
		}
		frame := frameOf(b, compact.Bytes())
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				decodeNormalize(b, frame, nil, at)
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

// BenchmarkDecodeNormalizeBuffer is BenchmarkDecodeNormalize as the
// ingester decodes: the content into a pooled buffer.
func BenchmarkDecodeNormalizeBuffer(b *testing.B) {
	at := time.Now()
	var compact bytes.Buffer
	if err := json.Compact(&compact, examples.Get("contact_center.engagement_user_answered")); err != nil {
		b.Fatal(err)
	}
	frame := frameOf(b, compact.Bytes())
	pool := sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
	b.ReportAllocs()
	for b.Loop() {
		buf := pool.Get().(*[]byte)
		decodeNormalize(b, frame, *buf, at)
		pool.Put(buf)
	}
}
