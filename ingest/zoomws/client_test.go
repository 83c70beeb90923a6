package zoomws

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/session"
	"github.com/zccingest/zccingest/test/sim"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a simulator and a client holding its subscriptions.
type rig struct {
	sim    *sim.Server
	client *Client
	tokens *session.Source
	logs   *syncBuffer
	frames atomic.Int64
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newRig starts a simulator serving subs; tune adjusts the client's options
// before it starts; the client runs until the test ends.
func newRig(t *testing.T, so sim.Options, subs []string, tune func(*Options, *Client)) *rig {
	t.Helper()
	if so.Subscriptions == nil {
		so.Subscriptions = subs
	}
	s := sim.New(so)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	o := s.Options()
	r := &rig{sim: s, logs: &syncBuffer{}}
	log := zerolog.New(r.logs).Level(zerolog.DebugLevel)
	r.tokens = session.NewServerToServer(session.ServerToServer{
		AccountID: o.AccountID, ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: s.TokenURL(),
	}, session.Options{Logger: log, TransientBackoff: 50 * time.Millisecond, CredentialBackoff: 50 * time.Millisecond})
	opts := Options{
		WebSocketURL: s.WebSocketURL(), HeartbeatInterval: 25 * time.Second, Tokens: r.tokens, Logger: log,
		Registerer: prometheus.NewRegistry(),
		Handle:     func(string, []byte, time.Time) { r.frames.Add(1) },
	}
	for _, id := range subs {
		opts.Subscriptions = append(opts.Subscriptions, Subscription{Name: "ris-" + id, ID: id})
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&c.opts, c)
	}
	r.client = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if logs := r.logs.String(); strings.Contains(logs, "sim-access-") || strings.Contains(logs, o.ClientSecret) {
			t.Errorf("logs hold a secret:\n%s", logs)
		}
	})
	return r
}

// until waits, up to 10 s, for cond; the simulator's change notifications
// (or 50 ms) pace the checks.
func (r *rig) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := ctxT(t, 10*time.Second)
	for !cond() {
		if r.sim.WaitHeartbeats(ctxT(t, 50*time.Millisecond), "", 1<<30); deadline.Err() != nil {
			t.Fatalf("no %s within 10 s\n%s", what, r.logs.String())
		}
	}
}

func (r *rig) reconnects(sub, reason string) float64 {
	return testutil.ToFloat64(r.client.m.reconnects.WithLabelValues("ris-"+sub, reason))
}

// Finding 10: a heartbeat every interval, measured from the last one sent:
// never the 1.5 intervals a half-interval ticker gives.
func TestHeartbeatEveryInterval(t *testing.T) {
	const hb = 300 * time.Millisecond
	r := newRig(t, sim.Options{}, []string{"a"}, func(o *Options, _ *Client) { o.HeartbeatInterval = hb })
	if err := r.sim.WaitHeartbeats(ctxT(t, 10*time.Second), "a", 8); err != nil {
		t.Fatal(err)
	}
	beats := r.sim.Heartbeats("a")
	var gaps []time.Duration
	for i := 1; i < len(beats); i++ {
		gap := beats[i].Sub(beats[i-1])
		if gap < hb-20*time.Millisecond {
			t.Errorf("heartbeat %d came %s after the one before, want %s", i+1, gap, hb)
		}
		gaps = append(gaps, gap)
	}
	// Drift of 1.5 intervals makes every other gap long: three of seven.
	// A goroutine starved under -race may make one or two long: the two
	// longest are let go.
	slices.Sort(gaps)
	if g := gaps[len(gaps)-3]; g > hb*5/4 {
		t.Errorf("heartbeats %v apart, want %s: they drift", gaps, hb)
	}
}

// Finding 5: a heartbeat that cannot be written closes the connection (the
// watchdog must not end with the heartbeat), and the subscription
// reconnects.
func TestHeartbeatWriteFailureCloses(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	r := newRig(t, sim.Options{}, []string{"a"}, func(o *Options, c *Client) {
		o.HeartbeatInterval = 200 * time.Millisecond
		c.writeHB = func(ctx context.Context, ws *websocket.Conn) error {
			if fail.Load() {
				fail.Store(false) // the next connection's heartbeats go through
				return errors.New("write: broken pipe")
			}
			return writeHeartbeat(ctx, ws)
		}
	})
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 2); err != nil {
		t.Fatalf("no reconnect after a failed heartbeat write: %v\n%s", err, r.logs.String())
	}
	if n := r.reconnects("a", reasonHBWrite); n != 1 {
		t.Errorf("reconnects{reason=%s} = %v, want 1", reasonHBWrite, n)
	}
}

