package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// On a three-server NATS cluster with the stream at three replicas, the
// stream's leader is killed under load, then the server the ingester is
// connected to: every event read arrives exactly once.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster of three servers")
	}
	c := testnats.StartCluster(t, 3)
	e := newEnvNATS(t, sim.Options{Subscriptions: []string{"a"}}, c.Servers[0])
	cfg := e.configFor("ZOOM_EVENTS", "25s", "a")
	cfg.NATS.URL, cfg.NATS.Replicas = c.URLs(), 3
	in, stop := e.run(cfg)

	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	info := func() *jetstream.StreamInfo {
		t.Helper()
		var err error
		for ctx := timeout(t, 20*time.Second); ctx.Err() == nil; {
			var st jetstream.Stream
			if st, err = js.Stream(timeout(t, 2*time.Second), "ZOOM_EVENTS"); err == nil {
				var i *jetstream.StreamInfo
				if i, err = st.Info(timeout(t, 2*time.Second)); err == nil && i.Cluster != nil && i.Cluster.Leader != "" {
					return i
				}
			}
			time.Sleep(50 * time.Millisecond) // the cluster elects a leader in its own time
		}
		t.Fatalf("stream info: %v", err)
		return nil
	}
	if r := info().Config.Replicas; r != 3 {
		t.Fatalf("stream created with %d replicas, want 3", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	played := make(chan struct{})
	go func() {
		defer close(played)
		e.sim.Play(ctx, sim.NewGenerator(3, "acct", 50), 200, 0)
	}()
	sentAtLeast := func(n int) {
		t.Helper()
		deadline := timeout(t, 20*time.Second)
		for len(e.sim.Sent()) < n {
			if deadline.Err() != nil {
				t.Fatalf("only %d events sent", len(e.sim.Sent()))
			}
			e.sim.WaitHeartbeats(timeout(t, 50*time.Millisecond), "a", 1<<30) // wakes on every frame sent
		}
	}

	sentAtLeast(200)
	leader := c.Named(info().Cluster.Leader)
	t.Logf("killing the stream leader %s", c.Servers[leader].Name())
	c.Stop(leader)
	sentAtLeast(600)
	c.Restart(leader)
	// The server the ingester is connected to: the one with its connection.
	connected := -1
	for i, s := range c.Servers {
		if s == nil {
			continue
		}
		cz, _ := s.Connz(&server.ConnzOptions{})
		for _, ci := range cz.Conns {
			if ci.Name == "test-ingester" {
				connected = i
			}
		}
	}
	if connected < 0 {
		t.Fatal("the ingester is connected to no server")
	}
	// Wait for the restarted server to catch up: the stream must keep
	// its quorum when the next one goes.
	for ctx := timeout(t, 20*time.Second); ; {
		i := info()
		current := 0
		for _, r := range i.Cluster.Replicas {
			if r.Current {
				current++
			}
		}
		if current == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the restarted server never caught up")
		}
		time.Sleep(50 * time.Millisecond) // the replica catches up in its own time
	}
	sentAtLeast(900)
	t.Logf("killing %s, which the ingester is connected to", c.Servers[connected].Name())
	c.Stop(connected)
	sentAtLeast(1300)
	cancel()
	<-played
	stop() // drains: every event read is acknowledged

	read := counter(t, in, "zccingest_events_total")
	delivered := 0
	for _, r := range e.sim.Sent() {
		delivered += r.Delivered
	}
	got := info().State.Msgs
	t.Logf("socket-accepted %d, read %d, in the stream %d", delivered, read, got)
	if int(got) != read || read != delivered {
		t.Errorf("read %d of %d delivered events, the stream holds %d: each must be there exactly once", read, delivered, got)
	}
}
