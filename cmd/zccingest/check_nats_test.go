package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

func startServer(t *testing.T, jetStream bool, maxPayload int32) *server.Server {
	return testnats.Start(t, testnats.Options{NoJetStream: !jetStream, MaxPayload: maxPayload})
}

// TestCheckNATS: check reports what would stop run, or lose an event's
// body, on the NATS side.
func TestCheckNATS(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"a"}})
	o := s.Options()

	small := startServer(t, true, 64<<10)
	nc, err := nats.Connect(small.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "ZOOM_EVENTS", Subjects: []string{"other.>"}, MaxMsgSize: 64 << 10, Duplicates: 10 * time.Second,
	}); err != nil {
		t.Fatal(err)
	}
	noJS := startServer(t, false, 0)
	notDir := filepath.Join(t.TempDir(), "a-file") // a store_dir below a file cannot be made, whoever runs the test
	os.WriteFile(notDir, nil, 0o600)

	for _, tc := range []struct {
		name, nats string
		code       int
		want       []string
	}{
		{"embedded", fmt.Sprintf("{embedded: {store_dir: %q}}", filepath.Join(t.TempDir(), "js")), exitOK, []string{"nats: embedded server on 127.0.0.1:4222, started by run; store_dir", "all good"}},
		{"embedded store (and the WAL beside it) not writable", fmt.Sprintf("{embedded: {store_dir: %q}}", filepath.Join(notDir, "js")), exitFail, []string{"nats: FAIL: nats.embedded.store_dir:", "wal: FAIL: wal.dir:", "2 problem(s) found"}},
		{"existing stream", fmt.Sprintf("{url: %q}", small.ClientURL()), exitOK, []string{
			"nats: ok, nats://127.0.0.1:",
			"nats: warning: max_payload is 64 KiB; an event larger than that is published as headers only (Zoom frames are read up to 16 MiB)",
			"stream ZOOM_EVENTS: ok; run will add subject zoom.> and set duplicate window 2m0s (was 10s)",
			"stream ZOOM_EVENTS: warning: max_msg_size is 64 KiB",
			"stream ZOOM_EVENTS: warning: no max_age, max_bytes or max_msgs: it keeps everything until the disk is full",
			"all good",
		}},
		{"core", fmt.Sprintf("{url: %q, stream: \"\"}", small.ClientURL()), exitOK, []string{"nats: core NATS (no stream configured)", "all good"}},
		{"stream missing", fmt.Sprintf("{url: %q, stream: OTHER}", small.ClientURL()), exitOK, []string{"stream OTHER: missing; run creates it"}},
		{"no JetStream", fmt.Sprintf("{url: %q}", noJS.ClientURL()), exitFail, []string{"nats: FAIL: JetStream, which nats.stream needs:", "1 problem(s) found"}},
		{"unreachable", fmt.Sprintf("{url: \"nats://127.0.0.1:%d\"}", freePort(t)), exitFail, []string{"nats: FAIL: natsout: connecting to NATS:", "1 problem(s) found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			cfg := fmt.Sprintf("zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}\nsubscriptions: [{name: ris-a, id: a}]\n",
				o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL())
			if tc.nats != "" {
				cfg += "nats: " + tc.nats + "\n"
			}
			os.WriteFile(path, []byte(cfg), 0o600)
			code, out, _ := runCmd(t, "check", "--config", path)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
