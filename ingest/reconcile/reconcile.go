// Package reconcile rebuilds, from Zoom's Contact Center REST API, the
// events of a gap: an interval in which no subscription of an account was
// open, so that Zoom's WebSocket events of it are gone. Gaps come from the
// events stream (published by package coverage); each rebuilt event is
// published on the live event's subject, in the live message's shape,
// marked Zoom-Source: rest, with a key from its content; a summary per gap
// says what came back and what could not.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
)

// Defaults of Options.
const (
	DefaultBucket         = "ZOOM_RECONCILE"
	DefaultDurable        = "zccingest-reconcile"
	DefaultMargin         = 2 * time.Minute
	DefaultMaxGap         = 24 * time.Hour
	DefaultSettle         = time.Minute
	DefaultProcessingWait = 10 * time.Minute
	DefaultRetryInterval  = 30 * time.Second
	DefaultTolerance      = 2 * time.Second
	DefaultLeaseTTL       = time.Minute
	// DefaultAckWait is how soon a gap whose node died (kill -9, host
	// lost) is handed out again; a live node extends it every third of it.
	DefaultAckWait = 30 * time.Second
	// progressMaxAge is how long a gap's progress is kept: as long as the
	// events stream keeps the gap by default.
	progressMaxAge = 7 * 24 * time.Hour
	maxErrors      = 20 // summary errors kept per gap
)

// A Publisher publishes rebuilt events and summaries and waits for each
// acknowledgement, as ingest.Sink does: natsout.Conn, with JetStream
// acks. It is called from the reconciler's own goroutine, apart from the
// pipeline's buffer, so that live events never wait behind rebuilt ones.
type Publisher interface {
	Publish(ctx context.Context, msgs []*events.Message, errs []error)
}

// Options configure a Reconciler.
type Options struct {
	JS jetstream.JetStream
	// Conn, when set, returns the current connection (natsout.Conn.NATS):
	// when nats.go has closed one for good and another has replaced it,
	// the reconciler makes its JetStream context anew on the new one.
	// JS may then be nil.
	Conn          func() *nats.Conn
	Stream        string // the events stream, where gaps and events are
	SubjectPrefix string
	Publisher     Publisher
	REST          REST
	// AccountID, when set, is the only account whose gaps this node
	// rebuilds: its REST client reads that account. Another account's
	// gap is left to a node that has it.
	AccountID string
	// Node names this node in leases (coverage.node): a node restarted
	// under the same name takes its own lease back at once.
	Node     string
	Bucket   string // progress bucket; default ZOOM_RECONCILE
	Durable  string // the pair's shared durable consumer; default zccingest-reconcile
	Replicas int    // of the progress bucket; 0: 1

	Margin time.Duration // the gap widened by it on both sides for the queries; default 2m
	MaxGap time.Duration // a longer gap is not reconciled (summary says so); default 24h
	// Settle: Zoom lists an engagement only once it has processed it. The
	// first E1 query waits until Settle after the gap's end, and one begun
	// before 2×Settle after it is made again then, for engagements that
	// ended late in the gap. Default 1m; negative: no wait.
	Settle time.Duration
	// ProcessingWait bounds how long engagements that must exist (events
	// of them were received around the gap) are asked for again.
	ProcessingWait time.Duration
	RetryInterval  time.Duration // between such queries, and after a failed gap
	// Tolerance is how far a live event's event_ts may be from a rebuilt
	// one's for the two to be the same event (REST times are seconds).
	Tolerance time.Duration
	LeaseTTL  time.Duration
	AckWait   time.Duration

	Logger     zerolog.Logger
	Registerer prometheus.Registerer // zccingest_reconcile_*; nil: not registered
	Now        func() time.Time      // default time.Now
}

