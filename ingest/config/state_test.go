package config_test

import (
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/config"
)

func TestStateDefaultsAndKeys(t *testing.T) {
	base := `
zoom:
  account_id: acct
  client_id: cid
  client_secret: s
subscriptions:
  - name: a
    id: sub1
`
	c, err := config.Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.State; !s.Enabled || s.EndedTTL.D() != 10*time.Minute || s.AgentsBucket != "ZOOM_AGENTS" || s.EngagementsBucket != "ZOOM_ENGAGEMENTS" {
		t.Errorf("defaults: %+v", s)
	}
	c, err = config.Parse([]byte(base + `state:
  enabled: false
  ended_ttl: 1h
  agents_bucket: A
  engagements_bucket: E
`))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.State; s.Enabled || s.EndedTTL.D() != time.Hour || s.AgentsBucket != "A" || s.EngagementsBucket != "E" {
		t.Errorf("set: %+v", s)
	}
}
