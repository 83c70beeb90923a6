package ingest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zccingest/zccingest/test/sim"
)

// BenchmarkIngest runs frames from the simulator through a real connection,
// the decode and the publisher into core NATS and JetStream, and counts
// them at a consumer. Its profile is the hot path's.
func BenchmarkIngest(b *testing.B) {
	for _, stream := range []string{"", "ZOOM_EVENTS"} {
		b.Run(fmt.Sprintf("stream=%q", stream), func(b *testing.B) {
			e := newEnv(b, sim.Options{Subscriptions: []string{"a"}})
			cfg := e.configFor(stream, "25s", "a")
			// The simulator sends all b.N at once, faster than JetStream
			// acknowledges: the buffer must hold the burst, or the
			// benchmark measures drops.
			cfg.Ingest.BufferEvents = max(cfg.Ingest.BufferEvents, b.N)
			in, stop := e.run(cfg)
			defer stop()
			frames := make([][]byte, b.N)
			for i := range frames {
				ev := fmt.Appendf(nil, `{"event":"contact_center.engagement_user_answered","event_ts":%d,"payload":{"account_id":"D8cJuqWVQ623CI4Q8yQK0Q","object":{"engagement_id":"eng-%09d","engagement_direction":"inbound","channel":"voice","date_time_ms":"2022-02-15T09:27:15.987Z","flow_id":"ZWWC0A840C726C2CE3ACF01041CB8CFD8B9","flow_name":"My Flow","cc_queue_id":"xqJE_cgERLyAJHYYL5LLeg","queue_name":"My Queue","consumer_number":"+18005550100","user_id":"IGTRVt3gQ2i-WjoUIjeZxw","user_display_name":"John Doe","flow_number":"+18005550101","consumer_id":"szCyubr_aQhieHNWYbAGMYg","consumer_display_name":"Jane Smith"}}}`, time.Now().UnixMilli(), i)
				frames[i] = sim.MessageFrame(ev)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, f := range frames {
				e.sim.Send(context.Background(), "a", f)
			}
			// Done when NATS has acknowledged them all. (A consumer on the
			// same 2 cores would be cut off as a slow consumer in bursts.)
			deadline := time.Now().Add(time.Minute)
			for counter(b, in, "zccingest_published_total") < b.N {
				if n := counter(b, in, "zccingest_dropped_total"); n > 0 || time.Now().After(deadline) {
					b.Fatalf("%d of %d events acknowledged, %d dropped", counter(b, in, "zccingest_published_total"), b.N, n)
				}
				time.Sleep(time.Millisecond) // a benchmark's poll, not a test's synchronisation
			}
			b.StopTimer()
		})
	}
}
