// Package coverage keeps the ledger of when the account's events were being
// received: for each subscription of each node, the intervals a built
// connection was open. Nodes share their records through a NATS KV bucket,
// so that every node of a 1+1 pair computes the same gaps (no leg of any
// node open) and interruptions (one leg down while another carried the
// events) from the same data, and publishes each once, when it has ended.
// A process that was down is found on its next start from its own record.
package coverage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
)

// Bucket is the KV bucket of the ledger.
const Bucket = "ZOOM_COVERAGE"

// Defaults of Options.
const (
	DefaultInterval   = 2 * time.Second
	DefaultStaleAfter = 30 * time.Second
	DefaultWindow     = time.Hour
	DefaultRetention  = 24 * time.Hour
)

// maxIntervals bounds the closed intervals a record keeps per subscription
// (some 40 bytes each in JSON: 200 KB for 5,000).
const maxIntervals = 5000

// maxConnQueue bounds the connection changes held while NATS is away; the
// oldest go first (the ledger keeps the intervals regardless).
const maxConnQueue = 1000

// A Store is the NATS side of the ledger: cmd implements it on the
// ingester's connection.
type Store interface {
	// Bucket returns the ledger's KV bucket, created if missing.
	Bucket(ctx context.Context) (jetstream.KeyValue, error)
	// Publish publishes a system message (its Nats-Msg-Id header set)
	// and returns once the stream has it.
	Publish(ctx context.Context, m *events.Message) error
}

