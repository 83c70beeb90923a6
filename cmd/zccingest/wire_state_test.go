package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/ingest/state"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// run keeps the live state: a generated engagement's agent and engagement
// are in the buckets, readable with the consumer role as status reads them.
func TestRunKeepsState(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"s1"}})
	o := s.Options()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.yaml")
	natsPort := freePort(t)
	os.WriteFile(cfgPath, fmt.Appendf(nil, `zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q, api_url: %q}
subscriptions: [{name: ris-a, id: s1}]
nats: {embedded: {listen: "127.0.0.1:%d", store_dir: %q}}
http: {listen: "off"}
state: {ended_ttl: 1h}
`, o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), s.RESTURL(), natsPort, filepath.Join(dir, "nats")), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	logs := &testnats.LogBuffer{}
	go func() { done <- run(ctx, []string{"run", "--config", cfgPath}, io.Discard, logs) }()
	defer func() {
		cancel()
		if rc := <-done; rc != exitOK {
			t.Errorf("run exited %d", rc)
		}
	}()
	if err := s.WaitBuilds(testCtx(t, 10*time.Second), "s1", 1); err != nil {
		t.Fatal(err)
	}
	g := sim.NewGenerator(3, o.AccountID, 1)
	for { // the agent's login and the engagement until it is answered
		ev, _ := g.Next()
		s.SendEvent(testCtx(t, 5*time.Second), ev)
		if strings.Contains(string(ev), `"contact_center.engagement_user_answered"`) {
			break
		}
	}
	nc := connectRole(t, filepath.Join(dir, "credentials"), natsPort, natsauth.Consumer, nats.MaxReconnects(-1))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := testCtx(t, 30*time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var agents []state.Agent
	var engs []state.Engagement
	var err1, err2 error
	for {
		var ka, ke jetstream.KeyValue
		ka, err1 = js.KeyValue(deadline, "ZOOM_AGENTS")
		ke, err2 = js.KeyValue(deadline, "ZOOM_ENGAGEMENTS")
		if err1 == nil && err2 == nil {
			agents, err1 = state.Agents(deadline, ka, o.AccountID)
			engs, err2 = state.Engagements(deadline, ke, "")
		}
		if err1 == nil && err2 == nil && len(agents) == 1 && agents[0].LoggedIn && agents[0].Status == "Ready" &&
			len(engs) == 1 && engs[0].Answered && !engs[0].Ended && fmt.Sprint(agents[0].Engagements) == fmt.Sprint([]string{engs[0].EngagementID}) {
			break
		}
		select {
		case <-tick.C:
		case <-deadline.Done():
			t.Fatalf("the state never showed the agent on the engagement: agents %+v engagements %+v (%v %v)\n%s", agents, engs, err1, err2, logs.String())
		}
	}
	// status shows them, as tables and as JSON.
	code, out, errs := runCmd(t, "status", "--config", cfgPath)
	if code != exitOK || !strings.Contains(out, "AGENTS logged in: 1") || !strings.Contains(out, agents[0].UserID) ||
		!strings.Contains(out, "ENGAGEMENTS open: 1") || !strings.Contains(out, engs[0].EngagementID) {
		t.Errorf("status exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("zccingest status:\n%s", out)
	code, out, errs = runCmd(t, "status", "--config", cfgPath, "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil || len(rep.Agents) != 1 || len(rep.Engagements) != 1 || rep.Engagements[0].EngagementID != engs[0].EngagementID {
		t.Errorf("status --json exit %d (%v)\n%s\n%s", code, err, out, errs)
	}
}

// Without JetStream the state is off, and run says so once.
func TestStateNeedsJetStream(t *testing.T) {
	cfg, err := config.Parse([]byte(`
zoom: {account_id: acct, client_id: cid, client_secret: s}
subscriptions: [{name: a, id: sub1}]
nats: {stream: ""}
`))
	if err != nil {
		t.Fatal(err)
	}
	logs := &testnats.LogBuffer{}
	startState(context.Background(), cfg, nil, nil, nil, zerolog.New(logs))()
	if got := logs.String(); strings.Count(got, `JetStream is off`) != 1 || !strings.Contains(got, `"key":"nats.stream"`) {
		t.Errorf("want one warning naming nats.stream, got:\n%s", got)
	}
}
