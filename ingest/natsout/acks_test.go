package natsout

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestAcksRouting drives the acknowledgement routing as nats.go's handlers
// do: answers before the batch is sealed, out of order, after the batch
// was given up on, and twice.
func TestAcksRouting(t *testing.T) {
	var a acks
	nms := make([]nats.Msg, 4)
	done := a.begin(len(nms))
	refused := errors.New("refused")
	// Answered before the next is published: left touches 0 unsealed.
	a.expect(&nms[0], 0)
	a.failed(nil, &nms[0], refused)
	a.expect(&nms[1], 1)
	a.expect(&nms[3], 3)
	a.expect(&nms[2], 2)
	a.forget(&nms[2]) // its publish failed
	a.ok(nil, &nms[3], nil)
	a.ok(nil, &nms[1], nil)
	a.ok(nil, &nms[3], nil) // a second answer changes nothing
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := a.wait(ctx, done)
	want := []ackResult{{waited: true, done: true, err: refused}, {waited: true, done: true}, {}, {waited: true, done: true}}
	for i := range want {
		if r[i] != want[i] {
			t.Errorf("message %d: %+v, want %+v", i, r[i], want[i])
		}
	}

	// A batch whose context ends: the unanswered message is not done, and
	// its late answer does not reach the next batch.
	old := make([]nats.Msg, 2)
	done = a.begin(len(old))
	a.expect(&old[0], 0)
	a.expect(&old[1], 1)
	a.ok(nil, &old[0], nil)
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	r = a.wait(cctx, done)
	if !r[0].done || r[1].done || !r[1].waited {
		t.Fatalf("given-up batch: %+v", r)
	}
	next := make([]nats.Msg, 2)
	done = a.begin(len(next))
	a.expect(&next[0], 0)
	a.expect(&next[1], 1)
	a.failed(nil, &old[1], errors.New("late"))
	a.ok(nil, &next[1], nil)
	select {
	case <-done:
		t.Fatal("a late answer of the old batch settled the new one")
	default:
	}
	a.ok(nil, &next[0], nil)
	a.failed(nil, &old[1], errors.New("late"))
	if r = a.wait(ctx, done); r[0] != (ackResult{waited: true, done: true}) || r[1] != r[0] {
		t.Fatalf("new batch: %+v", r)
	}
}
