package events

import (
	"testing"
	"time"
)

// BenchmarkCloudEvents is the CloudEvents headers' own cost in Message,
// apart from adding them to the message's header map.
func BenchmarkCloudEvents(b *testing.B) {
	ev, err := ParseEvent([]byte(`{"event":"contact_center.engagement_user_answered","event_ts":1627906944384,` +
		`"payload":{"account_id":"D8cJuqWVQ623CI4Q8yQK0Q","object":{"engagement_id":"u154t5-ASlK83fZb1YWqgw","user_id":"IGTRVt3gQ2i-WjoUIjeZxw"}}}`))
	if err != nil {
		b.Fatal(err)
	}
	key := []byte(ev.Key())
	at := time.Now()
	var buf [512]byte
	b.ReportAllocs()
	for b.Loop() {
		ev.cloudEvents(buf[:0], key, FamilyEngagement, at)
	}
}
