package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
)

func TestRebuiltMessage(t *testing.T) {
	obj := events.Engagement{EngagementID: "eng-1", UserID: "u-1", Channel: "voice", EngagementDirection: "inbound"}
	e, err := events.RebuiltEvent("contact_center.engagement_user_answered", 1700000000123, "acct.1", obj)
	if err != nil {
		t.Fatal(err)
	}
	live, err := e.Message("zoom", "ris-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := events.RebuiltKey("acct.1", e.Name, e.TS, "eng-1", "u-1")
	if key != events.RebuiltKey("acct.1", e.Name, e.TS, "eng-1", "u-1") {
		t.Fatal("RebuiltKey is not deterministic")
	}
	for _, other := range []string{
		events.RebuiltKey("acct.2", e.Name, e.TS, "eng-1", "u-1"),
		events.RebuiltKey("acct.1", "contact_center.engagement_user_hold", e.TS, "eng-1", "u-1"),
		events.RebuiltKey("acct.1", e.Name, e.TS+1, "eng-1", "u-1"),
		events.RebuiltKey("acct.1", e.Name, e.TS, "eng-1", "u-2"),
		live.ID,
	} {
		if other == key {
			t.Errorf("key %s is not distinct", key)
		}
	}
	m, err := e.RebuiltMessage("zoom", key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != live.Subject || m.Subject != "zoom.acct_1.cc.engagement.user_answered" {
		t.Errorf("subject %q, live %q", m.Subject, live.Subject)
	}
	for h, want := range map[string]string{
		events.HeaderMsgID: key, events.HeaderCEID: key, events.HeaderSource: events.SourceREST,
		events.HeaderEvent: e.Name, events.HeaderEventTS: "1700000000123", events.HeaderAccountID: "acct.1",
		events.HeaderSubscription: "",
	} {
		if got := m.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if live.Header.Get(events.HeaderSource) != "" {
		t.Error("a live message carries Zoom-Source")
	}
	var b events.Body
	if err := json.Unmarshal(m.Data, &b); err != nil {
		t.Fatalf("body %s: %v", m.Data, err)
	}
	if b.ID != key || b.Source != events.SourceREST || b.Event != e.Name || b.EventTS != e.TS || b.AccountID != "acct.1" {
		t.Errorf("body %+v", b)
	}
	var lb events.Body
	if err := json.Unmarshal(live.Data, &lb); err != nil || lb.Source != "" {
		t.Errorf("live body source %q (%v)", lb.Source, err)
	}
	// The object reads back through the typed structs.
	back, err := events.ParseEvent(mustEnvelope(t, b))
	if err != nil {
		t.Fatal(err)
	}
	v, err := back.Typed()
	if err != nil {
		t.Fatal(err)
	}
	if a := v.(*events.EngagementUserAnswered); a.EngagementID != "eng-1" || a.UserID != "u-1" || a.Channel != "voice" {
		t.Errorf("typed %+v", a)
	}
	if _, err := e.RebuiltMessage("zoom", "short", time.Now()); err == nil {
		t.Error("a key that is not RebuiltKey's was taken")
	}
}

func mustEnvelope(t *testing.T, b events.Body) []byte {
	t.Helper()
	env, err := json.Marshal(map[string]any{"event": b.Event, "event_ts": b.EventTS, "payload": map[string]any{"account_id": b.AccountID, "object": b.Object}})
	if err != nil {
		t.Fatal(err)
	}
	return env
}
