package ingest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
)

// MaxBatch is the most messages handed to the sink at once.
const MaxBatch = 2048

// publish hands the buffer to the sink, in order, until the buffer is
// closed and empty, or until ctx is done (the drain deadline): then what is
// not acknowledged is counted as lost and its number returned.
//
// What fails for connection reasons is sent again, with everything after
// it in the batch that was not acknowledged: the same Nats-Msg-Id makes a
// repeat safe inside the stream's duplicate window. So order holds except
// around a failure: a message that was not acknowledged can land after
// others of its batch (up to MaxBatch) that were.
func (in *Ingester) publish(ctx context.Context) (lost int) {
	batch := make([]item, 0, MaxBatch)
	msgs := make([]*events.Message, 0, MaxBatch)
	errs := make([]error, MaxBatch)
	for {
		batch = in.buf.take(batch[:0], MaxBatch)
		if len(batch) == 0 {
			return 0
		}
		pending := batch
		wait := 10 * time.Millisecond
		for attempt := 0; ; attempt++ {
			msgs = msgs[:0]
			for _, it := range pending {
				msgs = append(msgs, it.msg)
			}
			errs = errs[:len(pending)]
			clear(errs)
			in.sink.Publish(ctx, msgs, errs)
			next := pending[:0] // filtered in place: next never passes i
			resolved, size := 0, int64(0)
			var firstErr error
			for i, it := range pending {
				var ref *RefusedError
				switch err := errs[i]; {
				case err == nil:
					in.m.published.Inc()
					in.published.Add(1)
					in.m.publishLat.Observe(time.Since(it.received).Seconds())
				case errors.As(err, &ref):
					if stub := in.refused(it.msg, ref); stub != nil {
						it.msg = stub
						next = append(next, it)
						continue
					}
				default:
					if firstErr == nil {
						firstErr = err
					}
					next = append(next, it)
					continue
				}
				resolved++
				size += it.size
				in.release(it.seq)
			}
			in.buf.done(resolved, size)
			pending = next
			if len(pending) == 0 {
				if attempt > 0 {
					in.log.Info().Int("attempts", attempt+1).Msg("NATS publish recovered")
				}
				break
			}
			if ctx.Err() != nil {
				return in.lose(pending)
			}
			if firstErr != nil {
				in.m.publishRetry.Add(float64(len(pending)))
				if attempt == 0 || attempt%50 == 0 {
					in.log.Warn().Err(firstErr).Int("pending", len(pending)).Int("buffered", in.buf.depth()).Msg("NATS publish failed; holding events and retrying")
				}
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return in.lose(pending)
				}
				wait = min(wait*2, in.maxWait)
			}
		}
	}
}

// lose counts what was left at the drain deadline: the batch's messages not
// yet acknowledged, and the buffer. What is in the WAL is not lost: the
// next start publishes it.
func (in *Ingester) lose(pending []item) int {
	n, kept := 0, 0
	for _, it := range append(pending, in.buf.discard()...) {
		if it.seq != 0 {
			kept++
		} else {
			n++
		}
	}
	in.kept = kept
	if kept > 0 {
		in.log.Warn().Int("events", kept).Msg("drain deadline passed with events not acknowledged by NATS; they stay in the write-ahead log for the next start")
	}
	if n > 0 {
		in.drop("shutdown_timeout", n)
		in.log.Error().Int("events", n).Msg("drain deadline passed with events not acknowledged by NATS; they are lost")
	}
	return n
}

// refused returns what to publish in place of msg, which the sink refused
// for good: msg on the invalid subject with the reason in Zoom-Error (its
// headers alone if it is too large for the sink). If msg is on the invalid
// subject already, there is nowhere left: it is counted as dropped and
// logged, and refused returns nil.
func (in *Ingester) refused(msg *events.Message, ref *RefusedError) *events.Message {
	why := ref.Error()
	if msg.Subject == in.invalidSubject {
		in.drop("rejected", 1)
		in.drops.log(in.log, "rejected", msg, why, "dropped: NATS refused them, on the invalid subject too")
		return nil
	}
	h := events.Header(maps.Clone(msg.Header))
	if h == nil {
		h = events.Header{}
	}
	reason := why
	if old := h.Get(events.HeaderError); old != "" {
		reason = old + "; " + why
	}
	h[events.HeaderError] = []string{reason}
	stub := &events.Message{Subject: in.invalidSubject, ID: msg.ID, Header: h, Data: msg.Data}
	if ref.TooLarge {
		delete(h, events.HeaderContentType) // no body
		stub.Data = nil
		in.drop("too_large", 1)
		in.drops.log(in.log, "too_large", msg, why, "too large for NATS: their headers go to the invalid subject, their bodies are lost; raise the limit")
		return stub
	}
	in.drops.log(in.log, "refused", msg, why, "refused by NATS for good: they go to the invalid subject with the reason")
	return stub
}

// dropLog rate-limits the log lines of lost or diverted events, by kind:
// the first at once, then at most one a second, each with the count since
// the last. The metrics count every one.
type dropLog struct {
	mu     sync.Mutex
	last   map[string]time.Time // by reason
	unsaid map[string]int
}

const dropLogEvery = time.Second

func (d *dropLog) log(log zerolog.Logger, reason string, msg *events.Message, why, what string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unsaid == nil {
		d.unsaid = map[string]int{}
	}
	d.unsaid[reason]++
	now := time.Now()
	if now.Sub(d.last[reason]) < dropLogEvery {
		return
	}
	if d.last == nil {
		d.last = map[string]time.Time{}
	}
	d.last[reason] = now
	n := d.unsaid[reason]
	delete(d.unsaid, reason)
	log.Error().Str("reason", reason).Int("events", n).Str("subject", msg.Subject).Str("id", msg.ID).Str("error", why).
		Msgf("%d event(s) %s (this one shown)", n, what)
}

// flush logs the counts not logged yet.
func (d *dropLog) flush(log zerolog.Logger) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for reason, n := range d.unsaid {
		log.Error().Str("reason", reason).Int("events", n).Msg(fmt.Sprintf("%d more event(s) %s since the last line", n, reason))
	}
	clear(d.unsaid)
}
