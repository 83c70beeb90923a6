package config

import (
	"os"
	"regexp"
	"time"
)

// Coverage defaults.
const (
	DefaultCoverageWindow     = time.Hour
	DefaultCoverageInterval   = 2 * time.Second
	DefaultCoverageStaleAfter = 30 * time.Second
)

// Coverage configures the coverage ledger (package ingest/coverage): this
// node's name in it, and its timings.
type Coverage struct {
	// Node names this ingester in the ledger: [A-Za-z0-9_-]{1,64}, one
	// per host of a pair; default the host name made safe.
	Node string `yaml:"node"`
	// Window of zccingest_coverage_ratio.
	Window Duration `yaml:"window"`
	// Interval: how often the node rewrites its record (and reads the
	// others').
	Interval Duration `yaml:"interval"`
	// StaleAfter: a node's record not rewritten for this long counts as
	// closed from its last write.
	StaleAfter Duration `yaml:"stale_after"`
}

var nodeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// SafeNode makes a host name a node name: characters other than
// [A-Za-z0-9_-] become '-', cut to 64.
func SafeNode(host string) string {
	b := []byte(host)
	if len(b) > 64 {
		b = b[:64]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "node"
	}
	return string(b)
}

var hostname = os.Hostname

func (c *Config) setCoverageDefaults(unset func(string) bool) {
	v := &c.Coverage
	if v.Node == "" {
		h, _ := hostname()
		v.Node = SafeNode(h)
	}
	if unset("coverage.window") {
		v.Window = Duration(DefaultCoverageWindow)
	}
	if unset("coverage.interval") {
		v.Interval = Duration(DefaultCoverageInterval)
	}
	if unset("coverage.stale_after") {
		v.StaleAfter = Duration(DefaultCoverageStaleAfter)
	}
}

func (c *Config) validateCoverage() error {
	v := c.Coverage
	if !nodeRE.MatchString(v.Node) {
		return errorf("coverage.node", "%q must match [A-Za-z0-9_-]{1,64}", v.Node)
	}
	if d := v.Window.D(); d < time.Minute || d > 7*24*time.Hour {
		return errorf("coverage.window", "%s is out of range: 1m to 168h", d)
	}
	if d := v.Interval.D(); d < 100*time.Millisecond || d > time.Minute {
		return errorf("coverage.interval", "%s is out of range: 100ms to 1m", d)
	}
	if d := v.StaleAfter.D(); d < 3*v.Interval.D() || d > time.Hour {
		return errorf("coverage.stale_after", "%s is out of range: 3 × coverage.interval (%s) to 1h (a node that skipped two writes is not gone)", d, 3*v.Interval.D())
	}
	return nil
}
