package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// kvStore is the state in the two KV buckets.
type kvStore struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	kv      map[string]jetstream.KeyValue // by kind
	streams map[string]jetstream.Stream   // the buckets' streams, for reads that tell a purge marker
	buckets map[string]string             // kind → bucket name
	m       *metrics
	// markerTTL: the engagements bucket takes purge markers with a TTL.
	markerTTL bool

	// cache holds the values this store wrote last, by subject, so that
	// the next update of a key needs no read; a value another writer
	// changed meanwhile fails the compare-and-set and is read again.
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	rev  uint64
	data []byte
}

// maxCache bounds the cache; past it, it starts again empty.
const maxCache = 50_000

func (s *kvStore) cached(subject string) (cached, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[subject]
	return c, ok
}

func (s *kvStore) remember(subject string, rev uint64, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.cache, subject)
		return
	}
	if len(s.cache) >= maxCache {
		clear(s.cache)
	}
	s.cache[subject] = cached{rev, data}
}

func openStore(ctx context.Context, nc *nats.Conn, o Options, m *metrics) (*kvStore, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	s := &kvStore{nc: nc, js: js, cache: map[string]cached{}, kv: map[string]jetstream.KeyValue{}, streams: map[string]jetstream.Stream{}, m: m,
		buckets: map[string]string{agentsKind: o.AgentsBucket, engagementsKind: o.EngagementsBucket}}
	for kind, name := range s.buckets {
		cfg := jetstream.KeyValueConfig{Bucket: name, Storage: jetstream.FileStorage, Replicas: o.Replicas, History: 1}
		if kind == engagementsKind {
			cfg.Description = "zccingest: live engagements, <account>.<engagement_id>"
			// Lets purge markers carry a TTL: a swept engagement's marker
			// goes after TombstoneTTL.
			cfg.LimitMarkerTTL = o.TombstoneTTL
		} else {
			cfg.Description = "zccingest: live agents, <account>.<user_id>"
		}
		kv, err := ensureBucket(ctx, js, cfg)
		if err != nil {
			return nil, err
		}
		st, err := js.Stream(ctx, "KV_"+name)
		if err != nil {
			return nil, fmt.Errorf("state: bucket %s: %w", name, err)
		}
		s.kv[kind], s.streams[kind] = kv, st
		if kind == engagementsKind {
			s.markerTTL = st.CachedInfo().Config.AllowMsgTTL
		}
	}
	return s, nil
}

// ensureBucket opens the bucket, creating it when missing; an existing
// bucket keeps its settings.
func ensureBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) { // the pair's other node was first
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("state: bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

const maxAttempts = 100

func (s *kvStore) update(ctx context.Context, kind, key string, merge func([]byte) ([]byte, error)) error {
	kv, st := s.kv[kind], s.streams[kind]
	subject := "$KV." + s.buckets[kind] + "." + key
	for range maxAttempts {
		var old []byte
		var rev uint64
		if c, ok := s.cached(subject); ok {
			old, rev = c.data, c.rev
		} else {
			raw, err := st.GetLastMsgForSubject(ctx, subject)
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
			case err != nil:
				return fmt.Errorf("reading %s: %w", key, err)
			case isMarker(raw.Header):
				if kind == engagementsKind {
					return errSwept
				}
				rev = raw.Sequence // an agent deleted by hand starts again
			default:
				old, rev = raw.Data, raw.Sequence
			}
		}
		b, err := merge(old)
		if err != nil || b == nil {
			return err
		}
		if rev == 0 {
			rev, err = kv.Create(ctx, key, b)
		} else {
			rev, err = kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			s.remember(subject, rev, b)
			return nil
		}
		s.remember(subject, 0, nil)
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("writing %s: %w", key, err)
		}
		s.m.conflicts.Inc() // another writer was first: merge into its value
	}
	return fmt.Errorf("writing %s: still conflicting after %d attempts", key, maxAttempts)
}

// isMarker reports whether a KV message is a delete or purge marker.
func isMarker(h nats.Header) bool {
	switch h.Get("KV-Operation") {
	case "DEL", "PURGE":
		return true
	}
	return h.Get(jetstream.MarkerReasonHeader) != ""
}

// sweep purges every engagement that ended before endedBefore (ms), each
// only if unchanged since it was read. The purge marker keeps the key's
// late events out for tombstoneTTL.
func (s *kvStore) sweep(ctx context.Context, endedBefore int64, tombstoneTTL time.Duration) (int, error) {
	kv := s.kv[engagementsKind]
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, fmt.Errorf("state: sweeping: %w", err)
	}
	defer w.Stop()
	type victim struct {
		key string
		rev uint64
	}
	var victims []victim
	for e := range w.Updates() {
		if e == nil {
			break
		}
		var v struct {
			Ended   bool  `json:"ended"`
			EndedAt int64 `json:"ended_at"`
		}
		if json.Unmarshal(e.Value(), &v) == nil && v.Ended && v.EndedAt < endedBefore {
			victims = append(victims, victim{e.Key(), e.Revision()})
		}
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	n := 0
	for _, v := range victims {
		opts := []jetstream.KVDeleteOpt{jetstream.LastRevision(v.rev)}
		if s.markerTTL {
			opts = append(opts, jetstream.PurgeTTL(tombstoneTTL))
		}
		err := kv.Purge(ctx, v.key, opts...)
		switch {
		case err == nil:
			n++
			s.m.swept.Inc()
		case errors.Is(err, jetstream.ErrKeyExists), isWrongLast(err):
			// Changed since it was read (a late event, the other node's
			// sweep): the next sweep looks again.
		default:
			return n, fmt.Errorf("state: sweeping %s: %w", v.key, err)
		}
	}
	return n, nil
}

func isWrongLast(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Agents returns the agents of the account ("" for every account) in the
// bucket kv (ZOOM_AGENTS), sorted by key.
func Agents(ctx context.Context, kv jetstream.KeyValue, account string) ([]Agent, error) {
	return list[Agent](ctx, kv, account)
}

// Engagements returns the engagements of the account ("" for every
// account) in the bucket kv (ZOOM_ENGAGEMENTS), sorted by key: the open
// ones and those ended less than the builder's ended TTL ago.
func Engagements(ctx context.Context, kv jetstream.KeyValue, account string) ([]Engagement, error) {
	return list[Engagement](ctx, kv, account)
}

func list[T any](ctx context.Context, kv jetstream.KeyValue, account string) ([]T, error) {
	filter := ">"
	if account != "" {
		filter = token(account) + ".*"
	}
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("state: reading %s: %w", kv.Bucket(), err)
	}
	defer w.Stop()
	type kvPair struct {
		key string
		v   T
	}
	var out []kvPair
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("state: reading %s: %w", kv.Bucket(), ctx.Err())
		case e := <-w.Updates():
			if e == nil {
				vs := make([]T, 0, len(out))
				slicesSortByKey(out, func(p kvPair) string { return p.key })
				for _, p := range out {
					vs = append(vs, p.v)
				}
				return vs, nil
			}
			var v T
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return nil, fmt.Errorf("state: %s %s: decoding: %w", kv.Bucket(), e.Key(), err)
			}
			out = append(out, kvPair{e.Key(), v})
		}
	}
}

func slicesSortByKey[P any](ps []P, key func(P) string) {
	slices.SortFunc(ps, func(a, b P) int { return strings.Compare(key(a), key(b)) })
}
