// Package ingest is the pipeline between Zoom's sockets and the outputs:
// it decodes each frame with package events, journals it, de-duplicates
// it, holds it in a bounded buffer and publishes it through a Sink.
//
// The socket side (subscriptions, heartbeats, reconnects) is package
// ingest/zoomws, a Source; the NATS side (connection, embedded server,
// stream, publisher) is package ingest/natsout, a Sink. Run (the service)
// and replay share the pipeline: Handle never blocks, for live sockets;
// HandleWait waits for room, for replay.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/ingest/wal"
)

// inProcessWindow bounds the in-process de-duplication: the subscriptions
// of one app carry an event within moments of each other, and a longer
// window would only cost memory at high rates. A JetStream stream
// de-duplicates over the whole nats.duplicate_window besides.
const inProcessWindow = 30 * time.Second

// DefaultDrainTimeout bounds how long Run's shutdown waits for the sink to
// acknowledge what was received.
const DefaultDrainTimeout = 30 * time.Second

// Subject limits: a token or subject longer than these goes to the invalid
// subject with the reason, before it could reach the server's
// max_control_line (which closes the connection).
const (
	MaxSubjectToken = 256
	MaxSubject      = 1024
)

// Options configure an Ingester.
type Options struct {
	Sink          Sink   // required
	SubjectPrefix string // required; the invalid subject is <prefix>.invalid
	// AccountID is the Zoom account of the app, for the events that carry
	// none (the flat contact_center.voice_rtms_* payloads): their subject's
	// account token, Zoom-Account-Id and body account_id. Empty leaves
	// them at "_" (an OAuth app's config names no account).
	AccountID string
	// Subscriptions are the names /readyz expects the Source connected.
	Subscriptions []string
	// Ready, when set, adds lines to /readyz after its verdict (the
	// coverage of the account); it does not change the status code.
	Ready func() []string

	BufferEvents int   // events held while the sink is away; default 100,000
	BufferBytes  int64 // and their bytes; default 512 MiB
	// DuplicateWindow bounds the in-process de-duplication (at most 30 s).
	DuplicateWindow time.Duration
	DrainTimeout    time.Duration // Run's shutdown deadline; default 30 s

	CaptureDir         string // journal every frame here; "" for none
	CaptureMaxFileSize int64  // default 64 MiB
	// Capture retention (capture.Options); 0: no bound.
	CaptureMaxAge       time.Duration
	CaptureMaxTotalSize int64

	// WAL, when set, writes every frame to publish to a write-ahead log
	// before it is buffered, and Run first publishes what a previous
	// process left there unacknowledged. Its Registerer and Logger are
	// the ingester's.
	WAL *wal.Options

	// Redact removes secrets from an error before it is logged or
	// published (the token source's; nil: none to remove).
	Redact func(string) string
	Logger zerolog.Logger
}

// A Source delivers frames to Handle until ctx is done: the sockets of
// package zoomws.
type Source interface {
	Run(ctx context.Context)
	Connected(subscription string) bool
}

// An Ingester is the pipeline of 'zccingest run' and 'zccingest replay'.
type Ingester struct {
	opts           Options
	sink           Sink
	log            zerolog.Logger
	m              *metrics
	reg            *prometheus.Registry
	buf            *buffer
	seen           *seen
	legs           *legs
	capture        *capture.Writer
	wal            *wal.Log
	invalidSubject string
	maxWait        time.Duration // longest pause between retries
	drops          dropLog
	dropped        atomic.Int64
	published      atomic.Int64

	stopPublisher context.CancelFunc
	pubDone       chan struct{}
	lost          int // events the publisher gave up on at the drain deadline; read after pubDone
	kept          int // of those, events left in the WAL for the next start; read after pubDone

	order sync.Mutex // journal and de-duplication in one order

	src Source // set by Run, for /readyz
	mu  sync.Mutex
}

