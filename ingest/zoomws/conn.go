package zoomws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/session"
)

// ReadLimit is the largest frame accepted. coder/websocket defaults to 32 KiB
// and closes the connection on a larger frame; Zoom's events can be larger,
// and a frame refused is an event lost.
const ReadLimit = 16 << 20

// On shutdown a connection keeps reading until it has been quiet for
// ShutdownQuiet, for at most ShutdownGrace, so that frames already sent are
// not thrown away.
const (
	ShutdownQuiet = 250 * time.Millisecond
	ShutdownGrace = 2 * time.Second
)

// Defaults of Options.
const (
	DefaultHeartbeatTimeout = 10 * time.Second
	DefaultBuildTimeout     = 5 * time.Second
	dialTimeout             = 10 * time.Second
	// A connection that delivered a frame counts as healthy only after
	// minHealthy: see subscription.settle.
	minHealthy = time.Second
)

var heartbeatFrame = []byte(`{"module":"heartbeat"}`)

// Reasons a connection or an attempt ended, as logged and counted in
// zccingest_reconnects_total{reason}. A fixed set: nothing from outside
// becomes a label.
const (
	reasonDial         = "dial_failed"
	reasonToken        = "token_unavailable"
	reasonBuildFailed  = "build_connection_failed"
	reasonBuildTimeout = "build_connection_timeout"
	reasonSubscription = "subscription_rejected" // a fresh token refused too
	reasonClosed       = "closed_by_server"
	reasonTakenOver    = "taken_over" // closed soon after build, repeatedly
	reasonSilent       = "silent"     // no frame for two heartbeat intervals
	reasonHBTimeout    = "heartbeat_timeout"
	reasonHBWrite      = "heartbeat_write_failed"
	reasonReadError    = "read_error"
	reasonShutdown     = "shutdown"
)

// connResult says how one connection, or one attempt at one, ended.
type connResult struct {
	reason  string
	built   bool          // build_connection succeeded
	lived   time.Duration // from build_connection to the end
	frames  int64         // frames read after build_connection
	byPeer  bool          // the server closed it with a close frame
	token   string        // the access token used, for Invalidate
	content string        // an unsuccessful build_connection's content, redacted
	err     error
}

// URL returns the WebSocket URL of a subscription with the token in the
// query, as Zoom wants it.
func URL(base, subscriptionID, accessToken string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("zoomws: websocket url: %w", err)
	}
	q := u.Query()
	q.Set("subscriptionId", subscriptionID)
	q.Set("access_token", accessToken)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// subscription holds one subscription's connection, reconnecting forever.
type subscription struct {
	Subscription
	c      *Client
	log    zerolog.Logger
	index  int // among the client's subscriptions: staggers token rotation
	count  int
	reader sync.WaitGroup // every connection's reader: Handle is not called after run returns

	failures   int    // consecutive failures, for the backoff
	short      int    // consecutive built connections that did not become healthy
	rejected   string // the token of the last unsuccessful build_connection
	lastReason string // of the last failed attempt, "" once connected
	up         bool   // connected at least once
	downAt     time.Time
}

// run connects, reads, and reconnects until ctx is done. Zoom re-sends
// nothing, so every moment without a connection loses events: a lost
// connection is re-opened at once with the cached token, and ahead of the
// token's expiry a new connection is built before the old one is closed.
func (s *subscription) run(ctx context.Context) {
	defer s.reader.Wait()
	s.downAt = time.Now()
	var cur *conn
	defer func() {
		// However the loop ended (shutdown may come during a rotation),
		// the current connection closes normally.
		if cur != nil {
			cur.shutdown()
			<-cur.done
			s.c.setConnected(s.Name, false)
		}
	}()
	for ctx.Err() == nil {
		if cur == nil {
			c, res := s.open(ctx, nil)
			if c == nil {
				if ctx.Err() != nil {
					return
				}
				if !s.wait(ctx, s.settle(res)) {
					return
				}
				continue
			}
			cur = c
			s.c.setConnected(s.Name, true)
			ev := s.log.Info().Str("state", "connected")
			if s.up {
				ev = ev.Str("down_for", time.Since(s.downAt).Round(time.Millisecond).String())
			}
			ev.Msg("subscription connected")
			s.up, s.lastReason = true, ""
		}
		rotate := time.NewTimer(time.Until(cur.rotateAt))
		select {
		case <-cur.done:
			rotate.Stop()
			res := cur.result()
			cur = nil
			s.c.setConnected(s.Name, false)
			s.downAt = time.Now()
			if !s.wait(ctx, s.settle(res)) {
				return
			}
		case <-rotate.C:
			cur = s.rotate(ctx, cur)
		case <-ctx.Done():
			rotate.Stop()
			return
		}
	}
}

