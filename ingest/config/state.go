package config

import "time"

// State defaults.
const (
	DefaultStateEndedTTL          = 10 * time.Minute
	DefaultStateAgentsBucket      = "ZOOM_AGENTS"
	DefaultStateEngagementsBucket = "ZOOM_ENGAGEMENTS"
	MinStateEndedTTL              = 10 * time.Second
	MaxStateEndedTTL              = 24 * time.Hour
)

// State configures the live state of agents and engagements in NATS KV,
// built from the events stream (JetStream only).
type State struct {
	Enabled bool `yaml:"enabled"`
	// EndedTTL: an ended engagement leaves its bucket this long after it
	// ended.
	EndedTTL          Duration `yaml:"ended_ttl"`
	AgentsBucket      string   `yaml:"agents_bucket"`
	EngagementsBucket string   `yaml:"engagements_bucket"`
}

func (c *Config) setStateDefaults(unset func(string) bool) {
	s := &c.State
	if unset("state.enabled") {
		s.Enabled = true
	}
	if unset("state.ended_ttl") {
		s.EndedTTL = Duration(DefaultStateEndedTTL)
	}
	setString(&s.AgentsBucket, DefaultStateAgentsBucket)
	setString(&s.EngagementsBucket, DefaultStateEngagementsBucket)
}

func (c *Config) validateState() error {
	s := c.State
	if d := s.EndedTTL.D(); d < MinStateEndedTTL || d > MaxStateEndedTTL {
		return errorf("state.ended_ttl", "%s is out of range: %s to %s", d, MinStateEndedTTL, MaxStateEndedTTL)
	}
	for key, v := range map[string]string{"state.agents_bucket": s.AgentsBucket, "state.engagements_bucket": s.EngagementsBucket} {
		if !tokenRE.MatchString(v) {
			return errorf(key, "%q must match [A-Za-z0-9_-]+", v)
		}
	}
	if s.AgentsBucket == s.EngagementsBucket {
		return errorf("state.engagements_bucket", "%q is also state.agents_bucket; the two need their own names", s.EngagementsBucket)
	}
	return nil
}
