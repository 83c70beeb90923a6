// Package ingest holds every subscription's WebSocket, decodes what Zoom
// sends with package events, and publishes the normalized messages to NATS,
// holding them in a bounded buffer while NATS is away.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/session"
)

// inProcessWindow bounds the in-process de-duplication: the subscriptions
// of one app carry an event within moments of each other, and a longer
// window would only cost memory at high rates. A JetStream stream
// de-duplicates over the whole nats.duplicate_window besides.
const inProcessWindow = 30 * time.Second

// DrainTimeout bounds how long shutdown waits for NATS to acknowledge what
// was received.
const DrainTimeout = 30 * time.Second

// An Ingester is the service of 'zccingest run'.
type Ingester struct {
	cfg     *config.Config
	nc      *nats.Conn
	js      jetstream.JetStream
	tokens  *session.Source
	log     zerolog.Logger
	m       *metrics
	reg     *prometheus.Registry
	queue   chan item
	seen    *seen
	capture *capture.Writer

	stopPublisher context.CancelFunc
	pubDone       chan struct{}
	drainTimeout  time.Duration
	lost          int // events the publisher gave up on at the drain deadline; read after pubDone

	order sync.Mutex // journal and de-duplication in one order

	ws atomic.Pointer[zoomws.Client] // set by Run, for /readyz
}

// New prepares an ingester publishing on nc. With a stream configured it
// creates the stream if it is missing (see ensureStream). tokens may be nil
// for replay, which opens no subscription.
func New(ctx context.Context, cfg *config.Config, nc *nats.Conn, tokens *session.Source, log zerolog.Logger) (*Ingester, error) {
	in := &Ingester{
		cfg: cfg, nc: nc, tokens: tokens, log: log,
		reg:   prometheus.NewRegistry(),
		queue: make(chan item, cfg.NATS.BufferEvents),
		seen:  newSeen(min(cfg.NATS.DuplicateWindow.D(), inProcessWindow)),

		drainTimeout: DrainTimeout,
	}
	in.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in.m = newMetrics(in.reg, func() float64 { return float64(len(in.queue)) })
	if cfg.NATS.StreamName() != "" {
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second), jetstream.WithPublishAsyncMaxPending(2*maxBatch))
		if err != nil {
			return nil, fmt.Errorf("ingest: jetstream: %w", err)
		}
		in.js = js
		// NATS may be down at start-up; Zoom's events are read and held
		// all the same, and the publisher creates the stream when it can.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = in.ensureStream(sctx)
		cancel()
		if err != nil {
			log.Warn().Err(err).Msg("stream not ready yet; events are held until it is")
		}
	}
	if cfg.Capture.Dir != "" {
		w, err := capture.NewWriter(cfg.Capture.Dir, int64(cfg.Capture.MaxFileSize))
		if err != nil {
			return nil, err
		}
		in.capture = w
	}
	return in, nil
}

// Registry holds the ingester's metrics.
func (in *Ingester) Registry() *prometheus.Registry { return in.reg }

// Run holds every subscription until ctx is done, then stops reading,
// closes the sockets normally, and waits (up to DrainTimeout) until NATS has
// acknowledged every event received.
func (in *Ingester) Run(ctx context.Context) error {
	if in.tokens == nil {
		return errors.New("ingest: Run needs a token source")
	}
	in.Start()
	var subs []zoomws.Subscription
	for _, sc := range in.cfg.Subscriptions {
		subs = append(subs, zoomws.Subscription{Name: sc.Name, ID: sc.ID})
	}
	ws, err := zoomws.New(zoomws.Options{
		Subscriptions:     subs,
		WebSocketURL:      in.cfg.Zoom.WebSocketURL,
		HeartbeatInterval: in.cfg.Zoom.HeartbeatInterval.D(),
		HeartbeatTimeout:  in.cfg.Zoom.HeartbeatTimeout.D(),
		Tokens:            in.tokens,
		Handle:            func(sub string, frame []byte, received time.Time) { in.Handle(sub, frame, received) },
		Logger:            in.log,
		Registerer:        in.reg,
	})
	if err != nil {
		return errors.Join(err, in.Drain())
	}
	in.ws.Store(ws)
	done := make(chan struct{})
	go func() { ws.Run(ctx); close(done) }()
	<-ctx.Done()
	in.log.Info().Msg("stopping: closing subscriptions")
	<-done
	return in.Drain()
}

