package zoomws

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zccingest/zccingest/test/sim"
)

type stateLog struct {
	mu   sync.Mutex
	open map[string]int // connections open now, by subscription
	zero map[string]int // times a subscription went to none open
	ups  []time.Time
	dns  []time.Time
	// Each time the subscription went to none open: when, and the open
	// that followed (zero while none has).
	gaps [][2]time.Time
}

func (l *stateLog) on(sub string, open bool, at time.Time, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if open {
		if n := len(l.gaps); l.open[sub] == 0 && n > 0 && l.gaps[n-1][1].IsZero() {
			l.gaps[n-1][1] = at
		}
		l.open[sub]++
		l.ups = append(l.ups, at)
		return
	}
	l.open[sub]--
	l.dns = append(l.dns, at)
	if l.open[sub] == 0 && reason != reasonShutdown {
		l.zero[sub]++
		l.gaps = append(l.gaps, [2]time.Time{at, {}})
	}
}

func (l *stateLog) counts() (ups, downs, zero int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ups), len(l.dns), l.zero["ris-a"]
}

// OnState reports every built connection's open and end at the socket's
// times, which match the simulator's record of the subscription's gap; a
// rotation opens the new connection before the old one ends, so the
// subscription never goes to none open.
func TestOnState(t *testing.T) {
	l := &stateLog{open: map[string]int{}, zero: map[string]int{}}
	r := newRig(t, sim.Options{TokenLifetime: 3 * time.Second, CloseOnTokenExpiry: true}, []string{"a"},
		func(o *Options, _ *Client) { o.OnState = l.on })
	if err := r.sim.WaitBuilds(ctxT(t, 10*time.Second), "a", 1); err != nil {
		t.Fatal(err)
	}
	// Rotation ahead of the token's expiry (3 s life: 300 ms ahead).
	r.until(t, "rotation", func() bool { ups, downs, _ := l.counts(); return ups >= 2 && downs >= 1 })
	if _, _, zero := l.counts(); zero != 0 {
		t.Fatalf("a rotation left the subscription with no connection open %d time(s)", zero)
	}
	r.sim.DropConnections("a")
	// Every time the subscription had none open (the drop, and any token
	// expiry that a loaded machine let close a connection before its
	// replacement) is the simulator's record of a gap, in order; its
	// first gap is the one before the first connection.
	var ours [][2]time.Time
	var theirs []sim.Gap
	r.until(t, "the reconnect, reported as the simulator saw it", func() bool {
		l.mu.Lock()
		ours = slices.Clone(l.gaps)
		l.mu.Unlock()
		theirs = r.sim.Gaps()[1:]
		if len(ours) == 0 || len(ours) != len(theirs) || ours[len(ours)-1][1].IsZero() || theirs[len(theirs)-1].To.IsZero() {
			return false
		}
		return true
	})
	const bound = 50 * time.Millisecond
	for i, g := range theirs {
		if d := ours[i][0].Sub(g.From).Abs(); d > bound {
			t.Errorf("gap %d: close reported %s from the simulator's gap start", i, d)
		}
		if d := ours[i][1].Sub(g.To).Abs(); d > bound {
			t.Errorf("gap %d: open reported %s from the simulator's gap end", i, d)
		}
	}
}
