package ingest

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSeenPair is the de-duplication of a pair: each event's key
// added from one leg, then from the other (the duplicate).
func BenchmarkSeenPair(b *testing.B) {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i*7919+1)
	}
	s := newSeen(30 * time.Second)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := ids[i&(len(ids)-1)]
		s.add(id, 1, now)
		s.add(id, 2, now)
	}
}