// Options configure a Ledger.
type Options struct {
	Node          string // [A-Za-z0-9_-]{1,64}, unique per host of a pair
	Account       string // the Zoom account the subscriptions belong to
	SubjectPrefix string
	Subscriptions []string // this node's
	Store         Store
	// Interval is how often the record is written (and the records
	// read); a change is written at once besides. Default 2 s.
	Interval time.Duration
	// StaleAfter: a record not rewritten for this long counts as closed
	// from its as_of. Default 30 s, at least 3 intervals.
	StaleAfter time.Duration
	Window     time.Duration // of zccingest_coverage_ratio; default 1 h
	Retention  time.Duration // intervals and gap markers kept; default 24 h
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil registers nothing
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// A Ledger records this node's coverage, shares it and publishes the
// account's gaps and interruptions.
type Ledger struct {
	opts    Options
	log     zerolog.Logger
	account string // as a key token
	started time.Time
	m       *metrics

	mu      sync.Mutex
	rec     Record
	open    map[string]int // connections open, by subscription (two during a rotation)
	loaded  bool           // the previous process's record has been read (or there is none)
	conns   []events.ConnectionChange
	view    View
	done    map[string]int64 // gap and interruption ids published or found published, to their end (pruned with the markers)
	keys    map[string]bool  // the record keys seen: sync's goroutine only
	pruned  time.Time        // when the markers were last pruned: sync's goroutine only
	counted map[string]int64 // gap ids counted in uncovered_seconds, to their end
	nudge   chan struct{}
	failing bool // NATS calls failing: log the first and the recovery only
}

// New returns a ledger; Run shares it.
func New(opts Options) (*Ledger, error) {
	if opts.Store == nil || opts.SubjectPrefix == "" {
		return nil, errors.New("coverage: Options need a Store and a SubjectPrefix")
	}
	if !tokenRE.MatchString(opts.Node) {
		return nil, fmt.Errorf("coverage: node %q must match [A-Za-z0-9_-]{1,64}", opts.Node)
	}
	opts.Interval = cmpOr(opts.Interval, DefaultInterval)
	opts.StaleAfter = max(cmpOr(opts.StaleAfter, DefaultStaleAfter), 3*opts.Interval)
	opts.Window = cmpOr(opts.Window, DefaultWindow)
	opts.Retention = cmpOr(opts.Retention, DefaultRetention)
	now := time.Now()
	l := &Ledger{
		opts: opts, log: opts.Logger.With().Str("component", "coverage").Logger(),
		account: KeyToken(opts.Account), started: now,
		open: map[string]int{}, done: map[string]int64{}, keys: map[string]bool{}, counted: map[string]int64{}, nudge: make(chan struct{}, 1),
		rec: Record{Node: opts.Node, Account: opts.Account, Started: now.UnixMilli(), Subs: map[string]Sub{}},
	}
	for _, s := range opts.Subscriptions {
		l.rec.Subs[s] = Sub{}
	}
	l.m = newMetrics(opts.Registerer, MetricAccount(opts.Account))
	return l, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// KeyToken makes s a KV key token and a subject token: characters other
// than [A-Za-z0-9_-] become '_', and it is cut to 64 bytes.
func KeyToken(s string) string { return events.KeyToken(s, 64) }

// MetricAccount is the account label of the coverage metrics: the
// configured account when it is a plain token, else "other", so that no
// value from outside grows the series.
func MetricAccount(account string) string {
	if tokenRE.MatchString(account) {
		return account
	}
	return "other"
}

// RecordKey is the ledger key of a node's record; GapKey and
// InterruptionKey those of the markers of what was published.
func RecordKey(account, node string) string { return KeyToken(account) + "." + node }

func GapKey(account string, from int64) string {
	return KeyToken(account) + ".gap." + strconv.FormatInt(from, 10)
}

func InterruptionKey(account, node, sub string, from int64) string {
	return KeyToken(account) + ".interruption." + KeyToken(node) + "." + KeyToken(sub) + "." + strconv.FormatInt(from, 10)
}

// OnState is zoomws.Options.OnState: it takes the change into memory and
// never waits for NATS.
func (l *Ledger) OnState(sub string, open bool, at time.Time, reason string) {
	ms := at.UnixMilli()
	l.mu.Lock()
	s := l.rec.Subs[sub]
	state := ""
	switch {
	case open:
		l.open[sub]++
		if l.open[sub] == 1 {
			s.OpenSince = &ms
			state = "open"
		}
	case l.open[sub] > 0:
		l.open[sub]--
		if l.open[sub] == 0 && s.OpenSince != nil {
			if len(s.Intervals) >= maxIntervals {
				// Bounded here too: while NATS is away no snapshot trims.
				s.Intervals = s.Intervals[1:]
			}
			s.Intervals = append(s.Intervals, Span{*s.OpenSince, max(ms, *s.OpenSince)})
			s.OpenSince = nil
			state = "closed"
		}
	}
	l.rec.Subs[sub] = s
	if state != "" {
		if len(l.conns) >= maxConnQueue {
			l.conns = l.conns[1:]
		}
		l.conns = append(l.conns, events.ConnectionChange{Node: l.opts.Node, AccountID: l.opts.Account, Subscription: sub, State: state, At: ms, Reason: reason})
	}
	l.mu.Unlock()
	if state != "" {
		select {
		case l.nudge <- struct{}{}:
		default:
		}
	}
}

// View returns the last view computed (for /readyz).
func (l *Ledger) View() View {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.view
}

// OpenLegs returns this node's subscriptions with a connection open now,
// from memory: true whatever NATS is doing.
func (l *Ledger) OpenLegs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.opts.Subscriptions {
		if l.open[s] > 0 {
			out = append(out, s)
		}
	}
	return out
}

// Ready returns /readyz's lines: whether the account is covered now and by
// which legs. This node's legs come from memory; the other nodes' from the
// last records read (a node whose record is stale does not count).
func (l *Ledger) Ready() []string {
	own := l.OpenLegs()
	v := l.View()
	l.mu.Lock()
	failing := l.failing
	l.mu.Unlock()
	var legs []string
	for _, s := range own {
		legs = append(legs, l.opts.Node+"/"+s)
	}
	for _, g := range v.Legs {
		if g.Node != l.opts.Node && g.OpenSince != 0 && !g.Stale {
			legs = append(legs, g.Node+"/"+g.Subscription)
		}
	}
	acct := MetricAccount(l.opts.Account)
	var out []string
	if len(legs) == 0 {
		out = append(out, "coverage: account "+acct+" NOT covered: no subscription open on any node")
	} else {
		out = append(out, "coverage: account "+acct+" covered by "+strings.Join(legs, ", "))
	}
	if failing {
		out = append(out, "coverage: ledger not shared (NATS unavailable): other nodes' legs as last read")
	}
	return out
}

// Run shares the record and publishes what the records show until ctx is
// done, then writes the record once more (the connections closed at
// shutdown), for at most 5 s. Call it so that it ends after the
// subscriptions have closed.
func (l *Ledger) Run(ctx context.Context) {
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		l.sync(ctx)
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l.mu.Lock()
			l.rec.Stopped = time.Now().UnixMilli()
			l.mu.Unlock()
			l.sync(fctx)
			return
		case <-t.C:
		case <-l.nudge:
		}
	}
}

