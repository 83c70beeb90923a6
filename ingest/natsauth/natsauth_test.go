package natsauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/ingest/natsauth"
)

func startServer(t *testing.T, creds *natsauth.Credentials) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true, Nkeys: creds.Users()})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func ctx(t *testing.T) context.Context { return ctxFor(t, 10*time.Second) }

// denied is the wait for a request the server drops for want of
// permission: it never answers, and an allowed request answers in
// milliseconds.
func denied(t *testing.T) context.Context { return ctxFor(t, time.Second) }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// connect connects with opts and returns the connection and a channel of
// the asynchronous errors (permission violations) the server sends it.
func connect(t *testing.T, s *server.Server, opts ...nats.Option) (*nats.Conn, chan error, error) {
	errs := make(chan error, 16)
	opts = append(opts, nats.NoReconnect(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, errs, err
}

func role(t *testing.T, dir, r string) nats.Option {
	o, err := natsauth.ClientOption(natsauth.SeedFile(dir, r))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// With the default config an anonymous client is refused; the consumer
// role reads events and the stream and can neither publish events nor
// delete or purge the stream; the publisher role publishes.
func TestRoles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "credentials")
	creds, err := natsauth.Ensure(dir, "zoom")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, creds)

	if _, _, err := connect(t, s); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("anonymous connect: %v, want an authorization violation", err)
	}

	internal, _, err := connect(t, s, creds.Internal())
	if err != nil {
		t.Fatal(err)
	}
	ijs, _ := jetstream.New(internal)
	if _, err := ijs.CreateStream(ctx(t), jetstream.StreamConfig{Name: "ZOOM_EVENTS", Subjects: []string{"zoom.>"}}); err != nil {
		t.Fatal(err)
	}

	cons, cerrs, err := connect(t, s, role(t, dir, natsauth.Consumer))
	if err != nil {
		t.Fatalf("consumer connect: %v", err)
	}
	live, err := cons.SubscribeSync("zoom.>")
	if err != nil {
		t.Fatal(err)
	}
	cons.Flush()
	if _, err := ijs.Publish(ctx(t), "zoom.acct.cc.engagement.user_answered", []byte(`{"real":1}`)); err != nil {
		t.Fatal(err)
	}
	if m, err := live.NextMsg(5 * time.Second); err != nil || string(m.Data) != `{"real":1}` {
		t.Fatalf("consumer did not receive the event: %v", err)
	}
	cjs, _ := jetstream.New(cons)
	c, err := cjs.CreateOrUpdateConsumer(ctx(t), "ZOOM_EVENTS", jetstream.ConsumerConfig{Durable: "cti-adapter"})
	if err != nil {
		t.Fatalf("consumer creating its consumer: %v", err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.Ack(); err != nil {
			t.Errorf("ack: %v", err)
		}
	}
	if _, err := cjs.Stream(ctx(t), "ZOOM_EVENTS"); err != nil {
		t.Errorf("consumer reading stream info: %v", err)
	}

	// The forgery of the probe: refused, and not stored.
	cons.Publish("zoom.acct.cc.engagement.user_answered", []byte(`{"forged":1}`))
	cons.Flush()
	select {
	case err := <-cerrs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("forged publish: %v, want a permissions violation", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a forged publish by the consumer role drew no permissions violation")
	}
	if err := cjs.DeleteStream(denied(t), "ZOOM_EVENTS"); err == nil {
		t.Error("the consumer role deleted the stream")
	}
	st, _ := ijs.Stream(ctx(t), "ZOOM_EVENTS")
	if _, err := cjs.CreateStream(denied(t), jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}}); err == nil {
		t.Error("the consumer role created a stream")
	}
	if info, _ := st.Info(ctx(t)); info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want the one real event", info.State.Msgs)
	}
	cstream, err := cjs.Stream(ctx(t), "ZOOM_EVENTS")
	if err == nil {
		if err := cstream.Purge(denied(t)); err == nil {
			t.Error("the consumer role purged the stream")
		}
	}

	pub, _, err := connect(t, s, role(t, dir, natsauth.Publisher))
	if err != nil {
		t.Fatalf("publisher connect: %v", err)
	}
	pjs, _ := jetstream.New(pub)
	if _, err := pjs.Publish(ctx(t), "zoom.acct.cc.task.created", []byte(`{}`)); err != nil {
		t.Errorf("publisher publishing an event: %v", err)
	}
	if err := pjs.DeleteStream(denied(t), "ZOOM_EVENTS"); err == nil {
		t.Error("the publisher role deleted the stream")
	}
}

// Seeds are made once, mode 0600 in a 0700 directory, and reused; a seed
// that others may read is refused.
func TestSeedFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "credentials")
	a, err := natsauth.Ensure(dir, "zoom")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %#o", st.Mode().Perm())
	}
	for _, r := range natsauth.Roles {
		st, err := os.Stat(natsauth.SeedFile(dir, r))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s seed: %v mode %v", r, err, st.Mode().Perm())
		}
	}
	b, err := natsauth.Ensure(dir, "zoom")
	if err != nil {
		t.Fatal(err)
	}
	for i := range natsauth.Roles {
		if a.Users()[i].Nkey != b.Users()[i].Nkey {
			t.Errorf("role %s got a new key on the second start", natsauth.Roles[i])
		}
	}
	if a.Users()[2].Nkey == b.Users()[2].Nkey {
		t.Error("the in-process key was reused; it is made at every start")
	}
	os.Chmod(natsauth.SeedFile(dir, natsauth.Consumer), 0o644)
	if _, err := natsauth.Ensure(dir, "zoom"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable seed: %v, want refused", err)
	}
}
