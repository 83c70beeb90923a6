package state

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
)

// Defaults.
const (
	DefaultDurable           = "zccingest-state"
	DefaultAgentsBucket      = "ZOOM_AGENTS"
	DefaultEngagementsBucket = "ZOOM_ENGAGEMENTS"
	DefaultEndedTTL          = 10 * time.Minute
	DefaultTombstoneTTL      = 24 * time.Hour
	DefaultMaxDeliver        = 50
)

// UserLister lists the account's Contact Center users from Zoom's REST API
// (GET /contact_center/users). It does its own rate limiting and 429
// handling; the state only calls it from a goroutine of its own.
type UserLister interface {
	Users(ctx context.Context) ([]RESTUser, error)
}

// Options configure a Builder.
type Options struct {
	// NATS returns the connection to use; it is called again after an
	// error, so that a replaced connection is picked up.
	NATS          func() *nats.Conn
	Stream        string // the events stream (required)
	SubjectPrefix string // default "zoom"
	// AccountID is the account REST snapshots are stored under (the
	// events carry their own); with Users it turns the REST refresh on.
	AccountID string
	Users     UserLister // nil: no REST refresh
	// EndedTTL: an ended engagement leaves the bucket this long after its
	// engagement_ended (event time). Default 10m.
	EndedTTL time.Duration
	// TombstoneTTL: a swept engagement's purge marker stays this long, and
	// its late events are dropped meanwhile, not reopened. Default 24h.
	TombstoneTTL      time.Duration
	Durable           string // default zccingest-state
	AgentsBucket      string // default ZOOM_AGENTS
	EngagementsBucket string // default ZOOM_ENGAGEMENTS
	Replicas          int    // of the buckets it creates; default 1
	MaxDeliver        int    // of the consumer; default 50
	Workers           int    // messages applied at once; default 8
	// AckWait: a message this builder read and did not acknowledge (it
	// stopped, or died) goes to the other builder, or to this one again,
	// after it. Default 10s.
	AckWait time.Duration
	// RetryDelay is the first wait after a failed KV write or a lost
	// connection, doubled up to 30 s. Default 500ms.
	RetryDelay time.Duration
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil: no metrics registered
}

// A Builder keeps the state buckets up to date from the events stream.
type Builder struct {
	opts    Options
	log     zerolog.Logger
	m       *metrics
	refresh chan struct{}

	mu  sync.Mutex
	cur *kvStore // for the connection nc
	nc  *nats.Conn
}

// New checks the options and returns a Builder; Run starts it.
func New(opts Options) (*Builder, error) {
	if opts.NATS == nil {
		return nil, errors.New("state: Options.NATS is required")
	}
	if opts.Stream == "" {
		return nil, errors.New("state: Options.Stream is required: the state is built from the events stream")
	}
	setDefault(&opts.SubjectPrefix, "zoom")
	setDefault(&opts.Durable, DefaultDurable)
	setDefault(&opts.AgentsBucket, DefaultAgentsBucket)
	setDefault(&opts.EngagementsBucket, DefaultEngagementsBucket)
	if opts.EndedTTL <= 0 {
		opts.EndedTTL = DefaultEndedTTL
	}
	if opts.TombstoneTTL <= 0 {
		opts.TombstoneTTL = DefaultTombstoneTTL
	}
	if opts.TombstoneTTL < time.Second {
		return nil, errors.New("state: Options.TombstoneTTL must be at least 1s")
	}
	if opts.MaxDeliver <= 0 {
		opts.MaxDeliver = DefaultMaxDeliver
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 10 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 500 * time.Millisecond
	}
	opts.Replicas = max(opts.Replicas, 1)
	b := &Builder{opts: opts, log: opts.Logger.With().Str("component", "state").Logger(), m: newMetrics(opts.Registerer), refresh: make(chan struct{}, 1)}
	return b, nil
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// Run consumes the events stream into the buckets, sweeps ended
// engagements, and refreshes agents from REST on start and after every
// gap, until ctx is done. Errors (NATS away, a bucket that cannot be made)
// are logged and retried; Run returns nil when ctx ends.
func (b *Builder) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { b.loop(ctx, "sweep", b.sweepLoop) })
	if b.opts.Users != nil && b.opts.AccountID != "" {
		b.RequestRefresh()
		wg.Go(func() { b.refreshLoop(ctx) })
	} else if b.opts.Users != nil {
		b.log.Warn().Msg("no account id (an OAuth app's config names none): agents are not refreshed from REST")
	}
	b.loop(ctx, "consume", b.consume)
	wg.Wait()
	return nil
}