// A Reconciler consumes gaps and rebuilds them, one at a time.
type Reconciler struct {
	opts    Options
	log     zerolog.Logger
	metrics *metrics
	// js is the JetStream context in use, nc the connection it was made
	// on (with Options.Conn); only Run's goroutine uses them.
	js jetstream.JetStream
	nc *nats.Conn
}

// New checks opts and fills in the defaults.
func New(opts Options) (*Reconciler, error) {
	switch {
	case opts.JS == nil && opts.Conn == nil:
		return nil, errors.New("reconcile: Options.JS or Options.Conn is required")
	case opts.Stream == "":
		return nil, errors.New("reconcile: Options.Stream is required (reconciliation needs JetStream)")
	case opts.SubjectPrefix == "":
		return nil, errors.New("reconcile: Options.SubjectPrefix is required")
	case opts.Publisher == nil:
		return nil, errors.New("reconcile: Options.Publisher is required")
	case opts.REST == nil:
		return nil, errors.New("reconcile: Options.REST is required")
	case opts.Node == "":
		return nil, errors.New("reconcile: Options.Node is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Margin, DefaultMargin)
	def(&opts.MaxGap, DefaultMaxGap)
	def(&opts.ProcessingWait, DefaultProcessingWait)
	def(&opts.RetryInterval, DefaultRetryInterval)
	def(&opts.Tolerance, DefaultTolerance)
	def(&opts.LeaseTTL, DefaultLeaseTTL)
	def(&opts.AckWait, DefaultAckWait)
	switch {
	case opts.Settle == 0:
		opts.Settle = DefaultSettle
	case opts.Settle < 0:
		opts.Settle = 0
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.Durable == "" {
		opts.Durable = DefaultDurable
	}
	if opts.Replicas < 1 {
		opts.Replicas = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	return &Reconciler{opts: opts, log: opts.Logger.With().Str("component", "reconcile").Str("node", opts.Node).Logger(), metrics: m, js: opts.JS}, nil
}

// GapSubjects is the filter of the gaps consumed: every account's.
func GapSubjects(prefix string) string { return prefix + ".*.system." + events.SystemGap }

// Run consumes gaps until ctx ends. It waits for the stream and the
// bucket rather than fail while NATS is not there yet.
func (r *Reconciler) Run(ctx context.Context) error {
	var kv jetstream.KeyValue
	var cons jetstream.Consumer
	ready := func() bool {
		for {
			var err error
			if kv, cons, err = r.setup(ctx); err == nil {
				return true
			}
			r.log.Warn().Err(err).Msg("reconciliation not ready; trying again")
			if !sleep(ctx, r.opts.RetryInterval) {
				return false
			}
		}
	}
	if !ready() {
		return ctx.Err()
	}
	r.log.Info().Str("durable", r.opts.Durable).Str("bucket", r.opts.Bucket).Msg("reconciling gaps")
	for ctx.Err() == nil {
		if r.opts.Conn != nil && r.opts.Conn() != r.nc {
			r.log.Info().Msg("NATS connection replaced; reconciling on the new one")
			if !ready() {
				break
			}
		}
		fctx, cancel := context.WithTimeout(ctx, fetchWait)
		batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Msg("fetching gaps")
				sleep(ctx, time.Second)
			}
			continue
		}
		for m := range batch.Messages() {
			r.handle(ctx, kv, m)
		}
		cancel()
	}
	return ctx.Err()
}

func (r *Reconciler) setup(ctx context.Context) (jetstream.KeyValue, jetstream.Consumer, error) {
	if r.opts.Conn != nil {
		nc := r.opts.Conn()
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, nil, fmt.Errorf("reconcile: JetStream: %w", err)
		}
		r.js, r.nc = js, nc
	}
	kv, err := r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: r.opts.Bucket, Description: "zccingest: progress of gap reconciliation, <account>.<gap id>",
		History: 1, TTL: progressMaxAge, Replicas: r.opts.Replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile: progress bucket %s: %w", r.opts.Bucket, err)
	}
	cons, err := r.js.CreateOrUpdateConsumer(ctx, r.opts.Stream, jetstream.ConsumerConfig{
		Durable: r.opts.Durable, Description: "zccingest: gaps to reconcile from Zoom's REST API",
		FilterSubject: GapSubjects(r.opts.SubjectPrefix),
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: r.opts.AckWait, MaxDeliver: -1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reconcile: consumer %s on stream %s: %w", r.opts.Durable, r.opts.Stream, err)
	}
	return kv, cons, nil
}

// progressKey is the gap's key in the bucket: <account>.<gap id>, each a
// token of the characters a key allows.
func progressKey(account, gapID string) string { return keyToken(account) + "." + keyToken(gapID) }

func keyToken(s string) string { return events.KeyToken(s, 200) }

// Bounds of a gap message's fields: they become subjects, keys, headers
// and waits.
const (
	maxAccount = 128
	maxGapID   = 256
	maxSkew    = 5 * time.Minute // a gap may end this far ahead of this node's clock
	// otherAccountDelay: another account's gap comes back this late.
	otherAccountDelay = 10 * time.Minute
)

func validGap(g *events.Gap, now time.Time) bool {
	return g.AccountID != "" && len(g.AccountID) <= maxAccount && g.ID != "" && len(g.ID) <= maxGapID &&
		g.From > 0 && g.To >= g.From && g.To <= now.Add(maxSkew).UnixMilli()
}

// handle reconciles one gap message: acked when done (or skipped), left
// for later (nak with a delay) when another node holds it or it failed.
func (r *Reconciler) handle(ctx context.Context, kv jetstream.KeyValue, m jetstream.Msg) {
	var g events.Gap
	if err := json.Unmarshal(m.Data(), &g); err != nil || !validGap(&g, r.opts.Now()) {
		r.log.Error().Err(err).Str("subject", m.Subject()).Msg("not a gap message (or one ending in the future); dropped from reconciliation")
		_ = m.Term()
		return
	}
	log := r.log.With().Str("gap", g.ID).Str("account", g.AccountID).Logger()
	if r.opts.AccountID != "" && g.AccountID != r.opts.AccountID {
		log.Debug().Msg("another account's gap; left to its nodes")
		_ = m.NakWithDelay(otherAccountDelay)
		return
	}
	c, err := take(ctx, kv, progressKey(g.AccountID, g.ID), r.opts.Node, r.opts.LeaseTTL, r.opts.Now)
	var busy *errBusy
	switch {
	case errors.As(err, &busy):
		log.Debug().Time("until", busy.until).Msg("gap held by another node")
		_ = m.NakWithDelay(max(busy.until.Sub(r.opts.Now()), time.Second) + jitter(time.Second))
		return
	case err != nil:
		log.Warn().Err(err).Msg("gap not claimed; trying again later")
		_ = m.NakWithDelay(r.retryDelay(m))
		return
	case c.snapshot().Done:
		_ = m.Ack()
		return
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hb := make(chan struct{})
	go func() { defer close(hb); r.heartbeat(wctx, cancel, c, m) }()
	err = r.reconcile(wctx, log, &g, c)
	cancel(nil)
	<-hb
	if err == nil {
		_ = m.Ack()
		return
	}
	if cause := context.Cause(wctx); errors.Is(cause, errLost) {
		err = cause
	}
	// Released so that the pair's other node may go on at once.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if !errors.Is(err, errLost) {
		if rerr := c.release(rctx); rerr != nil {
			log.Debug().Err(rerr).Msg("lease not released; it lapses")
		}
	}
	rcancel()
	if ctx.Err() != nil {
		log.Info().Msg("stopped in the middle of a gap; its progress is kept")
		_ = m.Nak()
		return
	}
	r.metrics.gaps.WithLabelValues(gapRetried).Inc()
	log.Warn().Err(err).Msg("gap not reconciled; trying again later")
	_ = m.NakWithDelay(r.retryDelay(m))
}

// retryDelay is how long a failed gap waits: RetryInterval, doubled with
// each delivery up to maxRetryDelay, so that a lasting failure (a scope
// missing, Zoom down) is not asked about every half minute.
func (r *Reconciler) retryDelay(m jetstream.Msg) time.Duration {
	n := uint64(1)
	if md, err := m.Metadata(); err == nil && md.NumDelivered > 0 {
		n = md.NumDelivered
	}
	d := r.opts.RetryInterval
	for i := uint64(1); i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

const maxRetryDelay = 30 * time.Minute

// fetchWait is how long one pull for gaps waits: also how late a replaced
// connection is noticed while no gap comes.
const fetchWait = 5 * time.Second

// heartbeat keeps the gap message from redelivery and the lease alive
// while the gap is worked on; it cancels the work if the lease is lost.
func (r *Reconciler) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, c *claim, m jetstream.Msg) {
	every := min(r.opts.AckWait, r.opts.LeaseTTL) / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = m.InProgress()
		if err := c.update(ctx, nil); err != nil {
			if errors.Is(err, errLost) {
				cancel(errLost)
				return
			}
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Msg("renewing the gap's lease")
			}
		}
	}
}

