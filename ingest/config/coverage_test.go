package config

import (
	"strings"
	"testing"
	"time"
)

// The node defaults to the host name made a safe token; the timings to
// their defaults.
func TestCoverageDefaults(t *testing.T) {
	old := hostname
	t.Cleanup(func() { hostname = old })
	hostname = func() (string, error) { return "ingest-1.dc2.example.com" + strings.Repeat("x", 60), nil }
	c, err := Parse([]byte("zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: sub1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Coverage
	if want := ("ingest-1-dc2-example-com" + strings.Repeat("x", 60))[:64]; v.Node != want {
		t.Errorf("node %q, want %q", v.Node, want)
	}
	if v.Window.D() != time.Hour || v.Interval.D() != 2*time.Second || v.StaleAfter.D() != 30*time.Second {
		t.Errorf("defaults %+v", v)
	}
}
