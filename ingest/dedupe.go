package ingest

import (
	"sync"
	"time"
)

// seen remembers event keys for a window, so that a 1+1 pair's second copy
// of an event is dropped in-process. (A JetStream stream de-duplicates by
// Nats-Msg-Id too; this also covers core NATS.)
type seen struct {
	window time.Duration
	mu     sync.Mutex
	cur    map[string]struct{}
	prev   map[string]struct{}
	turned time.Time
}

func newSeen(window time.Duration) *seen {
	return &seen{window: window, cur: map[string]struct{}{}, prev: map[string]struct{}{}, turned: time.Now()}
}

// add records key and reports whether it is new. A key is remembered for
// at least the window and at most twice it.
func (s *seen) add(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.turned) >= s.window {
		s.prev, s.cur, s.turned = s.cur, make(map[string]struct{}, len(s.cur)), now
	}
	if _, ok := s.cur[key]; ok {
		return false
	}
	if _, ok := s.prev[key]; ok {
		return false
	}
	s.cur[key] = struct{}{}
	return true
}

// forget drops key again: its event was not kept, so another copy must be.
func (s *seen) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cur, key)
	delete(s.prev, key)
}