// gapRun is one reconciliation of a gap.
type gapRun struct {
	r       *Reconciler
	log     zerolog.Logger
	g       *events.Gap
	c       *claim
	recv    *received
	lo, hi  int64 // the query window, ms
	tol     int64
	tooLong bool
}

func (r *Reconciler) reconcile(ctx context.Context, log zerolog.Logger, g *events.Gap, c *claim) error {
	from, to := time.UnixMilli(g.From), time.UnixMilli(g.To)
	qFrom, qTo := from.Add(-r.opts.Margin), to.Add(r.opts.Margin)
	run := &gapRun{r: r, log: log, g: g, c: c, lo: qFrom.UnixMilli(), hi: qTo.UnixMilli(), tol: r.opts.Tolerance.Milliseconds()}
	if err := c.update(ctx, func(p *progress) {
		s := &p.Summary
		s.GapID, s.AccountID, s.From, s.To = g.ID, g.AccountID, run.lo, run.hi
		if s.Recovered == nil {
			s.Recovered = map[string]int{}
		}
		if s.Skipped == nil {
			s.Skipped = map[string]int{}
		}
	}); err != nil {
		return err
	}
	if d := to.Sub(from); d > r.opts.MaxGap {
		log.Warn().Dur("length", d).Dur("max_gap", r.opts.MaxGap).Msg("gap longer than reconcile.max_gap: not reconciled")
		run.addError(fmt.Sprintf("gap of %s is longer than reconcile.max_gap (%s): not reconciled", d, r.opts.MaxGap))
		run.tooLong = true
		return run.finish(ctx, false)
	}
	// An engagement that ended in the gap is listed once Zoom has
	// processed it; one still active at its end shows in the events
	// received after it, and is asked for until it is listed.
	if !sleep(ctx, to.Add(r.opts.Settle).Sub(r.opts.Now())) {
		return context.Cause(ctx)
	}
	log.Info().Time("from", from).Time("to", to).Msg("reconciling gap")
	if err := run.engagements(ctx, qFrom, qTo); err != nil {
		return err
	}
	if !c.snapshot().AgentsDone {
		rows, err := call1(run, func() ([]AgentStatus, error) { return r.opts.REST.StatusHistory(ctx, qFrom, qTo) })
		if err != nil {
			return fmt.Errorf("reconcile: agent status history: %w", err)
		}
		recovered, skipped, err := run.publish(ctx, mapAgentStatuses(rows))
		if err != nil {
			return err
		}
		if err := c.update(ctx, func(p *progress) { p.AgentsDone = true; merge(&p.Summary, recovered, skipped) }); err != nil {
			return err
		}
	}
	return run.finish(ctx, true)
}

