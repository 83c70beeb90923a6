package config

import "time"

// Reconcile defaults and bounds.
const (
	DefaultReconcileMargin            = 2 * time.Minute
	DefaultReconcileMaxGap            = 24 * time.Hour
	DefaultReconcileRequestsPerMinute = 600
	DefaultReconcileSettle            = time.Minute
	MaxReconcileMaxGap                = 30 * 24 * time.Hour
	MaxReconcileRequestsPerMinute     = 60_000
)

// Reconcile configures the rebuilding of gaps from Zoom's Contact Center
// REST API (package reconcile).
type Reconcile struct {
	// Enabled defaults to true when JetStream is on (nats.stream set):
	// gaps, progress and rebuilt events all live in JetStream.
	Enabled bool `yaml:"enabled"`
	// Margin widens each gap on both sides for the REST queries.
	Margin Duration `yaml:"margin"`
	// MaxGap: a longer gap is not reconciled; its summary says so.
	MaxGap Duration `yaml:"max_gap"`
	// RequestsPerMinute is the reconciler's own REST budget, on top of
	// Zoom's rate-limit headers: the account's limits are shared by every
	// app on it.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// Settle is how long after a gap's end Zoom is given to process its
	// engagements before the first query (Zoom lists an engagement only
	// once processed, about a minute after it ended).
	Settle Duration `yaml:"settle"`
}

func (c *Config) setReconcileDefaults(unset func(string) bool) {
	r := &c.Reconcile
	if unset("reconcile.enabled") {
		// An OAuth app's file names no account: its gaps carry none,
		// and the stream could not be searched for what was received.
		r.Enabled = c.NATS.StreamName() != "" && c.Zoom.AccountID != ""
	}
	if unset("reconcile.margin") {
		r.Margin = Duration(DefaultReconcileMargin)
	}
	if unset("reconcile.max_gap") {
		r.MaxGap = Duration(DefaultReconcileMaxGap)
	}
	if unset("reconcile.requests_per_minute") {
		r.RequestsPerMinute = DefaultReconcileRequestsPerMinute
	}
	if unset("reconcile.settle") {
		r.Settle = Duration(DefaultReconcileSettle)
	}
}

func (c *Config) validateReconcile() error {
	r := c.Reconcile
	if r.Enabled && c.NATS.StreamName() == "" {
		return errorf("reconcile.enabled", "true needs JetStream: gaps, progress and rebuilt events live in the stream (set nats.stream, or reconcile.enabled: false)")
	}
	if r.Enabled && c.Zoom.AccountID == "" {
		return errorf("reconcile.enabled", "true needs zoom.account_id: the REST API answers for one account, and its gaps are found by it (an OAuth app's file names none; set zoom.account_id, or reconcile.enabled: false)")
	}
	if d := r.Margin.D(); d < 0 || d > time.Hour {
		return errorf("reconcile.margin", "%s is out of range: 0s to 1h", d)
	}
	if d := r.MaxGap.D(); d < time.Minute || d > MaxReconcileMaxGap {
		return errorf("reconcile.max_gap", "%s is out of range: 1m to %s", d, MaxReconcileMaxGap)
	}
	if d := r.Settle.D(); d < 0 || d > time.Hour {
		return errorf("reconcile.settle", "%s is out of range: 0s to 1h", d)
	}
	if n := r.RequestsPerMinute; n < 1 || n > MaxReconcileRequestsPerMinute {
		return errorf("reconcile.requests_per_minute", "%d is out of range: 1 to %d", n, MaxReconcileRequestsPerMinute)
	}
	return nil
}
