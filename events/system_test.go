package events

import "testing"

func TestSystemSubjectsAndGapID(t *testing.T) {
	if got := SystemSubject("zoom", "a.b c", SystemGap); got != "zoom.a_b_c.system.gap" {
		t.Errorf("SystemSubject = %q", got)
	}
	if got := AccountSubject("zoom", "a.b c", "cc.>"); got != "zoom.a_b_c.cc.>" {
		t.Errorf("AccountSubject = %q", got)
	}
	if got := ConnectionSubject("zoom"); got != "zoom.system.connection" {
		t.Errorf("ConnectionSubject = %q", got)
	}
	a := GapID(SystemGap, "acct", 1, 2, "")
	if a != "gap-acct-1-2" || a == GapID(SystemGap, "acct", 1, 3, "") || GapID(SystemInterruption, "acct", 1, 2, "ris-a") == GapID(SystemInterruption, "acct", 1, 2, "ris-b") {
		t.Errorf("GapID not one per gap: %q", a)
	}
}

func TestKeyToken(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{{"acct.1 x*>", 64, "acct_1_x__"}, {"", 8, "_"}, {"abcdefgh", 4, "abcd"}, {"é", 8, "__"}} {
		if got := KeyToken(c.in, c.max); got != c.want {
			t.Errorf("KeyToken(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