// engagements rebuilds every engagement of the window: those E1 lists,
// and those events were received for around the gap, asked for again
// until Zoom shows them or ProcessingWait has passed.
func (run *gapRun) engagements(ctx context.Context, qFrom, qTo time.Time) error {
	r := run.r
	deadline := r.opts.Now().Add(r.opts.ProcessingWait)
	tailAt := time.UnixMilli(run.g.To).Add(2 * r.opts.Settle)
	for {
		queriedAt := r.opts.Now()
		recv, err := readReceived(ctx, r.js, r.opts.Stream, r.opts.SubjectPrefix, run.g.AccountID, qFrom.Add(-r.opts.Margin), run.lo-run.tol, run.hi+run.tol, run.recv)
		if err != nil {
			return err
		}
		run.recv = recv
		list, err := call1(run, func() ([]Engagement, error) { return r.opts.REST.Engagements(ctx, qFrom, qTo) })
		if err != nil {
			return fmt.Errorf("reconcile: listing engagements: %w", err)
		}
		// Zoom's row decides for an engagement it lists; the events
		// received, for one it does not (yet).
		want, listed := map[string]bool{}, map[string]bool{}
		for _, e := range list {
			if e.EngagementID == "" {
				continue
			}
			listed[e.EngagementID] = true
			if mayHaveEventsIn(&e, run.g.From, run.g.To) {
				want[e.EngagementID] = true
			}
		}
		for id := range recv.inWindow {
			if !listed[id] && recv.mayHaveEventsIn(id, run.g.From, run.g.To) {
				want[id] = true
			}
		}
		var pending []string
		for _, id := range slices.Sorted(maps.Keys(want)) {
			if run.c.engagementDone(id) {
				continue
			}
			found, err := run.engagement(ctx, id)
			if err != nil {
				return err
			}
			if !found {
				pending = append(pending, id)
			}
		}
		if len(pending) == 0 {
			if !queriedAt.Before(tailAt) {
				return nil
			}
			// The tail again, once Zoom has processed what ended late
			// in the gap: nothing received tells of those.
			if !sleep(ctx, tailAt.Sub(r.opts.Now())) {
				return context.Cause(ctx)
			}
			continue
		}
		if r.opts.Now().After(deadline) {
			run.addError(fmt.Sprintf("%d engagements not shown by Zoom after %s (still active, or not yet processed): their events are not rebuilt", len(pending), r.opts.ProcessingWait))
			run.log.Warn().Strs("engagements", pending[:min(len(pending), 10)]).Msg("engagements not shown by Zoom; their events are not rebuilt")
			return nil
		}
		run.log.Debug().Int("pending", len(pending)).Msg("engagements not processed by Zoom yet; asking again")
		if !sleep(ctx, r.opts.RetryInterval) {
			return context.Cause(ctx)
		}
	}
}