// New prepares an ingester. Start (or Run) starts publishing.
func New(opts Options) (*Ingester, error) {
	if opts.Sink == nil || opts.SubjectPrefix == "" {
		return nil, errors.New("ingest: Options need a Sink and a SubjectPrefix")
	}
	opts.BufferEvents = cmpOr(opts.BufferEvents, 100_000)
	opts.BufferBytes = cmpOr(opts.BufferBytes, 512<<20)
	opts.DrainTimeout = cmpOr(opts.DrainTimeout, DefaultDrainTimeout)
	opts.CaptureMaxFileSize = cmpOr(opts.CaptureMaxFileSize, 64<<20)
	opts.DuplicateWindow = min(cmpOr(opts.DuplicateWindow, inProcessWindow), inProcessWindow)
	if opts.Redact == nil {
		opts.Redact = func(s string) string { return s }
	}
	in := &Ingester{
		opts: opts, sink: opts.Sink, log: opts.Logger,
		reg:            prometheus.NewRegistry(),
		buf:            newBuffer(opts.BufferEvents, opts.BufferBytes),
		seen:           newSeen(opts.DuplicateWindow),
		invalidSubject: events.InvalidSubject(opts.SubjectPrefix),
		maxWait:        2 * time.Second,
	}
	in.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in.m = newMetrics(in.reg, func() float64 { return float64(in.buf.depth()) })
	in.initLegs()
	if opts.CaptureDir != "" {
		w, err := capture.NewWriter(capture.Options{
			Dir: opts.CaptureDir, MaxFileSize: opts.CaptureMaxFileSize,
			MaxAge: opts.CaptureMaxAge, MaxTotalSize: opts.CaptureMaxTotalSize,
			Logger: opts.Logger.With().Str("component", "capture").Logger(), Registerer: in.reg,
		})
		if err != nil {
			return nil, err
		}
		in.capture = w
	}
	if opts.WAL != nil {
		o := *opts.WAL
		o.Registerer = in.reg
		o.Logger = opts.Logger.With().Str("component", "wal").Logger()
		l, err := wal.Open(o)
		if err != nil {
			if in.capture != nil {
				in.capture.Close()
			}
			return nil, err
		}
		in.wal = l
	}
	return in, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Registry holds the ingester's metrics; a Source registers its own there.
func (in *Ingester) Registry() *prometheus.Registry { return in.reg }

// Run publishes what src delivers until ctx is done, then waits for src to
// stop and drains, with Options.DrainTimeout as the deadline. With a WAL,
// what a previous process left unacknowledged is queued first, ahead of
// anything src delivers.
func (in *Ingester) Run(ctx context.Context, src Source) error {
	in.mu.Lock()
	in.src = src
	in.mu.Unlock()
	in.Start()
	if _, err := in.Recover(ctx); err != nil {
		in.log.Error().Err(err).Msg("publishing what the last process left in the write-ahead log")
		// Not released: the next start tries again. The sockets open
		// regardless: Zoom re-sends nothing.
	}
	src.Run(ctx)
	in.log.Info().Msg("stopping: subscriptions closed")
	dctx, cancel := context.WithTimeout(context.Background(), in.opts.DrainTimeout)
	defer cancel()
	return in.Drain(dctx)
}

// Start starts publishing what Handle buffers. Run calls it; replay calls
// it before handing frames to HandleWait.
func (in *Ingester) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	in.stopPublisher = cancel
	in.pubDone = make(chan struct{})
	go func() {
		defer close(in.pubDone)
		in.lost = in.publish(ctx)
	}()
}

// Drain closes the buffer to new frames and waits until the sink has
// acknowledged everything in it, or until ctx is done: what is not
// acknowledged then is lost, and Drain's error says how many. Handle must
// not be called after Drain.
func (in *Ingester) Drain(ctx context.Context) error {
	in.buf.close()
	in.log.Info().Int("buffered", in.buf.depth()).Msg("stopping: publishing what was received")
	select {
	case <-in.pubDone:
	case <-ctx.Done():
		in.stopPublisher()
		<-in.pubDone
	}
	in.stopPublisher()
	in.drops.flush(in.log)
	var err error
	if in.lost > 0 {
		// An exit status that says so: a supervisor's log should show it.
		err = fmt.Errorf("ingest: %d events not acknowledged by NATS within the drain deadline are lost", in.lost)
	}
	if in.kept > 0 {
		// Not lost, but not a clean drain either: a supervisor's log says so.
		err = errors.Join(err, fmt.Errorf("ingest: %d events not acknowledged by NATS within the drain deadline stay in the write-ahead log for the next start", in.kept))
	}
	if in.capture != nil {
		// The journal is the operator's copy: a failing one lost journal
		// lines, never events, and does not make the drain unclean.
		if cerr := in.capture.Close(); cerr != nil {
			in.log.Error().Err(cerr).Msg("capture journal closed with an error; events were not affected")
		}
	}
	if in.wal != nil {
		err = errors.Join(err, in.wal.Close())
	}
	in.log.Info().Msg("stopped")
	return err
}

