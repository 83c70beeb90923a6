package events_test

import (
	"fmt"

	"github.com/zccingest/zccingest/events"
)

func Example() {
	frame := []byte(`{"module":"message","success":true,"header":{},"content":` +
		`"{\"event\":\"contact_center.engagement_user_hold\",\"event_ts\":1627906944384,` +
		`\"payload\":{\"account_id\":\"D8cJuqWVQ623CI4Q8yQK0Q\",\"object\":{\"engagement_id\":\"u154t5\",\"user_id\":\"IGTRVt3g\"}}}"}`)

	f, err := events.ParseFrame(frame)
	if err != nil || f.Module != events.ModuleMessage {
		fmt.Println("not an event:", err)
		return
	}
	ev, err := f.Event()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Subject("zoom"))
	v, err := ev.Typed()
	if err != nil {
		fmt.Println(err)
		return
	}
	if hold, ok := v.(*events.EngagementUserHold); ok {
		fmt.Println(hold.EngagementID, "on hold by", hold.UserID)
	}
	// Output:
	// zoom.D8cJuqWVQ623CI4Q8yQK0Q.cc.engagement.user_hold
	// u154t5 on hold by IGTRVt3g
}

// A media adapter claims a real-time media stream before it connects: the
// first create of the key wins, and a failover's second voice_rtms_started
// (or a 1+1 pair's copy) finds it taken.
func ExampleEvent_RTMSClaimKey() {
	content := []byte(`{"event":"contact_center.voice_rtms_started","event_ts":1626230691572,` +
		`"payload":{"engagement_id":"4444AAAiAAAAAiAiAiiAii==","rtms_stream_id":"609340fb2a7946909659956c8aa9250c","server_urls":"wss://127.0.0.1:443"}}`)
	ev, err := events.ParseEvent(content)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, err := ev.RTMSClaimKey()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Subject("zoom"))
	fmt.Println(events.RTMSClaimBucket, key)
	// With nats.go: kv.Create(ctx, key, []byte(adapterID)); jetstream.ErrKeyExists
	// means another adapter holds the stream.
	// Output:
	// zoom._.cc.rtms.started
	// ZOOM_RTMS_CLAIMS _.4444AAAiAAAAAiAiAiiAii==.609340fb2a7946909659956c8aa9250c
}
