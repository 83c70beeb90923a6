package natsout_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/test/testnats"
)

type syncBuffer = testnats.LogBuffer

func msg(subject, id string) *events.Message {
	return &events.Message{Subject: subject, ID: id, Header: events.Header{events.HeaderMsgID: {id}}, Data: []byte(`{}`)}
}

// publishUntil publishes m until it is acknowledged, as the pipeline
// would, and fails the test if that takes longer than d.
func publishUntil(t *testing.T, c *natsout.Conn, m *events.Message, d time.Duration) {
	t.Helper()
	ctx := testnats.Timeout(t, d)
	errs := make([]error, 1)
	for {
		c.Publish(ctx, []*events.Message{m}, errs)
		if errs[0] == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never acknowledged: %v", m.Subject, errs[0])
		case <-time.After(20 * time.Millisecond): // the pipeline's retry pause
		}
	}
}

// A subject over the server's max_control_line makes the server answer
// -ERR and nats.go close the connection for good: the Conn notices, says
// so in Ready, and dials again; later messages arrive. The embedded
// server's own error about it reaches the log.
func TestClosedConnectionIsReplaced(t *testing.T) {
	for _, stream := range []string{"", "ZOOM_EVENTS"} {
		t.Run("stream="+stream, func(t *testing.T) {
			logs := &syncBuffer{}
			creds := t.TempDir()
			c, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{
				Embedded: natsout.Embedded{Listen: "127.0.0.1:" + strconv.Itoa(testnats.FreePort(t)), StoreDir: t.TempDir(), CredentialsDir: creds},
				Stream:   stream, SubjectPrefix: "zoom", DuplicateWindow: time.Minute, Logger: zerolog.New(logs),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.NATS().Opts.PingInterval; got != 20*time.Second {
				t.Errorf("ping interval %s, want 20s", got)
			}
			if _, err := nats.Connect(c.Server().ClientURL()); err == nil {
				t.Fatal("the embedded server let an anonymous client in")
			}
			consumer, err := natsauth.ClientOption(natsauth.SeedFile(creds, natsauth.Consumer))
			if err != nil {
				t.Fatal(err)
			}
			sub, err := nats.Connect(c.Server().ClientURL(), consumer)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			got, _ := sub.SubscribeSync("zoom.>")
			sub.Flush()

			first := c.NATS()
			// What a long account id did before subjects were capped.
			first.Publish("zoom."+strings.Repeat("a", 5000)+".cc.task.created", nil)
			first.Flush()
			if !first.IsClosed() {
				t.Fatal("the control-line error did not close the connection")
			}
			publishUntil(t, c, msg("zoom.acct.cc.task.created", "after-close"), 10*time.Second)
			m, err := got.NextMsg(5 * time.Second)
			if err != nil || m.Header.Get("Nats-Msg-Id") != "after-close" {
				t.Fatalf("after the close: %v %v", m, err)
			}
			if c.NATS() == first || c.Ready() != nil {
				t.Errorf("connection not replaced: ready %v", c.Ready())
			}
			for _, want := range []string{`"state":"closed"`, "NATS connection replaced", `"component":"nats-server"`} {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("logs lack %s:\n%s", want, logs.String())
				}
			}
		})
	}
}

