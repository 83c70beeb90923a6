package ingest

import (
	"context"

	"github.com/zccingest/zccingest/events"
)

// A Sink is where the pipeline publishes: NATS (package natsout) today. A
// second output implements Sink in a package of its own under ingest/.
type Sink interface {
	// Publish sends msgs in order and waits until each is acknowledged or
	// refused, or ctx is done. errs has the length of msgs: Publish sets
	// errs[i] to nil when msgs[i] is acknowledged, to a *RefusedError when
	// the sink would refuse it on every try, and to any other error when
	// it is to be sent again (connection trouble, a timeout).
	Publish(ctx context.Context, msgs []*events.Message, errs []error)
	// Ready returns nil while the sink can publish, else why it cannot.
	Ready() error
}

// A RefusedError is a sink's refusal of one message for good: a stream
// full with DiscardNew, storage exhausted, permission denied, a message
// over the size limit. Sent again it would be refused again and hold up
// everything behind it, so the pipeline publishes it on the invalid
// subject instead, with the reason.
type RefusedError struct {
	// TooLarge says the body can go nowhere on this sink: only the
	// headers are published on the invalid subject.
	TooLarge bool
	Err      error
}

func (e *RefusedError) Error() string { return "refused: " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }
