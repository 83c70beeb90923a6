package events

import "testing"

func TestSystemSubjectsAndGapID(t *testing.T) {
	if got := SystemSubject("zoom", "a.b c", SystemGap); got != "zoom.a_b_c.system.gap" {
		t.Errorf("SystemSubject = %q", got)
	}
	if got := ConnectionSubject("zoom"); got != "zoom.system.connection" {
		t.Errorf("ConnectionSubject = %q", got)
	}
	a := GapID(SystemGap, "acct", 1, 2, "")
	if a != "gap-acct-1-2" || a == GapID(SystemGap, "acct", 1, 3, "") || GapID(SystemInterruption, "acct", 1, 2, "ris-a") == GapID(SystemInterruption, "acct", 1, 2, "ris-b") {
		t.Errorf("GapID not one per gap: %q", a)
	}
}
