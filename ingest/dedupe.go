package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"
)

// seen remembers event keys for a window, so that a 1+1 pair's second copy
// of an event is dropped in-process. (A JetStream stream de-duplicates by
// Nats-Msg-Id too; this also covers core NATS.) Keys are held as 16 bytes,
// not strings: at high rates the maps are most of the live heap, and maps
// without pointers are not scanned by the garbage collector.
//
// Each key holds the subscriptions (bits by index) that delivered it, so
// that an event delivered on one leg of a pair only, while every leg was
// open, is counted when its map is discarded: a leg silently missing
// events shows there before it becomes a gap.
type seen struct {
	window time.Duration
	mu     sync.Mutex
	cur    map[key]legBits
	prev   map[key]legBits
	turned time.Time

	legs                *legs
	curEpoch, prevEpoch uint64 // legs.closes when the map was made
	curOK, prevOK       bool   // every leg open when the map was made
	// single gets each discarded map whose whole time every leg was open
	// (in a goroutine of its own: it may be large).
	single func(map[key]legBits)
}

// legBits are the subscriptions that delivered a key, bit i for the
// ingester's subscription i.
type legBits uint16

// legs is which subscriptions have a connection open, from Ingester.OnState.
type legs struct {
	n      int
	mu     sync.Mutex
	count  []int
	open   atomic.Uint32 // bit i: subscription i open
	closes atomic.Uint64 // times a subscription went to none open
}

// epoch returns the closes so far and whether every leg of a pair is open.
func (l *legs) epoch() (uint64, bool) {
	if l == nil || l.n < 2 {
		return 0, false
	}
	c := l.closes.Load()
	return c, l.open.Load() == 1<<l.n-1
}

type key [16]byte

// keyOf returns the 128 bits of an event key (32 hex digits, as events
// makes them); anything else is digested to 128 bits.
func keyOf(id string) key {
	var k key
	if len(id) == 2*len(k) {
		if _, err := hex.Decode(k[:], []byte(id)); err == nil {
			return k
		}
	}
	sum := sha256.Sum256([]byte(id))
	copy(k[:], sum[:])
	return k
}

func newSeen(window time.Duration) *seen {
	return &seen{window: window, cur: map[key]legBits{}, prev: map[key]legBits{}, turned: time.Now()}
}

// add records id as delivered on the leg (bit; 0 for none) and reports
// whether it is new. An id is remembered for at least the window and at
// most twice it.
func (s *seen) add(id string, leg legBits, now time.Time) bool {
	k := keyOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.turned) >= s.window {
		s.turn(now)
	}
	if v, ok := s.cur[k]; ok {
		if v&leg != leg {
			s.cur[k] = v | leg
		}
		return false
	}
	if v, ok := s.prev[k]; ok {
		if v&leg != leg {
			s.prev[k] = v | leg
		}
		return false
	}
	s.cur[k] = leg
	return true
}

// turn discards prev, whose keys have all been held a window at least.
// If every leg was open from when it was made until now, its keys
// delivered on one leg only are counted.
func (s *seen) turn(now time.Time) {
	old, oldOK, oldEpoch := s.prev, s.prevOK, s.prevEpoch
	s.prev, s.prevOK, s.prevEpoch = s.cur, s.curOK, s.curEpoch
	s.cur, s.turned = make(map[key]legBits, len(s.cur)), now
	s.curEpoch, s.curOK = s.legs.epoch()
	if oldOK && s.curOK && s.curEpoch == oldEpoch && s.single != nil && len(old) > 0 {
		go s.single(old)
	}
}

// forget drops id again: its event was not kept, so another copy must be.
func (s *seen) forget(id string) {
	k := keyOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cur, k)
	delete(s.prev, k)
}