// sync writes the record, reads every node's, and publishes what has
// ended and not been published yet.
func (l *Ledger) sync(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, max(2*time.Second, 2*l.opts.Interval))
	defer cancel()
	err := l.syncErr(ctx)
	if parent.Err() != nil {
		return // stopping: Run syncs once more
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil && !l.failing:
		l.failing = true
		l.log.Warn().Err(err).Msg("coverage ledger not shared: NATS unavailable; coverage is kept in memory and published once NATS is back")
	case err == nil && l.failing:
		l.failing = false
		l.log.Info().Msg("coverage ledger shared again")
	}
}

func (l *Ledger) syncErr(ctx context.Context) error {
	kv, err := l.opts.Store.Bucket(ctx)
	if err != nil {
		return fmt.Errorf("coverage: opening the ledger bucket: %w", err)
	}
	if err := l.load(ctx, kv); err != nil {
		return err
	}
	now := time.Now()
	rec, err := l.snapshot(now)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, RecordKey(l.opts.Account, l.opts.Node), rec); err != nil {
		return fmt.Errorf("coverage: writing the ledger: %w", err)
	}
	// A connection change that cannot be published (yet) holds up no gap.
	connErr := l.publishConns(ctx)
	recs, err := Records(ctx, kv, l.opts.Account, sortedKeys(l.keys)...)
	if err != nil {
		return err
	}
	for _, r := range recs {
		l.keys[RecordKey(l.opts.Account, r.Node)] = true
	}
	v := Analyze(l.opts.Account, recs, now, l.opts.StaleAfter, l.opts.Window, now.Add(-l.opts.Retention).UnixMilli())
	l.mu.Lock()
	l.view = v
	l.mu.Unlock()
	l.m.ratio.Set(v.Ratio)
	for _, g := range v.Gaps {
		if _, ok := l.counted[g.ID]; !ok && g.To >= l.started.UnixMilli() {
			l.counted[g.ID] = g.To
			l.m.uncovered.Add(float64(g.To-g.From) / 1000)
		}
		if err := l.publishOnce(ctx, kv, GapKey(l.opts.Account, g.From), g); err != nil {
			return err
		}
	}
	for _, g := range v.Interruptions {
		if err := l.publishOnce(ctx, kv, InterruptionKey(l.opts.Account, g.Nodes[0], g.Subscriptions[0], g.From), g); err != nil {
			return err
		}
	}
	if now.Sub(l.pruned) >= pruneEvery {
		cut := now.Add(-l.opts.Retention).UnixMilli()
		if err := l.prune(ctx, kv, cut); err != nil {
			return errors.Join(connErr, err)
		}
		// What this process remembers of published gaps goes with them:
		// months of running must not grow it.
		for _, m := range []map[string]int64{l.done, l.counted} {
			for id, to := range m {
				if to < cut {
					delete(m, id)
				}
			}
		}
		l.pruned = now
	}
	return connErr
}

// pruneEvery is how often the markers past the retention are removed.
const pruneEvery = time.Hour

// prune purges the gap and interruption markers whose gap began before
// cut. Every node does; a purge of a purged key is harmless.
func (l *Ledger) prune(ctx context.Context, kv jetstream.KeyValue, cut int64) error {
	acct := KeyToken(l.opts.Account)
	var old []string
	for _, f := range []string{acct + ".gap.*", acct + ".interruption.>"} {
		err := watchAll(ctx, kv, f, func(key string, _ []byte) {
			from, err := strconv.ParseInt(key[strings.LastIndexByte(key, '.')+1:], 10, 64)
			if err == nil && from < cut {
				old = append(old, key)
			}
		})
		if err != nil {
			return fmt.Errorf("coverage: listing old markers: %w", err)
		}
	}
	for _, k := range old {
		if err := kv.Purge(ctx, k); err != nil {
			return fmt.Errorf("coverage: purging %s: %w", k, err)
		}
	}
	if len(old) > 0 {
		l.log.Debug().Int("markers", len(old)).Msg("coverage: markers older than the retention purged")
	}
	return nil
}

