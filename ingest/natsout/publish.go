package natsout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
)

var _ ingest.Sink = (*Conn)(nil)

// Publish implements ingest.Sink: core NATS is acknowledged by a flush
// round trip after the batch, JetStream by each message's PubAck.
func (c *Conn) Publish(ctx context.Context, msgs []*events.Message, errs []error) {
	l := c.cur.Load()
	if l.js != nil {
		c.publishJS(ctx, l, msgs, errs)
	} else {
		c.publishCore(l, msgs, errs)
	}
}

// refuse returns why NATS would refuse m on every try, before it is sent:
// a subject that would close the connection, a message over max_payload.
func refuse(nc *nats.Conn, m *events.Message) error {
	if len(m.Subject) > MaxSubject {
		return &ingest.RefusedError{Err: fmt.Errorf("subject of %d bytes is longer than %d", len(m.Subject), MaxSubject)}
	}
	limit := nc.MaxPayload() // 0 until first connected
	if int64(len(m.Data))+headerSlack <= limit {
		return nil // fits whatever its few headers
	}
	if size := int64(len(m.Data) + headerLen(m.Header)); limit > 0 && size > limit {
		return &ingest.RefusedError{TooLarge: true,
			Err: fmt.Errorf("message of %d bytes is larger than the NATS server's max_payload of %d bytes", size, limit)}
	}
	return nil
}

// headerSlack bounds the headers of an event message, so that most
// messages need not have theirs counted.
const headerSlack = 4096

// headerLen is the size of h on the wire, counted once without encoding it.
func headerLen(h events.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (c *Conn) publishCore(l *link, msgs []*events.Message, errs []error) {
	reconnects := l.nc.Stats().Reconnects
	var nm nats.Msg // PublishMsg keeps nothing of it
	sent := 0
	var err error
	for i, m := range msgs {
		if errs[i] = refuse(l.nc, m); errs[i] != nil {
			continue
		}
		nm = nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data}
		if err = l.nc.PublishMsg(&nm); err != nil {
			err = fmt.Errorf("publishing to NATS: %w", err)
			for j := i; j < len(msgs); j++ {
				errs[j] = err
			}
			break
		}
		sent = i + 1
	}
	if sent == 0 {
		return
	}
	// A flush is a round trip: the server has everything sent before it.
	ferr := l.nc.FlushTimeout(5 * time.Second)
	if ferr == nil && l.nc.Stats().Reconnects != reconnects {
		// A flush begun while reconnecting is answered by the new
		// connection's PONG, though what was written before it went
		// down with the old one.
		ferr = errors.New("the connection was replaced during the batch")
	}
	if ferr != nil {
		ferr = fmt.Errorf("flushing NATS: %w", ferr)
		for i := range sent {
			if errs[i] == nil {
				errs[i] = ferr
			}
		}
	}
}

func (c *Conn) publishJS(ctx context.Context, l *link, msgs []*events.Message, errs []error) {
	// One allocation for the batch's messages, not one each. A nats.Msg
	// of an async publish is not reused: nats.go keeps it until the ack,
	// publishes it again after a no-responders error, and hands it to
	// l.acks, which finds the message by it. The header converts without
	// a copy: events.Header is a nats.Header.
	l.acks.batch.Lock() // one batch at a time: the answers go to it
	defer l.acks.batch.Unlock()
	nms := make([]nats.Msg, len(msgs))
	b := l.acks.begin(len(msgs))
	for i, m := range msgs {
		if errs[i] = refuse(l.nc, m); errs[i] != nil {
			continue
		}
		nms[i] = nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data}
		l.acks.expect(&nms[i], i)
		if _, err := l.js.PublishMsgAsync(&nms[i]); err != nil {
			// Not published: nats.go calls neither handler for it.
			l.acks.forget(&nms[i])
			errs[i] = fmt.Errorf("publishing to JetStream: %w", err)
		}
	}
	results := l.acks.wait(ctx, b)
	missing := false
	for i, r := range results {
		switch {
		case !r.waited:
		case !r.done:
			errs[i] = ctx.Err()
		case r.err != nil:
			errs[i] = c.classify(msgs[i], r.err)
			missing = missing || isNoStream(r.err)
		default:
			errs[i] = nil
		}
	}
	if missing {
		// The stream is missing (NATS was down at start-up, or it was
		// deleted): create it; the pipeline publishes again.
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := c.EnsureStream(ectx); err != nil {
			c.log.Warn().Err(err).Msg("stream not ready yet")
		}
		cancel()
	}
}