// drop counts n events lost for reason.
func (in *Ingester) drop(reason string, n int) {
	in.m.dropped.WithLabelValues(reason).Add(float64(n))
	in.dropped.Add(int64(n))
}

// Dropped returns how many events were lost, for any reason
// (zccingest_dropped_total).
func (in *Ingester) Dropped() int64 { return in.dropped.Load() }

// Published returns how many messages the sink has acknowledged.
func (in *Ingester) Published() int64 { return in.published.Load() }

// Pending returns how many events wait for the sink, in flight included.
func (in *Ingester) Pending() int { return in.buf.depth() }

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
// journal it, de-duplicate it and buffer it. Nothing here waits for the
// sink: a full buffer drops the event, counted and logged. Handle does not
// keep frame.
func (in *Ingester) Handle(sub string, frame []byte, received time.Time) Outcome {
	out, _ := in.handle(nil, sub, frame, received)
	return out
}

// HandleWait is Handle waiting for room in the buffer as long as ctx
// allows: for replay, which has no live socket to protect. Its error is
// ctx's, with the frame not buffered.
func (in *Ingester) HandleWait(ctx context.Context, sub string, frame []byte, received time.Time) (Outcome, error) {
	return in.handle(ctx, sub, frame, received)
}

func (in *Ingester) handle(wait context.Context, sub string, frame []byte, received time.Time) (Outcome, error) {
	var seq uint64
	if in.wal != nil {
		// On disk before anything depends on it, even the decoder. A
		// failure is counted and logged by the log; the frame goes on, in
		// memory only.
		seq, _ = in.wal.Append(received, sub, frame)
	}
	msg, out := in.decode(sub, frame, received, true)
	// Journal and keep in one order, so that a replay of the journal makes
	// the same de-duplication choices as the live run did.
	in.order.Lock()
	defer in.order.Unlock()
	if in.capture != nil {
		in.capture.Write(received, sub, frame) // never waits for the disk
	}
	if msg == nil {
		in.release(seq)
		return out, nil
	}
	if !in.seen.add(msg.ID, in.legBit(sub), received) {
		in.release(seq)
		in.m.duplicates.Inc()
		return Duplicate, nil
	}
	it := item{msg: msg, received: received, size: sizeOf(msg), seq: seq}
	if wait != nil {
		if err := in.buf.putWait(wait, it); err != nil {
			in.seen.forget(msg.ID)
			in.release(it.seq)
			return Dropped, err
		}
		return out, nil
	}
	if reason := in.buf.put(it); reason != "" {
		in.seen.forget(msg.ID) // another copy may yet be kept
		in.release(it.seq)
		in.drop(reason, 1)
		in.drops.log(in.log, reason, msg, "", fmt.Sprintf("dropped: buffer full while NATS is unavailable (%d events, %d bytes: nats.buffer_events, nats.buffer_bytes)",
			in.opts.BufferEvents, in.opts.BufferBytes))
		return Dropped, nil
	}
	return out, nil
}

// release tells the WAL that seq is settled: acknowledged, or counted as
// dropped.
func (in *Ingester) release(seq uint64) {
	if in.wal != nil && seq != 0 {
		in.wal.Release(seq)
	}
}

// Recover queues what a previous process left unacknowledged in the WAL,
// in order, waiting for room in the buffer as long as ctx allows (the
// publisher must be started). It returns how many events it queued.
func (in *Ingester) Recover(ctx context.Context) (int, error) {
	if in.wal == nil {
		return 0, nil
	}
	n := 0
	err := in.wal.Replay(func(r wal.Record) error {
		msg, _ := in.decode(r.Subscription, r.Frame, r.Received, false)
		in.order.Lock()
		defer in.order.Unlock()
		if msg == nil || !in.seen.add(msg.ID, 0, r.Received) {
			in.wal.Release(r.Seq)
			return nil
		}
		if err := in.buf.putWait(ctx, item{msg: msg, received: r.Received, size: sizeOf(msg), seq: r.Seq}); err != nil {
			return fmt.Errorf("ingest: queueing the write-ahead log: %w", err)
		}
		n++
		return nil
	})
	if n > 0 || err != nil {
		in.log.Info().Int("events", n).Msg("publishing the events the last process left unacknowledged in the write-ahead log")
	}
	return n, err
}