// mayHaveEventsIn reports whether an E1 row may have had events in
// [from, to]: not one that started after it, or ended, wrap-up included,
// before it (times are whole seconds: a second of slack).
func mayHaveEventsIn(e *Engagement, from, to int64) bool {
	if !e.StartTime.IsZero() && e.StartTime.UnixMilli() > to+1000 {
		return false
	}
	if e.EndTime.IsZero() {
		return true
	}
	last := e.EndTime.Add(time.Duration(e.WrapUpDuration+1) * time.Second)
	return last.UnixMilli() >= from
}

// engagement rebuilds one engagement; found is false while Zoom does not
// show it.
func (run *gapRun) engagement(ctx context.Context, id string) (found bool, err error) {
	rest := run.r.opts.REST
	d, err := call1(run, func() (*EngagementDetail, error) { return rest.Engagement(ctx, id) })
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reconcile: engagement %s: %w", id, err)
	}
	rs, err := call1(run, func() (*RecordingStatus, error) { return rest.RecordingStatus(ctx, id) })
	if errors.Is(err, ErrNotFound) {
		rs, err = nil, nil // not recorded
	}
	if err != nil {
		return false, fmt.Errorf("reconcile: recording status of engagement %s: %w", id, err)
	}
	evs, unknown := mapEngagement(d, rs)
	recovered, skipped, err := run.publish(ctx, evs)
	if err != nil {
		return false, err
	}
	if len(unknown) > 0 {
		if err := run.c.update(ctx, func(p *progress) {
			for t, n := range unknown {
				if _, ok := p.Unknown[t]; ok || len(p.Unknown) < maxErrors {
					if p.Unknown == nil {
						p.Unknown = map[string]int{}
					}
					p.Unknown[t] += n
				}
			}
		}); err != nil {
			return false, err
		}
	}
	return true, run.c.markEngagement(ctx, id, engagementCounts{recovered, skipped})
}