// load reads the previous process's record once: its intervals go on, a
// connection it had open counts as closed from its as_of, and the time to
// this process's start is a time the node was down.
func (l *Ledger) load(ctx context.Context, kv jetstream.KeyValue) error {
	l.mu.Lock()
	loaded := l.loaded
	l.mu.Unlock()
	if loaded {
		return nil
	}
	e, err := kv.Get(ctx, RecordKey(l.opts.Account, l.opts.Node))
	var old Record
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
	case err != nil:
		return fmt.Errorf("coverage: reading this node's last record: %w", err)
	default:
		if err := json.Unmarshal(e.Value(), &old); err != nil {
			// A record this version cannot read: start afresh, and say so.
			l.log.Error().Err(err).Msg("coverage: this node's last record is unreadable; starting a new one")
			old = Record{}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loaded = true
	if old.AsOf == 0 {
		return nil
	}
	for name, s := range old.Subs {
		if s.OpenSince != nil {
			s.Intervals = append(s.Intervals, Span{*s.OpenSince, max(old.AsOf, *s.OpenSince)})
		}
		cur := l.rec.Subs[name]
		cur.Intervals = append(s.Intervals, cur.Intervals...)
		l.rec.Subs[name] = cur
	}
	l.rec.Down = old.Down
	if start := l.started.UnixMilli(); start > old.AsOf {
		l.rec.Down = append(l.rec.Down, Span{old.AsOf, start})
		l.log.Warn().Time("from", time.UnixMilli(old.AsOf)).Time("to", l.started).Msg("coverage: this node was down; the gap is published once a subscription is open again, unless the other node covered it")
	}
	return nil
}

// snapshot returns the record to write at now, pruned to the retention.
func (l *Ledger) snapshot(now time.Time) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := now.Add(-l.opts.Retention).UnixMilli()
	for name, s := range l.rec.Subs {
		s.Intervals = prune(s.Intervals, cut)
		if n := len(s.Intervals); n > maxIntervals {
			// A connection flapping all day: the record must stay well
			// under NATS's max_payload. The oldest go first.
			s.Intervals = s.Intervals[n-maxIntervals:]
		}
		l.rec.Subs[name] = s
	}
	l.rec.Down = prune(l.rec.Down, cut)
	l.rec.AsOf = now.UnixMilli()
	b, err := json.Marshal(l.rec)
	if err != nil {
		return nil, fmt.Errorf("coverage: encoding the record: %w", err)
	}
	return b, nil
}

func prune(spans []Span, cut int64) []Span {
	i := 0
	for i < len(spans) && spans[i].to() < cut {
		i++
	}
	return spans[i:]
}

// publishConns publishes the connection changes in order; what fails stays
// for the next sync.
func (l *Ledger) publishConns(ctx context.Context) error {
	for {
		l.mu.Lock()
		if len(l.conns) == 0 {
			l.mu.Unlock()
			return nil
		}
		c := l.conns[0]
		l.mu.Unlock()
		body, err := json.Marshal(c)
		if err != nil {
			return fmt.Errorf("coverage: encoding a connection change: %w", err)
		}
		id := "connection-" + c.Node + "-" + KeyToken(c.Subscription) + "-" + c.State + "-" + strconv.FormatInt(c.At, 10)
		if err := l.opts.Store.Publish(ctx, message(events.ConnectionSubject(l.opts.SubjectPrefix), id, c.AccountID, body)); err != nil {
			return fmt.Errorf("coverage: publishing a connection change: %w", err)
		}
		l.mu.Lock()
		if len(l.conns) > 0 && l.conns[0] == c {
			l.conns = l.conns[1:]
		}
		l.mu.Unlock()
	}
}

// A marker is the value of a gap's or interruption's key: the gap, and
// whether it is published yet. The node that creates it publishes; if that
// node dies first, another publishes once the claim is StaleAfter old (the
// id is the same on every node, and the stream's duplicate window absorbs
// a repeat).
type marker struct {
	events.Gap
	Published bool   `json:"published"`
	ClaimedBy string `json:"claimed_by"`
	ClaimedAt int64  `json:"claimed_at"`
}

