package config_test

import (
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/config"
)

func TestReconcileDefaults(t *testing.T) {
	base := "zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\n"
	for _, tc := range []struct {
		name, extra string
		want        config.Reconcile
	}{
		{"jetstream", "", config.Reconcile{Enabled: true, Margin: config.Duration(2 * time.Minute), MaxGap: config.Duration(24 * time.Hour), RequestsPerMinute: 600, Settle: config.Duration(time.Minute)}},
		{"core NATS", "nats: {stream: ''}\n", config.Reconcile{Enabled: false, Margin: config.Duration(2 * time.Minute), MaxGap: config.Duration(24 * time.Hour), RequestsPerMinute: 600, Settle: config.Duration(time.Minute)}},
		{"set", "reconcile: {enabled: false, margin: 0s, max_gap: 2h, requests_per_minute: 60, settle: 0s}\n", config.Reconcile{Enabled: false, Margin: 0, MaxGap: config.Duration(2 * time.Hour), RequestsPerMinute: 60}},
	} {
		c, err := config.Parse([]byte(base + tc.extra))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if c.Reconcile != tc.want {
			t.Errorf("%s: reconcile = %+v, want %+v", tc.name, c.Reconcile, tc.want)
		}
	}
}

// An OAuth app's file names no account: reconciliation is off unless asked
// for (and asking for it is refused, see testdata/invalid).
func TestReconcileOffForOAuthApp(t *testing.T) {
	c, err := config.Parse([]byte("zoom: {oauth_app: {client_id: c, client_secret: s, refresh_token_file: /tmp/rt}}\nsubscriptions: [{name: a, id: x}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reconcile.Enabled {
		t.Error("reconciliation on for an OAuth app with no zoom.account_id")
	}
}