// Half-open faster: a heartbeat unanswered for HeartbeatTimeout, with no
// other frame, ends the connection, well before the two-interval backstop.
func TestHeartbeatTimeout(t *testing.T) {
	const hb, timeout = time.Second, 300 * time.Millisecond
	r := newRig(t, sim.Options{}, []string{"a"}, func(o *Options, _ *Client) {
		o.HeartbeatInterval, o.HeartbeatTimeout = hb, timeout
	})
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 1); err != nil {
		t.Fatal(err)
	}
	r.sim.SetSilent("a", true)
	start := time.Now()
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 2); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > hb+timeout+300*time.Millisecond {
		t.Errorf("half-open socket replaced after %s, want under %s", took, hb+timeout+300*time.Millisecond)
	}
	if n := r.reconnects("a", reasonHBTimeout); n != 1 {
		t.Errorf("reconnects{reason=%s} = %v, want 1\n%s", reasonHBTimeout, n, r.logs.String())
	}
}

// Finding 9: a socket that opens and withholds build_connection is given
// up after BuildTimeout, counted, and retried.
func TestBuildConnectionTimeout(t *testing.T) {
	r := newRig(t, sim.Options{}, []string{"a"}, func(o *Options, _ *Client) { o.BuildTimeout = 200 * time.Millisecond })
	r.sim.SetBuildDelay(30 * time.Second)
	r.sim.DropConnections("a") // if the first connection beat the delay
	deadline := ctxT(t, 10*time.Second)
	for r.reconnects("a", reasonBuildTimeout) < 1 {
		if err := r.sim.WaitHeartbeats(ctxT(t, 50*time.Millisecond), "a", 1<<30); deadline.Err() != nil {
			t.Fatalf("no build_connection timeout counted: %v\n%s", err, r.logs.String())
		}
	}
	r.sim.SetBuildDelay(0)
	start := time.Now()
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s after the endpoint healed", time.Since(start))
}

// Finding 4: a subscription Zoom refuses even with a fresh token does not
// drop the token the others share on every attempt; it backs off and
// says what is wrong.
func TestWrongSubscriptionKeepsTheSharedToken(t *testing.T) {
	r := newRig(t, sim.Options{Subscriptions: []string{"a"}}, []string{"a", "wrong"}, nil)
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 1); err != nil {
		t.Fatal(err)
	}
	deadline := ctxT(t, 20*time.Second)
	for r.sim.Attempts("wrong") < 6 {
		if r.sim.WaitHeartbeats(ctxT(t, 50*time.Millisecond), "a", 1<<30); deadline.Err() != nil {
			t.Fatalf("%d attempts on the wrong subscription", r.sim.Attempts("wrong"))
		}
	}
	// The first refusal drops the token once (it may have been the
	// token's fault); the refusal of the fresh one shows it was not.
	if n := r.sim.TokenRequests(); n > 2 {
		t.Errorf("%d token requests for %d attempts: the shared token was dropped again and again", n, r.sim.Attempts("wrong"))
	}
	if n := r.reconnects("wrong", reasonSubscription); n < 4 {
		t.Errorf("reconnects{reason=%s} = %v, want every attempt after the second", reasonSubscription, n)
	}
	logs := r.logs.String()
	if strings.Count(logs, "Zoom refused the subscription with a freshly fetched token") != 1 || !strings.Contains(logs, `"zoom_says":"subscription not found"`) {
		t.Errorf("want one error line saying the subscription was refused:\n%s", logs)
	}
	if r.sim.Builds("a") != 1 {
		t.Errorf("the good subscription reconnected %d times", r.sim.Builds("a")-1)
	}
}