// wait waits d, or until ctx is done; it reports whether to go on.
func (s *subscription) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// settle counts and logs how a connection or an attempt ended, updates the
// failure counts, and returns the wait before the next attempt.
//
// A connection is healthy once it has lived a heartbeat interval, or has
// lived minHealthy and delivered a frame; only a healthy connection resets
// the backoff. After a healthy connection, and after the first short-lived
// one, the next attempt is immediate. Another
// client on the same subscription (Zoom allows one connection per
// subscription) closes ours moments after each build: counting such a
// connection as healthy would reconnect at once, kick the other, and loop.
func (s *subscription) settle(res connResult) time.Duration {
	hb := s.c.opts.HeartbeatInterval
	healthy := res.built && (res.lived >= hb || (res.frames > 0 && res.lived >= minHealthy))
	switch {
	case healthy:
		s.failures, s.short, s.rejected = 0, 0, ""
	case res.built:
		s.short++
		s.rejected = ""
		if res.byPeer && s.short >= 2 {
			res.reason = reasonTakenOver
		}
	}
	if res.reason == reasonBuildFailed {
		switch {
		case s.rejected != "" && s.rejected != res.token:
			// A second token, fetched after the first was refused, is
			// refused too: the subscription is wrong, not the token.
			// Dropping the shared token again would only cost the other
			// subscriptions theirs.
			res.reason = reasonSubscription
		default:
			s.c.opts.Tokens.Invalidate(res.token)
			s.rejected = res.token
		}
	}
	s.c.m.reconnects.WithLabelValues(s.Name, res.reason).Inc()

	var wait time.Duration
	switch {
	case healthy:
		// Lost after it was up: at once, with the cached token.
	case res.built && s.short == 1:
		// The first short-lived one of a streak: at once too, as a
		// connection closed by chance right after it was built must not
		// cost a backoff; the second in a row backs off.
	case res.reason == reasonBuildFailed && s.failures == 0:
		// A token Zoom refused (expired early, revoked): a fresh one at
		// once must not cost a backoff.
		s.failures = 1
	default:
		s.failures++
		wait = backoff(s.failures)
	}
	s.logEnd(res, healthy, wait)
	return wait
}

// logEnd writes one line per change of state in our words (the library's
// or Zoom's text as a field), and each further failed attempt at debug.
func (s *subscription) logEnd(res connResult, healthy bool, wait time.Duration) {
	var ev *zerolog.Event
	msg := ""
	repeat := !res.built && res.reason == s.lastReason
	s.lastReason = res.reason
	switch {
	case res.reason == reasonTakenOver:
		// Every time: it says why the ingester keeps reconnecting.
		ev, msg = s.log.Warn(), "subscription taken over by another client: Zoom closed our connection moments after it was built, again; is another node or 'zccingest check' using the same subscription id?"
	case res.reason == reasonSubscription && !repeat:
		ev, msg = s.log.Error(), "Zoom refused the subscription with a freshly fetched token: subscription not found, deleted, or another app's; check the subscription's id or url"
	case res.built:
		ev, msg = s.log.Warn(), "connection lost; reconnecting"
		if wait == 0 {
			msg = "connection lost; reconnecting at once"
		}
	case !repeat:
		ev, msg = s.log.Warn(), "cannot connect; retrying"
	default:
		ev, msg = s.log.Debug(), "connect attempt failed"
	}
	ev = ev.Str("state", "disconnected").Str("reason", res.reason).Int("attempt", s.failures)
	if res.built {
		ev = ev.Str("lived", res.lived.Round(time.Millisecond).String()).Bool("healthy", healthy)
	}
	if res.content != "" {
		ev = ev.Str("zoom_says", res.content)
		if oe, ok := session.Explain(res.content); ok {
			ev = ev.Str("means", oe.Means).Str("action", oe.Action)
		}
	}
	if res.err != nil {
		ev = ev.Str("error", res.err.Error())
	}
	ev.Str("retry_in", wait.Round(time.Millisecond).String()).Msg(msg)
}