// Start starts publishing what Handle buffers. Run calls it; replay calls
// it before handing frames to Handle.
func (in *Ingester) Start() {
	stop, cancel := context.WithCancel(context.Background())
	in.stopPublisher = cancel
	in.pubDone = make(chan struct{})
	p := &publisher{nc: in.nc, js: in.js, ensure: in.ensureStream, queue: in.queue, log: in.log, m: in.m, maxWait: 2 * time.Second,
		invalid: events.InvalidSubject(in.cfg.NATS.SubjectPrefix)}
	go func() {
		defer close(in.pubDone)
		in.lost = p.run(stop)
	}()
	if in.capture != nil {
		// A crash loses at most a second of the journal.
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					if err := in.capture.Flush(); err != nil {
						in.log.Error().Err(err).Msg("capture flush failed")
					}
				case <-in.pubDone:
					return
				}
			}
		}()
	}
}

// Drain closes the buffer to new frames and waits, up to DrainTimeout,
// until NATS has acknowledged everything in it; what is still not
// acknowledged then is lost, and Drain says how many. Handle must not be
// called after Drain.
func (in *Ingester) Drain() error {
	close(in.queue)
	in.log.Info().Int("buffered", len(in.queue)).Msg("stopping: publishing what was received")
	t := time.AfterFunc(in.drainTimeout, in.stopPublisher)
	<-in.pubDone
	t.Stop()
	in.stopPublisher()
	var err error
	if in.lost > 0 {
		// An exit status that says so: a supervisor's log should show it.
		err = fmt.Errorf("ingest: %d events not acknowledged by NATS within the drain timeout (%s) are lost", in.lost, in.drainTimeout)
	}
	if in.capture != nil {
		err = errors.Join(err, in.capture.Close())
	}
	in.log.Info().Msg("stopped")
	return err
}

// ensureStream creates the stream if it is missing. A stream that exists
// keeps the operator's settings (retention, replicas, limits); only the
// subjects it lacks and the duplicate window are brought in line, or the
// pair's copies would not be de-duplicated.
func (in *Ingester) ensureStream(ctx context.Context) error {
	name := in.cfg.NATS.StreamName()
	subject := in.cfg.NATS.SubjectPrefix + ".>"
	s, err := in.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = in.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:       name,
			Subjects:   []string{subject},
			Duplicates: in.cfg.NATS.DuplicateWindow.D(),
			Storage:    jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil // the pair's other node created it first
		}
		if err != nil {
			return fmt.Errorf("ingest: creating stream %s: %w", name, err)
		}
		in.log.Info().Str("stream", name).Str("subjects", subject).Msg("JetStream stream created")
		return nil
	}
	if err != nil {
		return fmt.Errorf("ingest: looking up stream %s: %w", name, err)
	}
	cfg, changes := StreamUpdate(s.CachedInfo().Config, in.cfg.NATS)
	if len(changes) == 0 {
		return nil
	}
	if _, err := in.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("ingest: stream %s: %s: %w", name, strings.Join(changes, ", "), err)
	}
	in.log.Info().Str("stream", name).Strs("changes", changes).Msg("JetStream stream updated")
	return nil
}

// StreamUpdate returns an existing stream's config as ensureStream leaves
// it, and what that changes: only the subject the ingester publishes on,
// unless one of the stream's subjects covers it, and the duplicate window.
// No changes means the stream is fine as it is.
func StreamUpdate(have jetstream.StreamConfig, n config.NATS) (jetstream.StreamConfig, []string) {
	subject := n.SubjectPrefix + ".>"
	var changes []string
	if !slices.ContainsFunc(have.Subjects, func(s string) bool { return server.SubjectMatchesFilter(subject, s) }) {
		have.Subjects = append(slices.Clip(have.Subjects), subject)
		changes = append(changes, "add subject "+subject)
	}
	if w := n.DuplicateWindow.D(); have.Duplicates != w {
		changes = append(changes, fmt.Sprintf("set duplicate window %s (was %s)", w, have.Duplicates))
		have.Duplicates = w
	}
	return have, changes
}

// An Outcome says what Handle did with a frame.
type Outcome int

const (
	Published Outcome = iota // buffered for NATS
	Control                  // build_connection or a heartbeat reply: nothing to publish
	Invalid                  // buffered for the invalid subject
	Duplicate                // already received on another subscription
	Dropped                  // lost: the buffer was full
)

