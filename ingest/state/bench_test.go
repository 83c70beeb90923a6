package state_test

import (
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/state"
)

// BenchmarkMerge: one event merged into values held in memory (decode,
// merge, encode), the CPU of the KV path without its round trips.
func BenchmarkMerge(b *testing.B) {
	ins := generate(b, 9, 20, 5000)
	m := state.NewMemory()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := m.Apply(ins[i%len(ins)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuilder: events a second through the consumer into the
// buckets, on a local NATS server.
func BenchmarkBuilder(b *testing.B) {
	r := newRigTB(b)
	msgs, _ := traffic(b, 10, 20, b.N, time.Now().UnixMilli())
	r.publish(msgs...)
	b.ResetTimer()
	start := time.Now()
	r.builder(nil)
	r.drained()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