// acks routes nats.go's asynchronous acknowledgements (its ack and error
// handlers) to the messages of the batch in flight: a handler call costs a
// map lookup, where a PubAckFuture costs two channels and a select per
// message. One batch is in flight at a time per link (batch); a late
// answer for a batch given up on (its context ended) finds no entry and is
// dropped.
type acks struct {
	batch sync.Mutex // held by the publisher for the whole batch

	mu      sync.Mutex        // guards the rest; taken in nats.go's handlers
	index   map[*nats.Msg]int // the messages of the batch still unanswered
	results []ackResult
	left    int           // messages published and not answered yet
	sealed  bool          // every message of the batch was published
	done    chan struct{} // closed when sealed and left is 0
}

// ackResult is what became of one message of a batch.
type ackResult struct {
	waited bool  // it was published and its answer awaited
	done   bool  // it was answered
	err    error // nil: acknowledged
}

// begin starts a batch of n messages.
func (a *acks) begin(n int) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.index == nil {
		a.index = make(map[*nats.Msg]int, n)
	}
	clear(a.index)
	a.results = make([]ackResult, n)
	a.left, a.sealed = 0, false
	a.done = make(chan struct{})
	return a.done
}

// expect notes m, message i of the batch, before it is published: its
// answer may come before PublishMsgAsync returns.
func (a *acks) expect(m *nats.Msg, i int) {
	a.mu.Lock()
	a.index[m] = i
	a.results[i].waited = true
	a.left++
	a.mu.Unlock()
}

// forget takes back expect for a message that was not published.
func (a *acks) forget(m *nats.Msg) {
	a.mu.Lock()
	if i, ok := a.index[m]; ok {
		delete(a.index, m)
		a.results[i].waited = false
		a.left--
	}
	a.mu.Unlock()
}

// ok is nats.go's MsgAckHandler and failed its MsgErrHandler. They run on
// nats.go's goroutines, some holding its publisher lock: they must not
// block or call into the JetStream context.
func (a *acks) ok(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { a.answer(m, nil) }

func (a *acks) failed(_ jetstream.JetStream, m *nats.Msg, err error) { a.answer(m, err) }

func (a *acks) answer(m *nats.Msg, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.index[m]
	if !ok {
		return // of a batch given up on, or answered already
	}
	delete(a.index, m)
	a.results[i] = ackResult{waited: true, done: true, err: err}
	a.left--
	if a.sealed && a.left == 0 {
		close(a.done)
	}
}

// wait returns the batch's results once every message published is
// answered, or what is known when ctx ends; the batch is then over, and
// later answers are dropped.
func (a *acks) wait(ctx context.Context, done chan struct{}) []ackResult {
	a.mu.Lock()
	a.sealed = true
	settled := a.left == 0
	a.mu.Unlock()
	if !settled {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.results
	a.results = nil
	clear(a.index)
	return r
}

func isNoStream(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrStreamNotFound)
}

// Refusals for good, by JetStream API error code: sent again, the message
// would be refused again.
var permanent = map[jetstream.ErrorCode]bool{
	10054: true, // message size exceeds the stream's max_msg_size
	10077: true, // storing failed: maximum messages, bytes or per subject with DiscardNew, storage exhausted
	10097: true, // headers exceed the maximum
	10109: true, // stream sealed
	10023: true, // insufficient resources
}

// classify returns err as a *ingest.RefusedError when NATS refused m for
// good, else as an error to try again.
func (c *Conn) classify(m *events.Message, err error) error {
	var api *jetstream.APIError
	if errors.As(err, &api) && api.ErrorCode == 10054 {
		return &ingest.RefusedError{TooLarge: true,
			Err: fmt.Errorf("message of %d bytes is larger than the stream's max_msg_size: %w", len(m.Data)+headerLen(m.Header), err)}
	}
	if errors.As(err, &api) && permanent[api.ErrorCode] {
		return &ingest.RefusedError{Err: fmt.Errorf("JetStream: %w", err)}
	}
	// A publish the server drops for lack of permission is never
	// acknowledged: the connection's error handler saw why.
	if errors.Is(err, jetstream.ErrAsyncPublishTimeout) || errors.Is(err, nats.ErrTimeout) {
		if why := c.denied.check(m.Subject); why != "" {
			return &ingest.RefusedError{Err: errors.New(why)}
		}
	}
	return fmt.Errorf("JetStream acknowledgement: %w", err)
}

// deniedSubjects remembers the subjects the server refused for lack of
// publish permission, as its asynchronous errors name them.
type deniedSubjects struct {
	mu   sync.Mutex
	subj map[string]string
}

func (d *deniedSubjects) note(err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	msg := err.Error()
	_, after, ok := strings.Cut(msg, "Publish to ")
	if !ok {
		return
	}
	subj := strings.Trim(after, `"' `)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.subj == nil || len(d.subj) >= 1024 { // bounded: from outside
		d.subj = map[string]string{}
	}
	d.subj[subj] = msg
}

func (d *deniedSubjects) check(subject string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.subj[subject]
}