// A closed connection that cannot be replaced yet is not ready, and says
// why.
func TestReadyWhileClosed(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{})
	c, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{URL: ns.ClientURL(), SubjectPrefix: "zoom"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ready(); err != nil {
		t.Fatalf("Ready = %v while connected", err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	ctx := testnats.Timeout(t, 10*time.Second)
	for c.Ready() == nil {
		select {
		case <-ctx.Done():
			t.Fatal("Ready stayed nil with the server gone")
		case <-time.After(10 * time.Millisecond): // polling the client's own state
		}
	}
	if err := c.Ready(); !strings.Contains(err.Error(), "nats:") {
		t.Errorf("Ready = %v", err)
	}
}

// The stream the ingester creates has limits: it cannot fill the disk.
func TestCreatedStreamHasRetention(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{})
	c, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{
		URL: ns.ClientURL(), Stream: "ZOOM_EVENTS", SubjectPrefix: "zoom", DuplicateWindow: time.Minute,
		MaxAge: 7 * 24 * time.Hour, MaxBytes: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	js, _ := jetstream.New(c.NATS())
	st, err := js.Stream(testnats.Timeout(t, 5*time.Second), "ZOOM_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	got := st.CachedInfo().Config
	if got.MaxAge != 7*24*time.Hour || got.MaxBytes != 1<<30 || got.Replicas != 1 || got.Discard != jetstream.DiscardOld || natsout.Unbounded(got) {
		t.Errorf("created stream: max_age %s, max_bytes %d, replicas %d, discard %v", got.MaxAge, got.MaxBytes, got.Replicas, got.Discard)
	}
}

// Refusals for good come back as *ingest.RefusedError, per message, and the
// rest of the batch is acknowledged.
func TestRefusals(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{MaxPayload: 4096})
	c, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{
		URL: ns.ClientURL(), Stream: "ZOOM_EVENTS", SubjectPrefix: "zoom", DuplicateWindow: time.Minute, MaxAge: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	js, _ := jetstream.New(c.NATS())
	// One subject holds one message and refuses more (DiscardNew).
	if _, err := js.UpdateStream(testnats.Timeout(t, 5*time.Second), jetstream.StreamConfig{
		Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}, Duplicates: time.Minute, MaxAge: time.Hour,
		MaxMsgsPerSubject: 1, Discard: jetstream.DiscardNew, DiscardNewPerSubject: true,
	}); err != nil {
		t.Fatal(err)
	}
	big := msg("zoom.acct.cc.task.big", "big")
	big.Data = make([]byte, 8192)
	msgs := []*events.Message{
		msg("zoom.acct.cc.task.created", "1"),
		msg("zoom.acct.cc.task.created", "2"), // the subject is full
		big,                                   // over max_payload
		msg("zoom."+strings.Repeat("x", 3000)+".cc", "long"),
		msg("zoom.acct.cc.task.ended", "3"),
	}
	errs := make([]error, len(msgs))
	c.Publish(testnats.Timeout(t, 10*time.Second), msgs, errs)
	for i, want := range []struct {
		refused, tooLarge bool
		text              string
	}{{}, {true, false, "maximum messages per subject exceeded"}, {true, true, "max_payload of 4096"}, {true, false, "subject of"}, {}} {
		var ref *ingest.RefusedError
		isRef := errors.As(errs[i], &ref)
		switch {
		case !want.refused && errs[i] != nil, want.refused && !isRef:
			t.Errorf("message %d: %v, want refused %v", i, errs[i], want.refused)
		case isRef && (ref.TooLarge != want.tooLarge || !strings.Contains(ref.Error(), want.text)):
			t.Errorf("message %d: %v (too large %v), want %q", i, ref, ref.TooLarge, want.text)
		}
	}
	if err := c.Ready(); err != nil {
		t.Errorf("Ready = %v after the refusals", err)
	}
}

// A publish the server drops for lack of permission is never acknowledged;
// the server's error names the subject, and the message comes back refused
// instead of being retried for ever.
func TestPermissionDeniedIsRefused(t *testing.T) {
	ns := testnats.Start(t, testnats.Options{Edit: func(o *server.Options) {
		o.Users = []*server.User{{Username: "ingest", Password: "pw", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"zoom.acct.cc.task.>"}},
		}}}
	}})
	c, err := natsout.Connect(testnats.Timeout(t, 10*time.Second), natsout.Options{
		URL: ns.ClientURL(), User: "ingest", Password: "pw", Stream: "ZOOM_EVENTS", SubjectPrefix: "zoom", DuplicateWindow: time.Minute, MaxAge: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs := []*events.Message{msg("zoom.acct.cc.task.created", "denied"), msg("zoom.acct.cc.engagement.started", "allowed")}
	errs := make([]error, 2)
	c.Publish(testnats.Timeout(t, 20*time.Second), msgs, errs)
	var ref *ingest.RefusedError
	if !errors.As(errs[0], &ref) || !strings.Contains(ref.Error(), "Permissions Violation") {
		t.Errorf("denied subject: %v, want refused for the permission", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("allowed subject: %v", errs[1])
	}
}
