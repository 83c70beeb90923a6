package coverage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

// noNATS is a store whose NATS is away for good.
type noNATS struct{}

func (noNATS) Bucket(context.Context) (jetstream.KeyValue, error) {
	return nil, errors.New("no NATS")
}
func (noNATS) Publish(context.Context, *events.Message) error { return errors.New("no NATS") }

// While NATS is away nothing trims the record through a snapshot: a
// connection flapping all that time still keeps at most maxIntervals.
func TestIntervalsBoundedWithoutNATS(t *testing.T) {
	l, err := New(Options{Node: "n1", Account: "acct", SubjectPrefix: "zoom", Subscriptions: []string{"a"}, Store: noNATS{}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	for i := range maxIntervals + 100 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		l.OnState("a", true, at, "")
		l.OnState("a", false, at.Add(50*time.Millisecond), "read_error")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if iv := l.rec.Subs["a"].Intervals; len(iv) != maxIntervals || iv[0][0] != t0.Add(100*100*time.Millisecond).UnixMilli() {
		t.Errorf("%d intervals kept in memory, want the latest %d", len(iv), maxIntervals)
	}
}