// publishOnce publishes g unless a node has, or is about to.
func (l *Ledger) publishOnce(ctx context.Context, kv jetstream.KeyValue, key string, g events.Gap) error {
	if _, ok := l.done[g.ID]; ok {
		return nil
	}
	mk := marker{Gap: g, ClaimedBy: l.opts.Node, ClaimedAt: time.Now().UnixMilli()}
	body, err := json.Marshal(mk)
	if err != nil {
		return fmt.Errorf("coverage: encoding %s: %w", g.ID, err)
	}
	rev, err := kv.Create(ctx, key, body)
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		e, err := kv.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("coverage: reading %s: %w", key, err)
		}
		var have marker
		if json.Unmarshal(e.Value(), &have) == nil && !have.Published && have.ClaimedBy != l.opts.Node &&
			time.Since(time.UnixMilli(have.ClaimedAt)) < l.opts.StaleAfter {
			return nil // the claimer is publishing it
		}
		if have.Published {
			l.done[g.ID] = g.To
			return nil
		}
		// Claimed by this node (a process before) or by one gone quiet.
		rev = e.Revision()
	case err != nil:
		return fmt.Errorf("coverage: claiming %s: %w", key, err)
	}
	msg, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("coverage: encoding %s: %w", g.ID, err)
	}
	if err := l.opts.Store.Publish(ctx, message(events.SystemSubject(l.opts.SubjectPrefix, l.opts.Account, g.Kind), g.ID, g.AccountID, msg)); err != nil {
		return fmt.Errorf("coverage: publishing %s: %w", g.ID, err)
	}
	mk.Published = true
	body, _ = json.Marshal(mk)
	if _, err := kv.Update(ctx, key, body, rev); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		// Published all the same; a node that takes the claim over
		// publishes it again, which the duplicate window absorbs.
		l.log.Debug().Err(err).Str("key", key).Msg("coverage: marking a gap published")
	}
	l.done[g.ID] = g.To
	ev := l.log.Info()
	if g.Kind == events.SystemGap {
		ev = l.log.Warn()
	}
	ev.Str("kind", g.Kind).Str("id", g.ID).Time("from", time.UnixMilli(g.From)).Time("to", time.UnixMilli(g.To)).
		Dur("duration", time.Duration(g.To-g.From)*time.Millisecond).Str("cause", g.Cause).Strs("subscriptions", g.Subscriptions).
		Msg("coverage: " + g.Kind + " published")
	return nil
}

func message(subject, id, account string, body []byte) *events.Message {
	h := events.Header{}
	h[events.HeaderMsgID] = []string{id}
	h[events.HeaderContentType] = []string{"application/json"}
	if account != "" {
		h[events.HeaderAccountID] = []string{account}
	}
	return &events.Message{Subject: subject, ID: id, Header: h, Data: body}
}

// Records returns every node's record of the account in the bucket, and
// of the keys in also. The listing comes from a watch, which can report
// its initial values complete before a key written meanwhile: a ledger
// passes every key it has seen before, so that a node once known is read
// every time.
func Records(ctx context.Context, kv jetstream.KeyValue, account string, also ...string) ([]Record, error) {
	keys := map[string]bool{}
	for _, k := range also {
		keys[k] = true
	}
	err := watchAll(ctx, kv, KeyToken(account)+".*", func(key string, _ []byte) { keys[key] = true })
	if err != nil {
		return nil, fmt.Errorf("coverage: listing the ledger: %w", err)
	}
	var recs []Record
	for _, k := range sortedKeys(keys) {
		e, err := kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("coverage: reading %s: %w", k, err)
		}
		var r Record
		if err := json.Unmarshal(e.Value(), &r); err == nil && r.Node != "" {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// Published returns the gaps and interruptions of the account marked
// published in the bucket, oldest first.
func Published(ctx context.Context, kv jetstream.KeyValue, account string) (gaps, interruptions []events.Gap, err error) {
	acct := KeyToken(account)
	for _, k := range []struct {
		filter string
		into   *[]events.Gap
	}{{acct + ".gap.*", &gaps}, {acct + ".interruption.>", &interruptions}} {
		err := watchAll(ctx, kv, k.filter, func(_ string, v []byte) {
			var m marker
			if json.Unmarshal(v, &m) == nil && m.ID != "" {
				*k.into = append(*k.into, m.Gap)
			}
		})
		if err != nil {
			return nil, nil, fmt.Errorf("coverage: reading the published gaps: %w", err)
		}
	}
	sortGaps(gaps)
	sortGaps(interruptions)
	return gaps, interruptions, nil
}

// watchAll calls f with the latest value of each key matching filter.
func watchAll(ctx context.Context, kv jetstream.KeyValue, filter string, f func(key string, v []byte)) error {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watcher closed")
			}
			if e == nil {
				return nil // every current value seen
			}
			f(e.Key(), e.Value())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func sortGaps(gs []events.Gap) {
	slices.SortFunc(gs, func(a, b events.Gap) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.ID, b.ID)) })
}

type metrics struct {
	uncovered prometheus.Counter
	ratio     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, account string) *metrics {
	labels := prometheus.Labels{"account": account}
	m := &metrics{
		uncovered: prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_uncovered_seconds_total", ConstLabels: labels,
			Help: "Seconds in gaps (no subscription of the account open on any node), counted when each gap ends."}),
		ratio: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zccingest_coverage_ratio", ConstLabels: labels,
			Help: "Part of the last coverage.window in which some subscription of the account was open on some node."}),
	}
	if reg != nil {
		reg.MustRegister(m.uncovered, m.ratio)
	}
	return m
}