// Finding 11: failures before any connection are not "connection lost",
// each further failed attempt is at debug, and durations read as
// durations.
func TestLogsSayWhatHappened(t *testing.T) {
	r := newRig(t, sim.Options{Subscriptions: []string{"a"}}, []string{"a"}, func(o *Options, _ *Client) { o.BuildTimeout = 100 * time.Millisecond })
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 1); err != nil {
		t.Fatal(err)
	}
	r.sim.SetBuildDelay(30 * time.Second)
	r.sim.DropConnections("a")
	deadline := ctxT(t, 10*time.Second)
	for r.reconnects("a", reasonBuildTimeout) < 3 {
		if r.sim.WaitHeartbeats(ctxT(t, 50*time.Millisecond), "a", 1<<30); deadline.Err() != nil {
			t.Fatalf("too few attempts:\n%s", r.logs.String())
		}
	}
	r.sim.SetBuildDelay(0)
	r.until(t, "reconnect", func() bool { return strings.Contains(r.logs.String(), `"down_for":"`) })
	logs := r.logs.String()
	for _, want := range []string{
		`"level":"warn","subscription":"ris-a","state":"disconnected","reason":"read_error"`,
		`"message":"connection lost; reconnecting at once"`,
		`"level":"warn","subscription":"ris-a","state":"disconnected","reason":"build_connection_timeout"`,
		`"message":"cannot connect; retrying"`,
		`"level":"debug","subscription":"ris-a","state":"disconnected","reason":"build_connection_timeout"`,
		`"down_for":"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, `"message":"cannot connect; retrying"`); n != 1 {
		t.Errorf("%d warn lines for one run of failed attempts, want 1", n)
	}
	if !regexp.MustCompile(`"retry_in":"[0-9.]+m?s"`).MatchString(logs) || strings.Contains(logs, "failed to get reader") && !strings.Contains(logs, `"error":"`) {
		t.Errorf("durations are not durations, or library text is not a field:\n%s", logs)
	}
}

func TestSettle(t *testing.T) {
	c := &Client{opts: Options{HeartbeatInterval: 25 * time.Second, Tokens: session.NewServerToServer(session.ServerToServer{}, session.Options{})}, m: newMetrics(nil)}
	s := &subscription{Subscription: Subscription{Name: "x"}, c: c, log: zerolog.Nop()}
	kick := connResult{reason: reasonClosed, built: true, byPeer: true, lived: 3 * time.Millisecond}
	// A kicked connection is not healthy: each one backs off further.
	var waits []time.Duration
	for range 4 {
		waits = append(waits, s.settle(kick))
	}
	// The first at once (a close by chance must not cost a backoff),
	// then a growing backoff.
	if waits[0] != 0 || waits[1] == 0 || s.failures != 3 || s.short != 4 {
		t.Errorf("kicked connections: waits %v, failures %d; want at once, then a growing backoff", waits, s.failures)
	}
	if testutil.ToFloat64(c.m.reconnects.WithLabelValues("x", reasonTakenOver)) != 3 {
		t.Errorf("taken_over counted %v times, want 3 (from the second)", testutil.ToFloat64(c.m.reconnects.WithLabelValues("x", reasonTakenOver)))
	}
	// Events within the first moments do not make it healthy either.
	if w := s.settle(connResult{reason: reasonClosed, built: true, byPeer: true, lived: 500 * time.Millisecond, frames: 5}); w == 0 {
		t.Errorf("a connection kicked after 500 ms with events reset the backoff")
	}
	// One that lived an interval is healthy; so is one that delivered
	// events for minHealthy.
	if w := s.settle(connResult{reason: reasonClosed, built: true, lived: 26 * time.Second}); w != 0 || s.failures != 0 || s.short != 0 {
		t.Errorf("a connection that lived an interval: wait %s failures %d", w, s.failures)
	}
	s.settle(kick)
	s.settle(kick)
	if w := s.settle(connResult{reason: reasonClosed, built: true, lived: 2 * time.Second, frames: 1}); w != 0 || s.failures != 0 {
		t.Errorf("a connection that delivered events for 2 s: wait %s failures %d", w, s.failures)
	}
	// A refused token: at once with a fresh one; refused again with the
	// fresh one: the subscription's fault, backing off.
	if w := s.settle(connResult{reason: reasonBuildFailed, token: "t1"}); w != 0 {
		t.Errorf("first refused token: wait %s, want none", w)
	}
	if w := s.settle(connResult{reason: reasonBuildFailed, token: "t2"}); w == 0 {
		t.Errorf("fresh token refused: no backoff")
	}
	if testutil.ToFloat64(c.m.reconnects.WithLabelValues("x", reasonSubscription)) != 1 {
		t.Errorf("subscription_rejected not counted")
	}
}

// The subscriptions of one process replace their connections at different
// moments ahead of the token's expiry, so that a pair's two are never down
// to a single connection together.
func TestRotationStaggered(t *testing.T) {
	const life = time.Hour
	seen := map[time.Duration]bool{}
	for i := range 10 {
		s := &subscription{index: i, count: 10}
		lead := s.rotateLead(life)
		// Ahead of expiry, after the refresh (5 minutes before), and each
		// subscription at its own moment.
		if lead < time.Minute || lead >= 5*time.Minute || seen[lead] {
			t.Errorf("subscription %d replaces its connection %s before expiry", i, lead)
		}
		seen[lead] = true
	}
}
