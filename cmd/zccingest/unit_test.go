package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The systemd unit in configs/ is valid, and its hardening stays where
// `systemd-analyze security` rates it "OK" at 1.5 or below (it rated 1.8
// before ProtectProc, ProcSubset, PrivateUsers, PrivateMounts,
// IPAddressDeny and the tighter SystemCallFilter). Skipped where systemd's
// tools are not installed.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "configs", "zccingest.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RestartPreventExitStatus=2", "WorkingDirectory=/var/lib/zccingest", "KillSignal=SIGTERM"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	// verify wants the ExecStart binary to exist: point it at this test's.
	dir := t.TempDir()
	path := filepath.Join(dir, "zccingest.service")
	os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/zccingest", os.Args[0])), 0o644)
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	cmd := exec.Command(analyze, "security", "--offline=true", "--threshold=15", path)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: exposure above 1.5 (%v):\n%s", err, out)
	}
}
