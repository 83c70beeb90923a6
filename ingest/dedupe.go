package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// seen remembers event keys for a window, so that a 1+1 pair's second copy
// of an event is dropped in-process. (A JetStream stream de-duplicates by
// Nats-Msg-Id too; this also covers core NATS.) Keys are held as 16 bytes,
// not strings: at high rates the maps are most of the live heap, and maps
// without pointers are not scanned by the garbage collector.
type seen struct {
	window time.Duration
	mu     sync.Mutex
	cur    map[key]struct{}
	prev   map[key]struct{}
	turned time.Time
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
	return &seen{window: window, cur: map[key]struct{}{}, prev: map[key]struct{}{}, turned: time.Now()}
}

// add records id and reports whether it is new. An id is remembered for
// at least the window and at most twice it.
func (s *seen) add(id string, now time.Time) bool {
	k := keyOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.turned) >= s.window {
		s.prev, s.cur, s.turned = s.cur, make(map[key]struct{}, len(s.cur)), now
	}
	if _, ok := s.cur[k]; ok {
		return false
	}
	if _, ok := s.prev[k]; ok {
		return false
	}
	s.cur[k] = struct{}{}
	return true
}

// forget drops id again: its event was not kept, so another copy must be.
func (s *seen) forget(id string) {
	k := keyOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cur, k)
	delete(s.prev, k)
}
