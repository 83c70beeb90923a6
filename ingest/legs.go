package ingest

import (
	"math/bits"
	"time"
)

// maxLegs is how many subscriptions the single-leg count tells apart.
const maxLegs = 16

func (in *Ingester) initLegs() {
	n := min(len(in.opts.Subscriptions), maxLegs)
	in.legs = &legs{n: n, count: make([]int, n)}
	in.seen.legs = in.legs
	in.seen.curEpoch, in.seen.curOK = in.legs.epoch()
	for _, s := range in.opts.Subscriptions[:n] {
		in.m.singleLeg.WithLabelValues(s) // every configured leg shows, at 0
	}
	in.seen.single = in.countSingle
}

// legBit is the bit of the named subscription; 0 for one not configured.
func (in *Ingester) legBit(sub string) legBits {
	for i, s := range in.opts.Subscriptions[:in.legs.n] {
		if s == sub {
			return 1 << i
		}
	}
	return 0
}

// OnState is told when a built connection of a subscription opens and
// ends (zoomws.Options.OnState): an event counts as single-leg only while
// every leg of the pair was open.
func (in *Ingester) OnState(sub string, open bool, _ time.Time, _ string) {
	b := in.legBit(sub)
	if b == 0 {
		return
	}
	i := bits.TrailingZeros16(uint16(b))
	l := in.legs
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case open:
		l.count[i]++
		if l.count[i] == 1 {
			l.open.Or(uint32(b))
		}
	case l.count[i] > 0:
		l.count[i]--
		if l.count[i] == 0 {
			l.open.And(^uint32(b))
			l.closes.Add(1)
		}
	}
}

// countSingle counts the keys of a discarded de-duplication map that one
// leg only delivered.
func (in *Ingester) countSingle(m map[key]legBits) {
	n := make([]int, in.legs.n)
	for _, v := range m {
		if v != 0 && v&(v-1) == 0 {
			n[bits.TrailingZeros16(uint16(v))]++
		}
	}
	for i, c := range n {
		if c > 0 {
			in.m.singleLeg.WithLabelValues(in.opts.Subscriptions[i]).Add(float64(c))
		}
	}
}