// loop runs f until ctx ends, again after each error, waiting longer
// after each failure in a row.
func (b *Builder) loop(ctx context.Context, what string, f func(context.Context) error) {
	wait := b.opts.RetryDelay
	for ctx.Err() == nil {
		start := time.Now()
		err := f(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			wait = b.opts.RetryDelay
		}
		b.log.Warn().Err(err).Str("task", what).Dur("retry_in", wait).Msg("state builder interrupted; retrying")
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// store returns the store of the current connection, making the buckets
// when they are missing.
func (b *Builder) store(ctx context.Context) (*kvStore, error) {
	nc := b.opts.NATS()
	if nc == nil || nc.IsClosed() {
		return nil, errors.New("state: no NATS connection")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil && b.nc == nc {
		return b.cur, nil
	}
	s, err := openStore(ctx, nc, b.opts, b.m)
	if err != nil {
		return nil, err
	}
	b.cur, b.nc = s, nc
	return s, nil
}

// Filter returns the subjects the consumer reads under prefix.
func Filter(prefix string) []string {
	return []string{prefix + ".*.cc.user.>", prefix + ".*.cc.engagement.>", prefix + ".*.cc.recording.>"}
}

// consume runs the durable consumer until ctx ends or an error.
func (b *Builder) consume(ctx context.Context) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	cons, err := s.js.CreateOrUpdateConsumer(ctx, b.opts.Stream, jetstream.ConsumerConfig{
		Durable:        b.opts.Durable,
		Description:    "zccingest live state: " + b.opts.AgentsBucket + ", " + b.opts.EngagementsBucket,
		FilterSubjects: Filter(b.opts.SubjectPrefix),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        b.opts.AckWait,
		MaxDeliver:     b.opts.MaxDeliver,
		MaxAckPending:  1000,
	})
	if err != nil {
		return fmt.Errorf("state: creating consumer %s on %s: %w", b.opts.Durable, b.opts.Stream, err)
	}
	// The gap notices ask for a REST refresh; core NATS: a gap missed
	// while this builder was away is covered by the refresh on start.
	if b.opts.Users != nil && b.opts.AccountID != "" {
		sub, err := s.nc.Subscribe(b.opts.SubjectPrefix+".*.system."+events.SystemGap, func(*nats.Msg) { b.RequestRefresh() })
		if err != nil {
			return fmt.Errorf("state: subscribing to gaps: %w", err)
		}
		defer sub.Unsubscribe()
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(64))
	if err != nil {
		return fmt.Errorf("state: consuming %s: %w", b.opts.Durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	b.log.Info().Str("consumer", b.opts.Durable).Str("stream", b.opts.Stream).Int("workers", b.opts.Workers).Msg("state builder consuming")
	// The merge does not care for order, so messages are applied
	// concurrently; those of one engagement or agent (ce-subject) go to
	// the same worker, so that they seldom race for a key.
	work := make([]chan jetstream.Msg, b.opts.Workers)
	var wg sync.WaitGroup
	for i := range work {
		work[i] = make(chan jetstream.Msg, 16)
		wg.Go(func() {
			for msg := range work[i] {
				if ctx.Err() != nil {
					msg.Nak() // stopping: to the other builder at once
					continue
				}
				b.handle(ctx, s, msg)
			}
		})
	}
	defer func() {
		for _, w := range work {
			close(w)
		}
		wg.Wait()
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("state: reading %s: %w", b.opts.Durable, err)
		}
		h := fnv.New32a()
		h.Write([]byte(msg.Headers().Get("ce-subject")))
		work[h.Sum32()%uint32(len(work))] <- msg
	}
}

// handle applies one message and acknowledges it once the KV holds it. A
// message that cannot be applied is logged and acknowledged: retrying it
// would fail the same way.
func (b *Builder) handle(ctx context.Context, s *kvStore, msg jetstream.Msg) {
	h := msg.Headers()
	in, err := ParseMessage(msg.Data(), h.Get("Nats-Msg-Id"), h.Get(events.HeaderSource))
	var c *change
	if err == nil {
		c, err = plan(in)
	}
	switch {
	case errors.Is(err, ErrIgnored):
		b.m.events.WithLabelValues("ignored").Inc()
		b.ack(msg)
		return
	case err != nil:
		b.m.events.WithLabelValues("invalid").Inc()
		b.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("event not applied to the state: acknowledged and passed over")
		b.ack(msg)
		return
	}
	wait := b.opts.RetryDelay
	for {
		err := apply(ctx, s, c, b.pruneBefore())
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			msg.Nak()
			return
		}
		b.m.errors.WithLabelValues("kv").Inc()
		b.log.Warn().Err(err).Str("subject", msg.Subject()).Dur("retry_in", wait).Msg("state not written; retrying")
		msg.InProgress() // keep it ours meanwhile
		if !sleep(ctx, wait) {
			msg.Nak()
			return
		}
		wait = min(2*wait, 30*time.Second)
		if s2, err := b.store(ctx); err == nil {
			s = s2
		}
	}
	b.m.events.WithLabelValues("applied").Inc()
	b.m.eventTS.Set(float64(in.TS) / 1000)
	b.ack(msg)
}

func (b *Builder) ack(msg jetstream.Msg) {
	if err := msg.Ack(); err != nil {
		// Redelivered after AckWait and applied again: harmless.
		b.log.Debug().Err(err).Str("subject", msg.Subject()).Msg("acknowledgement lost")
	}
}

// ForgetAfter is how long an agent's value remembers an engagement it
// left: long enough for any late event of it to find the "out" and not
// hand the agent the engagement again, short enough that a busy agent's
// value stays small.
const ForgetAfter = time.Hour

// pruneBefore is the stamp (ms) before which an agent's "out" members go.
func (b *Builder) pruneBefore() int64 {
	return time.Now().Add(-ForgetAfter).UnixMilli()
}

// RequestRefresh asks for a REST refresh of the agents, without waiting.
func (b *Builder) RequestRefresh() {
	select {
	case b.refresh <- struct{}{}:
	default:
	}
}

func (b *Builder) refreshLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.refresh:
		}
		if err := b.Refresh(ctx); err != nil && ctx.Err() == nil {
			b.log.Warn().Err(err).Msg("agents not refreshed from REST; retrying in a minute")
			time.AfterFunc(time.Minute, b.RequestRefresh)
		}
	}
}

