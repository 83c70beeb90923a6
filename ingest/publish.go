package ingest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
)

// item is a message waiting for NATS, with when its frame arrived.
type item struct {
	msg      *nats.Msg
	received time.Time
}

// publisher takes messages from the buffer, in order, and publishes each
// until NATS acknowledges it: JetStream's PubAck, or for core NATS a flush
// round trip after the batch. What fails is sent again, in order; the same
// Nats-Msg-Id makes that safe inside the stream's duplicate window.
type publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream // nil: core NATS
	ensure  func(context.Context) error
	queue   chan item
	log     zerolog.Logger
	m       *metrics
	maxWait time.Duration // longest pause between retries
	invalid string        // the invalid subject
}

const maxBatch = 2048

// run publishes until the queue is closed and empty, or until stop is done
// (the drain deadline), when what is left is counted as dropped and its
// number returned.
func (p *publisher) run(stop context.Context) (lost int) {
	batch := make([]item, 0, maxBatch)
	for {
		it, ok := <-p.queue
		if !ok {
			return 0
		}
		batch = append(batch[:0], it)
	fill:
		for len(batch) < maxBatch {
			select {
			case it, ok := <-p.queue:
				if !ok {
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		if !p.publishBatch(stop, batch) {
			n := len(batch)
			for range p.queue {
				n++
			}
			p.m.dropped.WithLabelValues("shutdown_timeout").Add(float64(n))
			p.log.Error().Int("events", n).Msg("drain deadline passed with events not acknowledged by NATS; they are lost")
			return n
		}
	}
}

// publishBatch returns false only when stop ended first.
func (p *publisher) publishBatch(stop context.Context, batch []item) bool {
	pending := batch
	wait := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		for i := range pending {
			pending[i].msg = p.fit(pending[i].msg)
		}
		var err error
		if p.js != nil {
			pending, err = p.publishJS(pending)
		} else {
			pending, err = p.publishCore(pending)
		}
		if p.js != nil && (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrStreamNotFound)) {
			// The stream is missing (NATS was down at start-up, or it was
			// deleted): create it, then publish again.
			ctx, cancel := context.WithTimeout(stop, 5*time.Second)
			if eerr := p.ensure(ctx); eerr != nil {
				err = eerr
			}
			cancel()
		}
		if len(pending) == 0 {
			if attempt > 0 {
				p.log.Info().Int("attempts", attempt+1).Msg("NATS publish recovered")
			}
			return true
		}
		p.m.publishRetry.Add(float64(len(pending)))
		if attempt == 0 || attempt%50 == 0 {
			p.log.Warn().Err(err).Int("pending", len(pending)).Int("buffered", len(p.queue)).Msg("NATS publish failed; holding events and retrying")
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-stop.Done():
			t.Stop()
			return false
		}
		wait = min(wait*2, p.maxWait)
	}
}

// fit returns msg, or in its place its headers alone on the invalid
// subject if msg is larger than the server's max_payload. NATS would refuse
// it on every try, and the events behind it would wait for ever; this way
// the event is counted, logged and visible, and the rest flow. The embedded
// server takes any frame ReadLimit lets in; an outside server may not.
func (p *publisher) fit(msg *nats.Msg) *nats.Msg {
	limit := p.nc.MaxPayload() // 0 until first connected
	size := int64(msg.Size() - len(msg.Subject) - len(msg.Reply))
	if limit <= 0 || size <= limit {
		return msg
	}
	return p.headersOnly(msg, fmt.Sprintf("message of %d bytes is larger than the NATS server's max_payload of %d bytes; body not published", size, limit))
}

// headersOnly returns msg's headers alone, on the invalid subject, with why
// in Zoom-Error; the loss is counted and logged.
func (p *publisher) headersOnly(msg *nats.Msg, why string) *nats.Msg {
	h := maps.Clone(msg.Header)
	if h == nil {
		h = nats.Header{}
	}
	h.Del(events.HeaderContentType) // no body
	reason := why
	if old := h.Get(events.HeaderError); old != "" {
		reason = old + "; " + why
	}
	h.Set(events.HeaderError, reason)
	p.m.dropped.WithLabelValues("too_large").Inc()
	p.log.Error().Str("subject", msg.Subject).Str("id", msg.Header.Get(events.HeaderMsgID)).Str("error", why).
		Msg("message too large for NATS: its headers go to the invalid subject, its body is lost; raise the limit")
	return &nats.Msg{Subject: p.invalid, Header: h}
}

func (p *publisher) acked(it item) {
	p.m.published.Inc()
	p.m.publishLat.Observe(time.Since(it.received).Seconds())
}

func (p *publisher) publishJS(batch []item) ([]item, error) {
	futures := make([]jetstream.PubAckFuture, len(batch))
	var firstErr error
	for i, it := range batch {
		f, err := p.js.PublishMsgAsync(it.msg)
		if err != nil {
			firstErr = cmp(firstErr, fmt.Errorf("publishing to JetStream: %w", err))
			continue
		}
		futures[i] = f
	}
	var failed []item
	for i, f := range futures {
		if f == nil {
			failed = append(failed, batch[i])
			continue
		}
		select {
		case <-f.Ok():
			p.acked(batch[i])
		case err := <-f.Err():
			firstErr = cmp(firstErr, fmt.Errorf("JetStream acknowledgement: %w", err))
			if errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) && len(batch[i].msg.Data) > 0 {
				// The stream's max_msg_size: refused on every try, like
				// a message over max_payload.
				batch[i].msg = p.headersOnly(batch[i].msg, fmt.Sprintf("message of %d bytes is larger than the stream's max_msg_size; body not published", len(batch[i].msg.Data)))
			}
			failed = append(failed, batch[i])
		}
	}
	return failed, firstErr
}

func (p *publisher) publishCore(batch []item) ([]item, error) {
	for _, it := range batch {
		if err := p.nc.PublishMsg(it.msg); err != nil {
			return batch, fmt.Errorf("publishing to NATS: %w", err) // at least once: resend all
		}
	}
	// A flush is a round trip: the server has everything sent before it.
	if err := p.nc.FlushTimeout(5 * time.Second); err != nil {
		return batch, fmt.Errorf("flushing NATS: %w", err)
	}
	for _, it := range batch {
		p.acked(it)
	}
	return nil, nil
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