// Handle takes one frame as received on the named subscription: decode it,
// journal it, de-duplicate it and buffer it for NATS. Nothing here blocks on
// NATS. Handle does not keep frame.
func (in *Ingester) Handle(sub string, frame []byte, received time.Time) Outcome {
	msg, out := in.decode(sub, frame, received)
	// Journal and keep in one order, so that a replay of the journal makes
	// the same de-duplication choices as the live run did.
	in.order.Lock()
	defer in.order.Unlock()
	if in.capture != nil {
		if err := in.capture.Write(received, sub, frame); err != nil {
			in.log.Error().Err(err).Msg("capture failed")
		}
	}
	if msg == nil {
		return out
	}
	kept := in.keep(msg, received)
	if kept == Published {
		return out
	}
	return kept
}

// decode turns a frame into its message: the event's, or the invalid
// subject's. It returns a nil message for frames that publish nothing.
func (in *Ingester) decode(sub string, frame []byte, received time.Time) (msg *nats.Msg, out Outcome) {
	defer func() {
		// A decoder bug on some frame must not take every subscription
		// down with it: the frame goes to the invalid subject instead.
		if r := recover(); r != nil {
			in.log.Error().Str("subscription", sub).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("decoder panic")
			msg, out = in.invalid(sub, frame, fmt.Errorf("ingest: decoder panic: %v", r)), Invalid
		}
	}()
	f, err := events.ParseFrame(frame)
	if err != nil {
		in.m.frames.WithLabelValues(sub, "invalid").Inc()
		return in.invalid(sub, frame, err), Invalid
	}
	in.m.counter(in.m.frames, sub, f.Module).Inc()
	switch f.Module {
	case events.ModuleHeartbeat, events.ModuleBuildConnection:
		return nil, Control
	case events.ModuleMessage:
	default:
		return in.invalid(sub, frame, fmt.Errorf("events: frame: unexpected module %q", f.Module)), Invalid
	}
	ev, err := f.Event()
	if err != nil {
		return in.invalid(sub, frame, err), Invalid
	}
	msg, err = ev.Message(in.cfg.NATS.SubjectPrefix, sub, received)
	if err != nil {
		return in.invalid(sub, frame, err), Invalid
	}
	in.m.counter(in.m.events, sub, ev.Name).Inc()
	if !ev.Known() {
		in.m.unknown.WithLabelValues(sub).Inc()
	}
	in.m.lag(sub).Observe(received.Sub(time.UnixMilli(ev.TS)).Seconds())
	return msg, Published
}

// keep buffers msg unless another copy was kept already: from another
// subscription, or from the same subscription's second connection while a
// make-before-break reconnect holds two open.
func (in *Ingester) keep(msg *nats.Msg, received time.Time) Outcome {
	key := msg.Header.Get(events.HeaderMsgID)
	if !in.seen.add(key, received) {
		in.m.duplicates.Inc()
		return Duplicate
	}
	out := in.enqueue(msg, received)
	if out == Dropped {
		in.seen.forget(key) // another copy may yet be kept
	}
	return out
}

func (in *Ingester) invalid(sub string, frame []byte, err error) *nats.Msg {
	in.m.invalid.WithLabelValues(sub).Inc()
	reason := err.Error()
	if in.tokens != nil {
		reason = in.tokens.Redact(reason)
	}
	in.log.Warn().Str("subscription", sub).Str("error", reason).Int("bytes", len(frame)).Msg("invalid frame; published to the invalid subject")
	return events.InvalidMessage(in.cfg.NATS.SubjectPrefix, sub, bytes.Clone(frame), reason)
}

// enqueue never blocks: a full buffer drops the event, counted and logged.
func (in *Ingester) enqueue(msg *nats.Msg, received time.Time) Outcome {
	select {
	case in.queue <- item{msg: msg, received: received}:
		return Published
	default:
		in.m.dropped.WithLabelValues("buffer_full").Inc()
		in.log.Error().Str("subject", msg.Subject).Str("id", msg.Header.Get(events.HeaderMsgID)).Int("buffer", cap(in.queue)).
			Msg("event dropped: buffer full while NATS is unavailable (nats.buffer_events)")
		return Dropped
	}
}

// Handler serves /metrics, /healthz and /readyz.
func (in *Ingester) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttpHandler(in.reg))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		var problems []string
		if !in.nc.IsConnected() {
			problems = append(problems, "nats: "+in.nc.Status().String())
		}
		ws := in.ws.Load()
		for _, s := range in.cfg.Subscriptions {
			if ws == nil || !ws.Connected(s.Name) {
				problems = append(problems, "subscription "+s.Name+": not connected")
			}
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				fmt.Fprintln(w, p)
			}
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func promhttpHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
