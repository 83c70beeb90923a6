package state

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// errSwept: the engagement ended and was swept; its late events are dropped.
var errSwept = errors.New("state: engagement swept")

// A store reads and writes values by key, one key at a time: update reads
// the key's value (a zero value when absent), lets fn merge into it, and
// writes the result if it changed, with a compare-and-set.
// merge gets the key's value (nil when absent) and returns the new one,
// nil when nothing changed.
type store interface {
	update(ctx context.Context, bucket, key string, merge func(old []byte) ([]byte, error)) error
}

// mergeInto returns the merge that decodes the old value into v, applies
// fn, and encodes it. A value that does not decode (damaged, or from an
// incompatible version) is started again from the event.
func mergeInto[T any](v *T, fn func()) func(old []byte) ([]byte, error) {
	return func(old []byte) ([]byte, error) {
		var zero T
		*v = zero
		if old != nil {
			if err := json.Unmarshal(old, v); err != nil {
				*v = zero
			}
		}
		fn()
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("state: encoding: %w", err)
		}
		if bytes.Equal(b, old) {
			return nil, nil
		}
		return b, nil
	}
}

// Bucket kinds, resolved to bucket names by the store.
const (
	agentsKind      = "agents"
	engagementsKind = "engagements"
)

// apply merges one event into the store.
func apply(ctx context.Context, s store, c *change, pruneBefore int64) error {
	if c.engagement != "" {
		var e Engagement
		err := s.update(ctx, engagementsKind, Key(c.account, c.engagement), mergeInto(&e, func() { c.applyEngagement(&e) }))
		if errors.Is(err, errSwept) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("state: updating engagement %s: %w", c.engagement, err)
		}
		for u, m := range c.memberships(&e) {
			var a Agent
			if err := s.update(ctx, agentsKind, Key(c.account, u), mergeInto(&a, func() { c.applyAgent(&a, u, &m, pruneBefore) })); err != nil {
				return fmt.Errorf("state: updating agent %s: %w", u, err)
			}
		}
	}
	if c.agent != "" {
		var a Agent
		if err := s.update(ctx, agentsKind, Key(c.account, c.agent), mergeInto(&a, func() { c.applyAgent(&a, c.agent, nil, pruneBefore) })); err != nil {
			return fmt.Errorf("state: updating agent %s: %w", c.agent, err)
		}
	}
	return nil
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// Key returns the KV key of an account's agent or engagement:
// <account>.<id>, each token kept when it is 1 to 128 of [A-Za-z0-9_-],
// else "x" and 32 hex digits of its SHA-256 (as the RTMS claim keys).
func Key(account, id string) string { return token(account) + "." + token(id) }

func token(s string) string {
	if tokenRE.MatchString(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "x" + hex.EncodeToString(sum[:16])
}
