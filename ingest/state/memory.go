package state

import (
	"context"
	"encoding/json"
	"strings"
)

// Memory is the state held in memory: the same merge as the KV buckets,
// for tests and tools that fold events without NATS.
type Memory struct {
	values map[string][]byte // <kind>/<key> → JSON
}

// NewMemory returns an empty state.
func NewMemory() *Memory { return &Memory{values: map[string][]byte{}} }

func (m *Memory) update(_ context.Context, bucket, key string, merge func([]byte) ([]byte, error)) error {
	b, err := merge(m.values[bucket+"/"+key])
	if err != nil || b == nil {
		return err
	}
	m.values[bucket+"/"+key] = b
	return nil
}

// Apply merges one event. An event the state does not follow is ignored;
// a malformed one is an error.
func (m *Memory) Apply(in Input) error {
	c, err := plan(in)
	if err == ErrIgnored {
		return nil
	}
	if err != nil {
		return err
	}
	return apply(context.Background(), m, c, 0)
}

// Agents returns every agent, by key.
func (m *Memory) Agents() map[string]Agent { return decodeAll[Agent](m.values, agentsKind) }

// Engagements returns every engagement, by key.
func (m *Memory) Engagements() map[string]Engagement {
	return decodeAll[Engagement](m.values, engagementsKind)
}

func decodeAll[T any](values map[string][]byte, kind string) map[string]T {
	out := map[string]T{}
	for k, b := range values {
		if key, ok := strings.CutPrefix(k, kind+"/"); ok {
			var v T
			if json.Unmarshal(b, &v) == nil {
				out[key] = v
			}
		}
	}
	return out
}
