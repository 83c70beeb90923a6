package main

import (
	"strings"
	"testing"
)

// sim documents its REST flags and refuses bad values with exit 2.
func TestSimRESTFlags(t *testing.T) {
	_, _, errs := runCmd(t, "sim", "-h")
	for _, flag := range []string{"-rest-rate", "-rest-heavy-per-day", "-rest-daily-reset", "-rest-processing-delay", "-rest-page-size",
		"-rest-page-token-ttl", "-rest-timezone", "-rest-repeat-first-page"} {
		if !strings.Contains(errs, flag) {
			t.Errorf("sim -h does not document %s", flag)
		}
	}
	for _, bad := range [][]string{
		{"-rest-rate", "20,10"}, {"-rest-rate", "20,0,5"}, {"-rest-timezone", "Mars/Olympus"}, {"-rest-page-size", "0"},
	} {
		code, _, errs := runCmd(t, append([]string{"sim", "-listen", "127.0.0.1:0"}, bad...)...)
		if code != exitConfig || !strings.Contains(errs, bad[0]) {
			t.Errorf("sim %v: exit %d, %q; want %d naming the flag", bad, code, errs, exitConfig)
		}
	}
}