// call1 counts a REST call in the summary (with the pages and retries
// inside the client, one call) and makes it.
func call1[T any](run *gapRun, f func() (T, error)) (T, error) {
	run.c.mu.Lock()
	run.c.p.Summary.Requests++
	run.c.mu.Unlock()
	run.r.metrics.calls.Inc()
	return f()
}

// publish publishes the events that fall inside the gap and were not
// received, and returns the counts by event name: recovered (published
// now or by an earlier run), skipped (received live, or outside the gap).
func (run *gapRun) publish(ctx context.Context, evs []rebuiltEvent) (recovered, skipped map[string]int, err error) {
	recovered, skipped = map[string]int{}, map[string]int{}
	now := run.r.opts.Now()
	var msgs []*events.Message
	var names []string
	keys := make([]string, len(evs))
	for i := range evs {
		keys[i] = evs[i].key(run.g.AccountID)
	}
	verdicts := run.recv.match(evs, keys, run.tol)
	for i := range evs {
		e, key := &evs[i], keys[i]
		// REST times are whole seconds, and an end is a start plus a
		// rounded duration: an event of the gap's first or last second
		// may come back up to a second outside it. One received live
		// there is dropped by match above.
		if e.TS < run.g.From-restPrecision || e.TS > run.g.To+restPrecision {
			skipped[e.Name]++
			run.r.metrics.events.WithLabelValues(eventOutside).Inc()
			continue
		}
		switch verdicts[i] {
		case publishedBefore:
			recovered[e.Name]++
			run.r.metrics.events.WithLabelValues(eventReceived).Inc()
			continue
		case receivedLive:
			skipped[e.Name]++
			run.r.metrics.events.WithLabelValues(eventReceived).Inc()
			continue
		}
		ev, err := events.RebuiltEvent(e.Name, e.TS, run.g.AccountID, e.Object)
		if err != nil {
			return nil, nil, err
		}
		m, err := ev.RebuiltMessage(run.r.opts.SubjectPrefix, key, now)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
		names = append(names, e.Name)
		// Another source of the same event in this run (E1 listing an
		// engagement twice) is the same event.
		run.recv.add(e.Name, e.matchID(), e.TS, key, true)
	}
	errs, err := run.r.send(ctx, msgs)
	if err != nil {
		return nil, nil, err
	}
	for i, e := range errs {
		if e != nil {
			run.addError(fmt.Sprintf("%s refused by NATS: %v", names[i], e))
			continue
		}
		recovered[names[i]]++
		run.r.metrics.events.WithLabelValues(eventPublished).Inc()
	}
	return recovered, skipped, nil
}

