package natsout_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/test/examples"
	"github.com/zccingest/zccingest/test/testnats"
)

// BenchmarkPublishHeaders prices the headers of a typical event message in
// nats.go's core publish: the same subject and body with the message's 14
// headers, and without any (as the raw-forward baseline of test/load
// publishes). nats.go encodes the header map anew for every publish.
func BenchmarkPublishHeaders(b *testing.B) {
	var c bytes.Buffer
	if err := json.Compact(&c, examples.Get("contact_center.engagement_user_answered")); err != nil {
		b.Fatal(err)
	}
	ev, err := events.ParseEvent(c.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	m, err := ev.Message("zoom", "ris-a", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	s := testnats.Start(b, testnats.Options{NoJetStream: true})
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	for _, bc := range []struct {
		name   string
		header nats.Header
	}{{"headers=14", nats.Header(m.Header)}, {"headers=0", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := nc.PublishMsg(&nats.Msg{Subject: m.Subject, Header: bc.header, Data: m.Data}); err != nil {
					b.Fatal(err)
				}
			}
			if err := nc.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
