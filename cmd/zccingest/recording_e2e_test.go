package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/test/sim"
)

// The recording batch end to end: the simulator's generated engagements
// (recording, RTMS, monitors, conferences, dispositions) through run into
// the embedded NATS, each event on its subject with CloudEvents headers,
// nothing on the unknown subject.
func TestRecordingEventsEndToEnd(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"s1", "s2"}})
	o := s.Options()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.yaml")
	natsPort := freePort(t)
	os.WriteFile(cfgPath, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}
subscriptions: [{name: ris-a, id: s1}, {name: ris-b, id: s2}]
nats: {embedded: {listen: "127.0.0.1:%d", store_dir: %q}}
http: {listen: "off"}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), natsPort, filepath.Join(dir, "nats")), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, io.Discard, io.Discard) }()
	for _, sub := range o.Subscriptions {
		if err := s.WaitBuilds(testCtx(t, 10*time.Second), sub, 1); err != nil {
			t.Fatal(err)
		}
	}
	nc := connectRole(t, filepath.Join(dir, "credentials"), natsPort, natsauth.Consumer, nats.MaxReconnects(-1))
	in := make(chan *nats.Msg, 1000)
	if _, err := nc.ChanSubscribe("zoom.>", in); err != nil {
		t.Fatal(err)
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Whole engagements, until one had a monitor and one a conference.
	g := sim.NewGenerator(11, o.AccountID, 4)
	var frames [][]byte
	var monitor, conference bool
	for len(frames) < 900 {
		ev, _ := g.Next()
		if strings.Contains(string(ev), `"contact_center.engagement_started"`) && monitor && conference {
			break
		}
		monitor = monitor || strings.Contains(string(ev), `"contact_center.engagement_monitor_started"`)
		conference = conference || strings.Contains(string(ev), `"contact_center.engagement_conference_participant_joined"`)
		frames = append(frames, ev)
	}
	if !monitor || !conference {
		t.Fatalf("%d generated events hold no monitor or no conference", len(frames))
	}
	for _, ev := range frames {
		if n := s.SendEvent(testCtx(t, 5*time.Second), ev); n != 2 {
			t.Fatalf("event reached %d sockets", n)
		}
	}

	bySubject := map[string]int{}
	for range frames {
		var m *nats.Msg
		for m == nil || isSystem(m.Subject) { // coverage's connection changes are there too
			select {
			case m = <-in:
			case <-testCtx(t, 30*time.Second).Done():
				t.Fatalf("got %d subjects of %d events: %v", len(bySubject), len(frames), bySubject)
			}
		}
		bySubject[m.Subject]++
		name := m.Header.Get(events.HeaderEvent)
		ev := &events.Event{Name: name}
		if !ev.Known() || strings.Contains(m.Subject, ".unknown.") || strings.HasSuffix(m.Subject, ".invalid") {
			t.Errorf("%s on %s", name, m.Subject)
		}
		// RTMS events carry no account: they take the configured one.
		account := o.AccountID
		if !strings.HasPrefix(m.Subject, "zoom."+account+".") {
			t.Errorf("%s on %s, want the account %s in the subject", name, m.Subject, account)
		}
		for h, want := range map[string]string{
			"ce-specversion": "1.0", "ce-id": m.Header.Get("Nats-Msg-Id"), "ce-type": name,
			"ce-source": "/zoom/accounts/" + account, "ce-datacontenttype": "application/json",
		} {
			if got := m.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", name, h, got, want)
			}
		}
		if m.Header.Get("ce-time") == "" || m.Header.Get("ce-recordedtime") == "" {
			t.Errorf("%s: ce-time %q ce-recordedtime %q", name, m.Header.Get("ce-time"), m.Header.Get("ce-recordedtime"))
		}
		if f := ev.Family(); (f == events.FamilyRecording || f == events.FamilyConference || f == events.FamilyEngagement || f == events.FamilyRTMS) &&
			m.Header.Get("ce-subject") == "" {
			t.Errorf("%s: no ce-subject", name)
		}
		if ev.Family() == events.FamilyRTMS && m.Header.Get(events.HeaderRTMSClaim) == "" {
			t.Errorf("%s: no %s", name, events.HeaderRTMSClaim)
		}
	}
	for _, sub := range []string{
		"cc.recording.started", "cc.recording.paused", "cc.recording.resumed", "cc.recording.stopped", "cc.recording.completed",
		"cc.engagement.ended", "cc.engagement.monitor_started", "cc.engagement.monitor_ended",
		"cc.engagement.conference.participant_invited", "cc.engagement.conference.participant_joined", "cc.engagement.conference.participant_left",
		"cc.engagement.disposition_added", "cc.task.entered_queue", "cc.task.exited_queue",
	} {
		if bySubject["zoom."+o.AccountID+"."+sub] == 0 {
			t.Errorf("nothing on zoom.%s.%s", o.AccountID, sub)
		}
	}
	for _, sub := range []string{"zoom." + o.AccountID + ".cc.rtms.started", "zoom." + o.AccountID + ".cc.rtms.stopped"} {
		if bySubject[sub] == 0 {
			t.Errorf("nothing on %s", sub)
		}
	}
	for more := true; more; {
		select {
		case m := <-in:
			if !isSystem(m.Subject) {
				t.Errorf("more messages than events: %s %s", m.Subject, m.Header.Get(events.HeaderEvent))
			}
		default:
			more = false
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("run exited %d", code)
	}
}
