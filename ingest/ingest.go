// Package ingest holds every subscription's WebSocket, decodes what Zoom
// sends with package events, and publishes the normalized messages to NATS,
// holding them in a bounded buffer while NATS is away.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/session"
)

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
}

// New prepares an ingester publishing on nc. With a stream configured it
// creates or updates the stream. tokens may be nil for replay, which opens
// no subscription.
func New(ctx context.Context, cfg *config.Config, nc *nats.Conn, tokens *session.Source, log zerolog.Logger) (*Ingester, error) {
	in := &Ingester{
		cfg: cfg, nc: nc, tokens: tokens, log: log,
		reg:   prometheus.NewRegistry(),
		queue: make(chan item, cfg.NATS.BufferEvents),
		seen:  newSeen(cfg.NATS.DuplicateWindow.D()),
	}
	in.m = newMetrics(in.reg, func() float64 { return float64(len(in.queue)) })
	if name := cfg.NATS.StreamName(); name != "" {
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second), jetstream.WithPublishAsyncMaxPending(2*maxBatch))
		if err != nil {
			return nil, fmt.Errorf("ingest: jetstream: %w", err)
		}
		_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:       name,
			Subjects:   []string{cfg.NATS.SubjectPrefix + ".>"},
			Duplicates: cfg.NATS.DuplicateWindow.D(),
			Storage:    jetstream.FileStorage,
		})
		if err != nil {
			return nil, fmt.Errorf("ingest: creating or updating stream %s: %w", name, err)
		}
		in.js = js
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
	pubDone := in.startPublisher()
	var wg sync.WaitGroup
	for _, sc := range in.cfg.Subscriptions {
		s := &subscription{
			cfg: sc, zoom: in.cfg.Zoom, tokens: in.tokens, m: in.m,
			log:    in.log.With().Str("subscription", sc.Name).Logger(),
			handle: in.Handle,
		}
		in.m.connected.WithLabelValues(sc.Name).Set(0)
		wg.Go(func() { s.run(ctx) })
	}
	<-ctx.Done()
	in.log.Info().Msg("stopping: closing subscriptions")
	wg.Wait()
	return in.drain(pubDone)
}

func (in *Ingester) startPublisher() (done <-chan struct{}) {
	stop, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	p := &publisher{nc: in.nc, js: in.js, queue: in.queue, log: in.log, m: in.m, maxWait: 2 * time.Second}
	go func() {
		p.run(stop)
		close(ch)
	}()
	in.stopPublisher = cancel
	return ch
}

// drain closes the buffer and waits for the publisher to empty it.
func (in *Ingester) drain(pubDone <-chan struct{}) error {
	close(in.queue)
	left := len(in.queue)
	in.log.Info().Int("buffered", left).Msg("stopping: publishing what was received")
	t := time.AfterFunc(DrainTimeout, in.stopPublisher)
	<-pubDone
	t.Stop()
	in.stopPublisher()
	var err error
	if in.capture != nil {
		err = in.capture.Close()
	}
	in.log.Info().Msg("stopped")
	return err
}

// Handle takes one frame as received on the named subscription: journal,
// decode, de-duplicate and buffer it for NATS. Nothing here blocks on NATS.
func (in *Ingester) Handle(sub string, frame []byte, received time.Time) {
	if in.capture != nil {
		if err := in.capture.Write(received, sub, frame); err != nil {
			in.log.Error().Err(err).Msg("capture failed")
		}
	}
	f, err := events.ParseFrame(frame)
	if err != nil {
		in.invalid(sub, frame, received, err)
		return
	}
	in.m.frames.WithLabelValues(sub, f.Module).Inc()
	switch f.Module {
	case events.ModuleHeartbeat:
		return
	case events.ModuleMessage:
	default:
		in.invalid(sub, frame, received, fmt.Errorf("events: frame: unexpected module %q", f.Module))
		return
	}
	ev, err := f.Event()
	if err != nil {
		in.invalid(sub, frame, received, err)
		return
	}
	msg, err := ev.Message(in.cfg.NATS.SubjectPrefix, sub, received)
	if err != nil {
		in.invalid(sub, frame, received, err)
		return
	}
	in.m.events.WithLabelValues(sub, ev.Name).Inc()
	if !ev.Known() {
		in.m.unknown.WithLabelValues(sub).Inc()
	}
	in.m.deliveryLag.WithLabelValues(sub).Observe(received.Sub(time.UnixMilli(ev.TS)).Seconds())
	key := msg.Header.Get(events.HeaderMsgID)
	if !in.seen.add(key, received) {
		in.m.duplicates.Inc()
		return
	}
	if !in.enqueue(msg, received) {
		in.seen.forget(key)
	}
}

func (in *Ingester) invalid(sub string, frame []byte, received time.Time, err error) {
	in.m.invalid.WithLabelValues(sub).Inc()
	reason := err.Error()
	if in.tokens != nil {
		reason = in.tokens.Redact(reason)
	}
	in.log.Warn().Str("subscription", sub).Str("error", reason).Int("bytes", len(frame)).Msg("invalid frame; published to the invalid subject")
	msg := events.InvalidMessage(in.cfg.NATS.SubjectPrefix, sub, frame, reason)
	key := msg.Header.Get(events.HeaderMsgID)
	if in.seen.add(key, received) && !in.enqueue(msg, received) {
		in.seen.forget(key)
	}
}

// enqueue never blocks: a full buffer drops the event, counted and logged.
func (in *Ingester) enqueue(msg *nats.Msg, received time.Time) bool {
	select {
	case in.queue <- item{msg: msg, received: received}:
		return true
	default:
		in.m.dropped.WithLabelValues("buffer_full").Inc()
		in.log.Error().Str("subject", msg.Subject).Str("id", msg.Header.Get(events.HeaderMsgID)).Int("buffer", cap(in.queue)).
			Msg("event dropped: buffer full while NATS is unavailable (nats.buffer_events)")
		return false
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
		for _, s := range in.cfg.Subscriptions {
			if !gaugeIs(in.m.connected.WithLabelValues(s.Name), 1) {
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

func gaugeIs(g prometheus.Gauge, v float64) bool {
	var m dto.Metric
	if g.Write(&m) != nil {
		return false
	}
	return m.GetGauge().GetValue() == v
}
