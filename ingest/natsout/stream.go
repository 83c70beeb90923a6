package natsout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

// EnsureStream creates the stream if it is missing, with the retention of
// Options (MaxAge, MaxBytes, Replicas). A stream that exists keeps the
// operator's settings; only the subject and the duplicate window are
// brought in line, or a 1+1 pair's copies would not be de-duplicated.
func (c *Conn) EnsureStream(ctx context.Context) error {
	l := c.cur.Load()
	if l.js == nil {
		return nil
	}
	name := c.opts.Stream
	subject := c.opts.SubjectPrefix + ".>"
	s, err := l.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = l.js.CreateStream(ctx, c.NewStreamConfig())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			c.ensureClaims(ctx, l.js)
			return nil // the pair's other node created it first
		}
		if err != nil {
			return fmt.Errorf("natsout: creating stream %s: %w", name, err)
		}
		c.log.Info().Str("stream", name).Str("subjects", subject).Dur("max_age", c.opts.MaxAge).Int64("max_bytes", c.opts.MaxBytes).
			Int("replicas", max(c.opts.Replicas, 1)).Msg("JetStream stream created")
		c.ensureClaims(ctx, l.js)
		return nil
	}
	if err != nil {
		return fmt.Errorf("natsout: looking up stream %s: %w", name, err)
	}
	cfg, changes := StreamUpdate(s.CachedInfo().Config, c.opts)
	if len(changes) > 0 {
		if _, err := l.js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("natsout: stream %s: %s: %w", name, strings.Join(changes, ", "), err)
		}
		c.log.Info().Str("stream", name).Strs("changes", changes).Msg("JetStream stream updated")
	}
	c.ensureClaims(ctx, l.js)
	return nil
}

// ClaimTTL is how long an RTMS claim lives in the bucket the ingester
// creates: longer than any call, so that only a claim whose holder died
// without deleting it expires.
const ClaimTTL = 12 * time.Hour

// ensureClaims creates the RTMS claim bucket (events.RTMSClaimBucket) if it
// is missing, so that media adapters can claim a stream with a
// create-if-absent. An existing bucket keeps its settings. A failure (an
// outside server that does not let this user make buckets) is a warning:
// events flow without it, and the README says how to make it by hand.
func (c *Conn) ensureClaims(ctx context.Context, js jetstream.JetStream) {
	_, err := js.KeyValue(ctx, events.RTMSClaimBucket)
	if err == nil {
		return
	}
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      events.RTMSClaimBucket,
			Description: "RTMS stream claims of media adapters: <account>.<engagement>.<rtms_stream_id>",
			TTL:         ClaimTTL,
			Replicas:    max(c.opts.Replicas, 1),
			Storage:     jetstream.FileStorage,
		})
		if err == nil || errors.Is(err, jetstream.ErrBucketExists) {
			c.log.Info().Str("bucket", events.RTMSClaimBucket).Dur("ttl", ClaimTTL).Msg("RTMS claim bucket ready")
			return
		}
	}
	c.log.Warn().Err(err).Str("bucket", events.RTMSClaimBucket).Msg("RTMS claim bucket not ready: media adapters cannot claim streams until it exists")
}

// NewStreamConfig is the stream EnsureStream creates: file storage, the
// duplicate window, and limits, so that it cannot fill the disk.
func (c *Conn) NewStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       c.opts.Stream,
		Subjects:   []string{c.opts.SubjectPrefix + ".>"},
		Duplicates: c.opts.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		MaxAge:     c.opts.MaxAge,
		MaxBytes:   cmpOr(c.opts.MaxBytes, -1),
		Replicas:   max(c.opts.Replicas, 1),
		// At a limit the oldest events go, not the newest: a full stream
		// must not refuse what Zoom sends now.
		Discard: jetstream.DiscardOld,
	}
}

func cmpOr(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

// StreamUpdate returns an existing stream's config as EnsureStream leaves
// it, and what that changes: only the subject the ingester publishes on,
// unless one of the stream's subjects covers it, and the duplicate window.
// No changes means the stream is fine as it is.
func StreamUpdate(have jetstream.StreamConfig, o Options) (jetstream.StreamConfig, []string) {
	subject := o.SubjectPrefix + ".>"
	var changes []string
	if !slices.ContainsFunc(have.Subjects, func(s string) bool { return server.SubjectMatchesFilter(subject, s) }) {
		have.Subjects = append(slices.Clip(have.Subjects), subject)
		changes = append(changes, "add subject "+subject)
	}
	if w := o.DuplicateWindow; have.Duplicates != w {
		changes = append(changes, fmt.Sprintf("set duplicate window %s (was %s)", w, have.Duplicates))
		have.Duplicates = w
	}
	return have, changes
}

// Unbounded reports whether a stream keeps everything for ever: no age,
// size or count limit. Its store grows until the disk is full, and then
// every publish is refused.
func Unbounded(c jetstream.StreamConfig) bool {
	return c.MaxAge == 0 && c.MaxBytes <= 0 && c.MaxMsgs <= 0
}