// backoff is the wait before attempt n+1 of a failing connection: 100 ms
// doubling to 30 s, with up to half taken off at random so that the
// subscriptions of many nodes do not reconnect in step. The k-th wait is at
// least 50 ms << (k-1), so in 10 s a failing subscription makes at most 7
// attempts after backoffs (50 ms × (2^7-1) = 6.35 s; 2^8-1 would be 12.75 s).
func backoff(n int) time.Duration {
	d := min(100*time.Millisecond<<min(n-1, 12), 30*time.Second)
	return d - time.Duration(rand.Int64N(int64(d)/2+1))
}

// rotateLead is how long before the token's expiry a connection is
// replaced: a tenth of the token's remaining life at build, at most a
// minute, and more for each later subscription of the client, so that no
// two subscriptions (a pair's two in one process) switch at the same
// moment.
func (s *subscription) rotateLead(life time.Duration) time.Duration {
	base := min(life/10, time.Minute)
	return base + base*time.Duration(s.index)/time.Duration(max(s.count, 1))
}

// rotate replaces cur ahead of its token's expiry: a new connection with
// the fresh token, built before cur is closed. Zoom may close a socket whose
// token expires, and may close the older of two connections when a second
// builds; either way the new one is already up. Both may deliver an event
// for a moment; the pipeline de-duplicates.
func (s *subscription) rotate(ctx context.Context, cur *conn) *conn {
	retry := min(max(s.rotateLead(cur.tokenLife)/4, 50*time.Millisecond), 5*time.Second)
	tok := s.c.opts.Tokens.Cached()
	if tok == nil || !tok.Expiry.After(cur.token.Expiry) {
		// No fresher token yet (the refresh is late or failing): try
		// again soon; never wait for the token endpoint here.
		cur.rotateAt = time.Now().Add(retry)
		s.log.Debug().Str("retry_in", retry.String()).Msg("no fresh token yet to replace the connection with")
		return cur
	}
	// While the new one builds, cur goes on reading. If the build kicks
	// cur (Zoom allowing one connection), cur's end is no loss: it is not
	// watched any more once nc is up.
	nc, res := s.open(ctx, tok)
	if nc == nil {
		cur.rotateAt = time.Now().Add(retry)
		s.log.Debug().Str("reason", res.reason).AnErr("error", res.err).Str("retry_in", retry.String()).Msg("could not open the replacement connection; keeping the current one")
		return cur
	}
	go cur.close(websocket.StatusNormalClosure, "replaced by a new connection")
	s.log.Info().Str("state", "connected").Str("old_token_expires_in", time.Until(cur.token.Expiry).Round(time.Millisecond).String()).
		Msg("connection replaced ahead of token expiry")
	return nc
}