// send publishes msgs, again and again while NATS answers with a
// transient error, and returns the refusals.
func (r *Reconciler) send(ctx context.Context, msgs []*events.Message) ([]error, error) {
	errs := make([]error, len(msgs))
	for start := 0; start < len(msgs); start += publishBatch {
		end := min(start+publishBatch, len(msgs))
		if err := r.sendBatch(ctx, msgs[start:end], errs[start:end]); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// restPrecision is how far a REST time may be from the event's own
// event_ts: Zoom writes whole seconds.
const restPrecision = int64(time.Second / time.Millisecond)

// publishBatch bounds the messages in flight at once. The live pipeline
// shares the connection, whose publisher sends one batch at a time: a
// live batch waits at most for one small rebuilt batch's acks.
const publishBatch = 32

func (r *Reconciler) sendBatch(ctx context.Context, msgs []*events.Message, errs []error) error {
	todo := slices.Clone(msgs)
	idx := make([]int, len(msgs))
	for i := range idx {
		idx[i] = i
	}
	backoff := 100 * time.Millisecond
	for len(todo) > 0 {
		e := make([]error, len(todo))
		r.opts.Publisher.Publish(ctx, todo, e)
		var again []*events.Message
		var againIdx []int
		for i, err := range e {
			var refused *ingest.RefusedError
			switch {
			case err == nil:
			case errors.As(err, &refused):
				errs[idx[i]] = err
			default:
				again, againIdx = append(again, todo[i]), append(againIdx, idx[i])
			}
		}
		if len(again) > 0 {
			r.log.Warn().Int("messages", len(again)).Err(firstErr(e)).Msg("publishing rebuilt events; trying again")
			if !sleep(ctx, backoff+jitter(backoff)) {
				return context.Cause(ctx)
			}
			backoff = min(backoff*2, 10*time.Second)
		}
		todo, idx = again, againIdx
	}
	return nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func merge(s *events.Reconciled, recovered, skipped map[string]int) {
	for k, n := range recovered {
		s.Recovered[k] += n
	}
	for k, n := range skipped {
		s.Skipped[k] += n
	}
}

func (run *gapRun) addError(msg string) {
	run.c.mu.Lock()
	defer run.c.mu.Unlock()
	if len(run.c.p.Summary.Errors) < maxErrors {
		run.c.p.Summary.Errors = append(run.c.p.Summary.Errors, msg)
	}
}

// finish publishes the summary, then marks the gap done. A node that
// stops in between publishes the summary again, with the same id.
func (run *gapRun) finish(ctx context.Context, complete bool) error {
	p := run.c.snapshot()
	s := run.c.summary()
	s.Complete = complete && len(s.Errors) == 0
	s.NotRecoverable = maps.Clone(NotRecoverable)
	for t, n := range p.Unknown {
		s.NotRecoverable["timeline event_type "+t] = fmt.Sprintf("not in the assumed vocabulary of E2 event types (%d seen): not rebuilt", n)
	}
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("reconcile: encoding the summary: %w", err)
	}
	id := "reconciled-" + run.g.ID
	m := &events.Message{
		Subject: events.SystemSubject(run.r.opts.SubjectPrefix, run.g.AccountID, events.SystemReconciled),
		ID:      id,
		Header:  events.Header{events.HeaderMsgID: {id}, events.HeaderContentType: {"application/json"}, events.HeaderAccountID: {run.g.AccountID}},
		Data:    body,
	}
	errs, err := run.r.send(ctx, []*events.Message{m})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		run.log.Error().Err(errs[0]).Msg("the gap's summary was refused by NATS")
	}
	if err := run.c.update(ctx, func(p *progress) { p.Done = true; p.Summary.Complete = s.Complete }); err != nil {
		return err
	}
	switch {
	case run.tooLong:
		run.r.metrics.gaps.WithLabelValues(gapTooLong).Inc()
	case s.Complete:
		run.r.metrics.gaps.WithLabelValues(gapComplete).Inc()
	default:
		run.r.metrics.gaps.WithLabelValues(gapIncomplete).Inc()
	}
	run.log.Info().Interface("recovered", s.Recovered).Int("requests", s.Requests).Bool("complete", s.Complete).
		Strs("errors", s.Errors).Msg("gap reconciled")
	return nil
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
