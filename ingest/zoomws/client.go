// Package zoomws holds Zoom's WebSocket event subscriptions: one socket per
// subscription, with heartbeats, a silence watchdog, reconnects and token
// refresh. It hands every frame it reads, as read, to the caller's Handler;
// decoding and publishing are the caller's.
package zoomws

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/session"
)

// A Handler takes one frame as received on the named subscription. It must
// not block on anything slower than memory: the socket waits for it. It must
// not keep frame.
type Handler func(sub string, frame []byte, received time.Time)

// A Subscription is one of the app's WebSocket event subscriptions.
type Subscription struct {
	Name string // ours: logs, metrics, the Zoom-Subscription header
	ID   string // Zoom's subscriptionId
}

// Options configure a Client.
type Options struct {
	Subscriptions     []Subscription
	WebSocketURL      string // wss://ws.zoom.us/ws
	HeartbeatInterval time.Duration
	// HeartbeatTimeout: a heartbeat with no reply, and no other frame,
	// within this long means the socket is dead; default 10 s.
	HeartbeatTimeout time.Duration
	// BuildTimeout bounds the wait for build_connection; default 5 s.
	BuildTimeout time.Duration
	// Tokens is refreshed in the background while Run runs.
	Tokens *session.Source
	Handle Handler
	// OnState, when set, is told when a built connection opens (at: when
	// build_connection succeeded) and when it ends (at: when the read
	// failed or the close frame arrived), with the reason it ended. During
	// a rotation the new connection opens before the old one ends, so a
	// subscription can have two open for a moment: count them. It is
	// called from the subscription's goroutines and must not block.
	OnState func(subscription string, open bool, at time.Time, reason string)
	Logger  zerolog.Logger
	// Registerer takes the connection metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// A Client holds every subscription of Options until its Run ends.
type Client struct {
	opts Options
	m    *metrics

	mu        sync.Mutex
	connected map[string]bool

	writeHB func(context.Context, *websocket.Conn) error // tests make it fail
}

// New returns a client; Run opens the sockets.
func New(opts Options) (*Client, error) {
	if opts.Tokens == nil || opts.Handle == nil {
		return nil, errors.New("zoomws: Options need Tokens and Handle")
	}
	if opts.HeartbeatInterval <= 0 {
		return nil, errors.New("zoomws: Options need a HeartbeatInterval")
	}
	if opts.HeartbeatTimeout <= 0 {
		opts.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if opts.BuildTimeout <= 0 {
		opts.BuildTimeout = DefaultBuildTimeout
	}
	c := &Client{opts: opts, m: newMetrics(opts.Registerer), connected: map[string]bool{}, writeHB: writeHeartbeat}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(opts.Tokens.Collector())
	}
	for _, s := range opts.Subscriptions {
		c.setConnected(s.Name, false)
	}
	return c, nil
}

// Run holds every subscription until ctx is done, then closes each socket
// normally once it has been quiet (see ShutdownQuiet) and returns when
// every socket is closed: after Run returns, Handle is not called again.
// While it runs, the token source is kept fresh, so that no reconnect
// waits for Zoom's token endpoint.
func (c *Client) Run(ctx context.Context) {
	kctx, stop := context.WithCancel(ctx)
	var keeper sync.WaitGroup
	keeper.Go(func() { c.opts.Tokens.KeepFresh(kctx) })
	defer func() { stop(); keeper.Wait() }()
	var wg sync.WaitGroup
	for i, sc := range c.opts.Subscriptions {
		s := &subscription{Subscription: sc, c: c, index: i, count: len(c.opts.Subscriptions),
			log: c.opts.Logger.With().Str("subscription", sc.Name).Logger()}
		wg.Go(func() { s.run(ctx) })
	}
	wg.Wait()
}

// Connected reports whether the named subscription has a built connection.
func (c *Client) Connected(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected[name]
}

func (c *Client) setConnected(name string, up bool) {
	c.mu.Lock()
	c.connected[name] = up
	c.mu.Unlock()
	v := 0.0
	if up {
		v = 1
	}
	c.m.connected.WithLabelValues(name).Set(v)
}

// metrics are the connection series.
type metrics struct {
	reconnects *prometheus.CounterVec // subscription, reason
	connected  *prometheus.GaugeVec   // subscription
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zccingest_reconnects_total", Help: "Connections lost and re-opened, by reason."}, []string{"subscription", "reason"}),
		connected:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zccingest_connected", Help: "1 while the subscription's WebSocket is open and built."}, []string{"subscription"}),
	}
	if reg != nil {
		reg.MustRegister(m.reconnects, m.connected)
	}
	return m
}
