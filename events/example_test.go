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