// decode turns a frame into its message: the event's, or the invalid
// subject's. It returns a nil message for frames that publish nothing.
// Only a live frame counts in the per-frame metrics (frames, events,
// delivery lag): one read back from the WAL was counted by the process
// that read it off the socket.
func (in *Ingester) decode(sub string, frame []byte, received time.Time, live bool) (msg *events.Message, out Outcome) {
	defer func() {
		// A decoder bug on some frame must not take every subscription
		// down with it: the frame goes to the invalid subject instead.
		if r := recover(); r != nil {
			in.log.Error().Str("subscription", sub).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("decoder panic")
			msg, out = in.invalid(sub, frame, fmt.Errorf("ingest: decoder panic: %v", r)), Invalid
		}
	}()
	// The content is decoded into a pooled buffer: the message copies what
	// it needs, and nothing of the frame or event outlives decode.
	buf := contentPool.Get().(*[]byte)
	defer putContent(buf)
	f, err := events.ParseFrameBuffer(frame, *buf)
	if cap(f.Content) > cap(*buf) {
		*buf = f.Content // grown for a larger frame
	}
	if err != nil {
		if live {
			in.m.frames.WithLabelValues(sub, "invalid").Inc()
		}
		return in.invalid(sub, frame, err), Invalid
	}
	if live {
		in.m.counter(in.m.frames, sub, f.Module).Inc()
	}
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
	if ev.AccountID == "" {
		ev.AccountID = in.opts.AccountID // equal on both nodes: the key still matches
	}
	msg, err = ev.Message(in.opts.SubjectPrefix, sub, received)
	if err == nil {
		err = checkSubject(msg.Subject)
	}
	if err != nil {
		return in.invalid(sub, frame, err), Invalid
	}
	if !live {
		return msg, Published
	}
	// The event label comes from Zoom: only the names this version models
	// become series of their own.
	name := ev.Name
	if !ev.Known() {
		name = "unknown"
		in.m.unknown.WithLabelValues(sub).Inc()
	}
	in.m.counter(in.m.events, sub, name).Inc()
	in.m.lag(sub).Observe(received.Sub(time.UnixMilli(ev.TS)).Seconds())
	return msg, Published
}

// contentPool holds buffers for the decoded content of frames.
var contentPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledContent bounds the buffers kept: a frame may be megabytes.
const maxPooledContent = 64 << 10

func putContent(b *[]byte) {
	if cap(*b) <= maxPooledContent {
		contentPool.Put(b)
	}
}

// checkSubject refuses a subject a server could take badly: account ids
// and event names come from outside.
func checkSubject(s string) error {
	for tok := range strings.SplitSeq(s, ".") {
		if len(tok) > MaxSubjectToken {
			return fmt.Errorf("ingest: subject token of %d bytes (%.32q…) is longer than %d", len(tok), tok, MaxSubjectToken)
		}
	}
	if len(s) > MaxSubject {
		return fmt.Errorf("ingest: subject of %d bytes is longer than %d", len(s), MaxSubject)
	}
	return nil
}

func (in *Ingester) invalid(sub string, frame []byte, err error) *events.Message {
	in.m.invalid.WithLabelValues(sub).Inc()
	reason := in.opts.Redact(err.Error())
	in.log.Warn().Str("subscription", sub).Str("error", reason).Int("bytes", len(frame)).Msg("invalid frame; published to the invalid subject")
	return events.InvalidMessage(in.opts.SubjectPrefix, sub, bytes.Clone(frame), reason)
}

// Handler serves /metrics, /healthz and /readyz.
func (in *Ingester) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(in.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		var problems []string
		if err := in.sink.Ready(); err != nil {
			problems = append(problems, err.Error())
		}
		in.mu.Lock()
		src := in.src
		in.mu.Unlock()
		for _, s := range in.opts.Subscriptions {
			if src == nil || !src.Connected(s) {
				problems = append(problems, "subscription "+s+": not connected")
			}
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				fmt.Fprintln(w, p)
			}
			return
		}
		if in.wal != nil {
			if err := in.wal.Err(); err != nil {
				// Events still flow, but a crash would lose them.
				fmt.Fprintf(w, "ready, degraded: write-ahead log failing, events held in memory only: %v\n", err)
				return
			}
		}
		if in.capture != nil {
			if err := in.capture.Err(); err != nil {
				// Events still flow: degraded, not down.
				fmt.Fprintf(w, "ready, degraded: capture journal failing: %v\n", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
	if in.opts.Ready != nil {
		// The verdict above, then the extra lines: wrap the handler so
		// that every return path of it gets them.
		inner := mux
		mux = http.NewServeMux()
		mux.Handle("/", inner)
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r)
			for _, l := range in.opts.Ready() {
				fmt.Fprintln(w, l)
			}
		})
	}
	return mux
}