// Refresh lists the agents from REST and merges each into the agents
// bucket, stamped with the time the request started.
func (b *Builder) Refresh(ctx context.Context) error {
	if b.opts.Users == nil || b.opts.AccountID == "" {
		return errors.New("state: no REST refresh configured")
	}
	requested := time.Now().UnixMilli()
	users, err := b.opts.Users.Users(ctx)
	if err != nil {
		b.m.refreshes.WithLabelValues("error").Inc()
		return fmt.Errorf("state: listing users: %w", err)
	}
	s, err := b.store(ctx)
	if err != nil {
		b.m.refreshes.WithLabelValues("error").Inc()
		return err
	}
	for _, u := range users {
		if u.UserID == "" {
			continue
		}
		if err := apply(ctx, s, snapshot(b.opts.AccountID, u, requested), b.pruneBefore()); err != nil {
			b.m.refreshes.WithLabelValues("error").Inc()
			return err
		}
	}
	b.m.refreshes.WithLabelValues("ok").Inc()
	b.log.Info().Int("agents", len(users)).Msg("agents refreshed from REST")
	return nil
}

// sweepLoop removes ended engagements EndedTTL after their end.
func (b *Builder) sweepLoop(ctx context.Context) error {
	every := min(max(b.opts.EndedTTL/4, 100*time.Millisecond), time.Minute)
	for {
		if !sleep(ctx, every) {
			return nil
		}
		s, err := b.store(ctx)
		if err != nil {
			return err
		}
		if _, err := s.sweep(ctx, time.Now().Add(-b.opts.EndedTTL).UnixMilli(), b.opts.TombstoneTTL); err != nil {
			b.m.errors.WithLabelValues("sweep").Inc()
			return err
		}
	}
}