// open gets a token (tok, or the cached one), dials and waits for
// build_connection. On success the connection's reader and heartbeat run.
func (s *subscription) open(ctx context.Context, tok *session.Token) (*conn, connResult) {
	if tok == nil {
		var err error
		tok, err = s.c.opts.Tokens.Token(ctx)
		if err != nil {
			return nil, connResult{reason: reasonToken, err: err}
		}
	}
	res := connResult{token: tok.AccessToken}
	u, err := URL(s.c.opts.WebSocketURL, s.ID, tok.AccessToken)
	if err != nil {
		res.reason, res.err = reasonDial, err
		return nil, res
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	ws, _, err := websocket.Dial(dctx, u, DialOptions())
	cancel()
	if err != nil {
		// Dial errors quote the URL, and the URL holds the token.
		res.reason, res.err = reasonDial, redacted{s.c.opts.Tokens.Redact(err.Error()), err}
		return nil, res
	}
	ws.SetReadLimit(ReadLimit)

	// Zoom's first frame is build_connection. A socket that opens and then
	// says nothing would hold the subscription down for as long as we
	// waited: give up after BuildTimeout. (Cancelling a Read closes the
	// socket, which is what we want here.)
	bctx, cancel := context.WithTimeout(ctx, s.c.opts.BuildTimeout)
	_, first, err := ws.Read(bctx)
	timedOut := errors.Is(bctx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		ws.CloseNow()
		res.reason, res.err = reasonReadError, redacted{s.c.opts.Tokens.Redact(err.Error()), err}
		if timedOut {
			res.reason, res.err = reasonBuildTimeout, fmt.Errorf("no build_connection within %s", s.c.opts.BuildTimeout)
		}
		return nil, res
	}
	s.c.opts.Handle(s.Name, first, time.Now()) // journaled and counted
	f, err := events.ParseFrame(first)
	if err != nil || f.Module != events.ModuleBuildConnection || !f.Success {
		ws.CloseNow()
		// Zoom's wording of a refused token has changed without notice:
		// every unsuccessful build_connection is alike.
		res.reason, res.content = reasonBuildFailed, s.c.opts.Tokens.Redact(string(f.Content))
		if err != nil {
			res.content = "not a build_connection frame: " + err.Error()
		}
		res.err = errors.New("build_connection was not successful")
		return nil, res
	}
	c := &conn{s: s, ws: ws, token: tok, built: time.Now(), done: make(chan struct{}), stop: make(chan struct{})}
	if on := s.c.opts.OnState; on != nil {
		on(s.Name, true, c.built, "")
	}
	c.tokenLife = tok.Expiry.Sub(c.built)
	c.rotateAt = tok.Expiry.Add(-s.rotateLead(c.tokenLife))
	c.last.Store(c.built.UnixNano())
	s.reader.Add(2)
	go c.read()
	go c.heartbeat()
	return c, connResult{}
}

// noRedirects keeps the token in the URL from following a redirect.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// DialOptions are the options of every dial of a subscription's URL,
// which holds the access token: a redirect is an error, never followed
// (it would hand the token, in the query and the Referer, to another
// host, and past the loopback-only rule for plain ws://).
func DialOptions() *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: noRedirects}
}

// conn is one built connection.
type conn struct {
	s         *subscription
	ws        *websocket.Conn
	token     *session.Token
	tokenLife time.Duration
	built     time.Time
	rotateAt  time.Time // only the subscription's goroutine touches it

	last     atomic.Int64 // UnixNano of the last frame read
	frames   atomic.Int64
	why      atomic.Pointer[string] // set by the heartbeat before it closes the socket
	stopping atomic.Bool            // shutting down

	done chan struct{} // closed when the reader has ended
	stop chan struct{} // closed to end the heartbeat
	res  connResult
}

// result is how the connection ended; valid once done is closed.
func (c *conn) result() connResult { return c.res }

// read hands every frame to Handle until the socket fails.
func (c *conn) read() {
	defer c.s.reader.Done()
	defer close(c.done)
	defer close(c.stop)
	// One buffer for every frame of the connection: Handle keeps nothing
	// of a frame, and io.ReadAll's growing would cost more than decoding.
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	for {
		_, r, err := c.ws.Reader(context.Background())
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		now := time.Now()
		if err != nil {
			c.res = c.ended(err, now)
			c.ws.CloseNow()
			if on := c.s.c.opts.OnState; on != nil {
				on(c.s.Name, false, now, c.res.reason)
			}
			return
		}
		c.last.Store(now.UnixNano())
		c.frames.Add(1)
		c.s.c.opts.Handle(c.s.Name, buf.Bytes(), now)
	}
}

