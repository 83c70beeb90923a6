package zoomws

import (
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
	// The last time the subscription went to none open, and the open
	// that followed it.
	lastZero, reopened time.Time
}

func (l *stateLog) on(sub string, open bool, at time.Time, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if open {
		if l.open[sub] == 0 && !l.lastZero.IsZero() && l.reopened.IsZero() {
			l.reopened = at
		}
		l.open[sub]++
		l.ups = append(l.ups, at)
		return
	}
	l.open[sub]--
	l.dns = append(l.dns, at)
	if l.open[sub] == 0 && reason != reasonShutdown {
		l.zero[sub]++
		l.lastZero, l.reopened = at, time.Time{}
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
	ups0, _, _ := l.counts()
	r.sim.DropConnections("a")
	r.until(t, "reconnect", func() bool {
		ups, _, zero := l.counts()
		l.mu.Lock()
		defer l.mu.Unlock()
		return zero == 1 && ups > ups0 && !l.reopened.IsZero()
	})
	l.mu.Lock()
	down, up := l.lastZero, l.reopened
	l.mu.Unlock()
	// The simulator's gap of the drop: the one that began nearest the
	// close reported.
	gaps := r.sim.Gaps()
	var g sim.Gap
	for _, c := range gaps {
		if !c.To.IsZero() && (g.From.IsZero() || c.From.Sub(down).Abs() < g.From.Sub(down).Abs()) {
			g = c
		}
	}
	if g.From.IsZero() {
		t.Fatalf("the simulator has no ended gap: %+v", gaps)
	}
	const bound = 50 * time.Millisecond
	if d := down.Sub(g.From).Abs(); d > bound {
		t.Errorf("close reported %s from the simulator's gap start", d)
	}
	if d := up.Sub(g.To).Abs(); d > bound {
		t.Errorf("open reported %s from the simulator's gap end", d)
	}
}
