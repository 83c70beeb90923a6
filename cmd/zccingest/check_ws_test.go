package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zccingest/zccingest/test/sim"
)

// TestCheckSkipWebSocket: against a running node, check must be able to
// leave the subscriptions alone (opening one closes the node's socket
// where Zoom allows one connection); and it reports Zoom's OAuth errors
// that need a person in the words run logs.
func TestCheckSkipWebSocket(t *testing.T) {
	s := startSim(t, sim.Options{Subscriptions: []string{"a"}})
	o := s.Options()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, fmt.Appendf(nil, "zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q}\nsubscriptions: [{name: ris-a, id: a}]\nnats: {embedded: {store_dir: %q}}\n",
		o.AccountID, o.ClientID, o.ClientSecret, s.TokenURL(), s.WebSocketURL(), filepath.Join(dir, "js")), 0o600)
	code, out, _ := runCmd(t, "check", "--skip-websocket", "--config", path)
	if code != exitOK || !strings.Contains(out, "subscriptions: not opened (--skip-websocket)") || s.Attempts("a") != 0 {
		t.Errorf("check --skip-websocket: exit %d, %d connections opened\n%s", code, s.Attempts("a"), out)
	}
	s.FailBuilds(1, "Token is invalid (4741)")
	code, out, _ = runCmd(t, "check", "--config", path)
	if code != exitFail || !strings.Contains(out, "revoked by a newer one") || !strings.Contains(out, "zccingest token exchange") {
		t.Errorf("check with a revoked authorisation: exit %d\n%s", code, out)
	}
	_, _, errs := runCmd(t, "check", "-h")
	if !strings.Contains(errs, "-skip-websocket") || !strings.Contains(errs, "closes the node's") {
		t.Errorf("check -h does not explain --skip-websocket:\n%s", errs)
	}
}