func (c *conn) ended(err error, now time.Time) connResult {
	res := connResult{built: true, lived: now.Sub(c.built), frames: c.frames.Load(), token: c.token.AccessToken}
	redact := func(err error) error { return redacted{c.s.c.opts.Tokens.Redact(err.Error()), err} }
	switch why := c.why.Load(); {
	case c.stopping.Load():
		res.reason = reasonShutdown
	case why != nil:
		res.reason, res.err = *why, redact(err)
	case websocket.CloseStatus(err) != -1:
		res.reason, res.byPeer, res.err = reasonClosed, true, redact(err)
	default:
		res.reason, res.err = reasonReadError, redact(err)
	}
	return res
}

// heartbeat sends Zoom's heartbeat every interval, measured from the last
// one sent, and watches for a dead socket: a heartbeat with no reply and no
// other frame within HeartbeatTimeout, or (the backstop) no frame at all
// for two intervals. Either, or a failed write, closes the socket; the
// reader then ends and the subscription reconnects.
func (c *conn) heartbeat() {
	defer c.s.reader.Done()
	hb, timeout := c.s.c.opts.HeartbeatInterval, c.s.c.opts.HeartbeatTimeout
	next := c.built.Add(hb)
	var pending time.Time // the first heartbeat sent since the last frame
	t := time.NewTimer(hb)
	defer t.Stop()
	for {
		last := time.Unix(0, c.last.Load())
		if !pending.IsZero() && !last.Before(pending) {
			pending = time.Time{} // answered, or something else arrived
		}
		now := time.Now()
		switch {
		case !pending.IsZero() && now.Sub(pending) >= timeout:
			c.die(reasonHBTimeout)
			return
		case now.Sub(last) >= 2*hb:
			c.die(reasonSilent)
			return
		case !now.Before(next):
			wctx, cancel := context.WithTimeout(context.Background(), hb)
			sent := time.Now()
			err := c.s.c.writeHB(wctx, c.ws)
			cancel()
			if err != nil {
				c.die(reasonHBWrite)
				return
			}
			next = sent.Add(hb)
			if pending.IsZero() {
				pending = sent
			}
		}
		wake := earliest(next, last.Add(2*hb))
		if !pending.IsZero() {
			wake = earliest(wake, pending.Add(timeout))
		}
		t.Reset(time.Until(wake))
		select {
		case <-t.C:
		case <-c.stop:
			return
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// die closes the socket for the given reason; the reader reports it.
func (c *conn) die(reason string) {
	c.why.CompareAndSwap(nil, &reason)
	c.ws.CloseNow()
}

// close closes the socket normally (the close handshake waits up to 5 s
// for the peer).
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.ws.Close(code, reason)
}

// shutdown reads what is already on its way (until the socket has been
// quiet for ShutdownQuiet, at most ShutdownGrace), then closes normally.
// Frames Zoom writes after our close frame are discarded by the close
// handshake.
func (c *conn) shutdown() {
	c.stopping.Store(true)
	deadline := time.Now().Add(ShutdownGrace)
	for {
		quietFor := time.Since(time.Unix(0, c.last.Load()))
		if quietFor >= ShutdownQuiet || !time.Now().Before(deadline) {
			break
		}
		t := time.NewTimer(ShutdownQuiet - quietFor)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		}
	}
	c.close(websocket.StatusNormalClosure, "shutting down")
}

// redacted is an error whose text has had its secrets removed. It does not
// unwrap: the error under it quotes the URL, token and all.
type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }

// writeHeartbeat sends one heartbeat.
func writeHeartbeat(ctx context.Context, ws *websocket.Conn) error {
	return ws.Write(ctx, websocket.MessageText, heartbeatFrame)
}
