package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/zccingest/zccingest/events"
)

// item is a message waiting for the sink, with when its frame arrived.
type item struct {
	msg      *events.Message
	received time.Time
	size     int64  // what it holds of the byte budget
	seq      uint64 // its frame's record in the WAL; 0: none
}

// sizeOf is what m holds of the byte budget: its body and subject, and a
// bound on its headers (a handful of short values) and bookkeeping.
func sizeOf(m *events.Message) int64 { return int64(len(m.Data) + len(m.Subject) + 512) }

// buffer holds messages, in order, until the sink has them: bounded by a
// count and by bytes. What the publisher has taken and not yet resolved
// (acknowledged, or given up) still counts against both.
type buffer struct {
	maxItems int
	maxBytes int64

	mu       sync.Mutex
	q        []item
	inflight int
	bytes    int64 // of q and in flight
	closed   bool

	avail chan struct{} // signalled when q gains an item or the buffer closes
	space chan struct{} // signalled when room is freed
}

func newBuffer(maxItems int, maxBytes int64) *buffer {
	return &buffer{maxItems: maxItems, maxBytes: maxBytes, avail: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// full says why it cannot take it now, "" if it can. One message larger
// than the whole byte budget is let in alone, or it could never be.
func (b *buffer) full(it item) string {
	held := len(b.q) + b.inflight
	switch {
	case held >= b.maxItems:
		return "buffer_full"
	case held > 0 && b.bytes+it.size > b.maxBytes:
		return "buffer_bytes"
	}
	return ""
}

// put adds it unless the buffer is full, and says why not.
func (b *buffer) put(it item) (reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "closed"
	}
	if reason := b.full(it); reason != "" {
		return reason
	}
	b.q = append(b.q, it)
	b.bytes += it.size
	signal(b.avail)
	return ""
}

// putWait adds it, waiting for room as long as ctx allows.
func (b *buffer) putWait(ctx context.Context, it item) error {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return context.Canceled
		}
		if b.full(it) == "" {
			b.q = append(b.q, it)
			b.bytes += it.size
			signal(b.avail)
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		select {
		case <-b.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take moves up to n items, oldest first, into dst and marks them in
// flight. It waits for at least one; an empty result means the buffer is
// closed and empty.
func (b *buffer) take(dst []item, n int) []item {
	for {
		b.mu.Lock()
		if len(b.q) > 0 {
			k := min(n, len(b.q))
			dst = append(dst, b.q[:k]...)
			clear(b.q[:k]) // let the messages go once resolved
			b.q = b.q[k:]
			if len(b.q) == 0 {
				b.q = b.q[:0:0]
			}
			b.inflight += k
			b.mu.Unlock()
			return dst
		}
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return dst
		}
		<-b.avail
	}
}

// done releases n items taken earlier, of size bytes together.
func (b *buffer) done(n int, size int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.inflight -= n
	b.bytes -= size
	b.mu.Unlock()
	signal(b.space)
}

// close stops put; take returns what is left, then nothing.
func (b *buffer) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	signal(b.avail)
	signal(b.space)
}

// discard empties the buffer and returns what it held.
func (b *buffer) discard() []item {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.q
	for _, it := range b.q {
		b.bytes -= it.size
	}
	b.q = nil
	return q
}

// depth is what is held: buffered and in flight.
func (b *buffer) depth() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q) + b.inflight
}
