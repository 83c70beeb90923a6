package zoomws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"
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

var heartbeatFrame = []byte(`{"module":"heartbeat"}`)

// Reasons a connection ended, as logged and counted.
const (
	reasonDial        = "dial_failed"
	reasonToken       = "token_unavailable"
	reasonBuildFailed = "build_connection_failed"
	reasonClosed      = "closed_by_server"
	reasonSilent      = "silent" // no frame for two heartbeat intervals
	reasonReadError   = "read_error"
)

// connResult says how one connection ended.
type connResult struct {
	reason string
	built  bool // build_connection succeeded
	err    error
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
	c   *Client
	log zerolog.Logger
}

// run connects, reads, and reconnects until ctx is done. Zoom re-sends
// nothing, so every moment without a connection loses events: see retryWait.
func (s *subscription) run(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		res := s.connect(ctx)
		s.c.setConnected(s.Name, false)
		if ctx.Err() != nil {
			return
		}
		s.c.m.reconnects.WithLabelValues(s.Name, res.reason).Inc()
		s.log.Warn().Str("state", "disconnected").Str("reason", res.reason).AnErr("error", res.err).Msg("connection ended; reconnecting")
		var wait time.Duration
		failures, wait = retryWait(failures, res)
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

// retryWait decides the wait before the next attempt from the consecutive
// failures so far and how the last connection ended, and returns the new
// count. After a connection that was up the next attempt is immediate; so
// is the first after a rejected token (build_connection failed), which was
// dropped from the cache, since the attempt with a fresh one is likely to
// work — a token Zoom expired early must not cost a backoff. Anything else
// backs off.
func retryWait(failures int, res connResult) (int, time.Duration) {
	switch {
	case res.built:
		return 0, 0
	case res.reason == reasonBuildFailed && failures == 0:
		return 1, 0
	default:
		return failures + 1, backoff(failures + 1)
	}
}

// backoff is the wait before attempt n+1 of a failing connection: 100 ms
// doubling to 30 s, with up to half taken off at random so that the
// subscriptions of many nodes do not reconnect in step.
func backoff(n int) time.Duration {
	d := min(100*time.Millisecond<<min(n-1, 12), 30*time.Second)
	return d - time.Duration(rand.Int64N(int64(d)/2+1))
}

// connect holds one connection until it ends.
func (s *subscription) connect(ctx context.Context) connResult {
	tok, err := s.c.opts.Tokens.Token(ctx)
	if err != nil {
		return connResult{reason: reasonToken, err: err}
	}
	u, err := URL(s.c.opts.WebSocketURL, s.ID, tok.AccessToken)
	if err != nil {
		return connResult{reason: reasonDial, err: err}
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	ws, _, err := websocket.Dial(dctx, u, nil)
	cancel()
	if err != nil {
		// Dial errors quote the URL, and the URL holds the token.
		return connResult{reason: reasonDial, err: redacted{s.c.opts.Tokens.Redact(err.Error()), err}}
	}
	defer ws.CloseNow()
	ws.SetReadLimit(ReadLimit)

	// The connection's own context: cancelling a Read's context closes the
	// socket, so shutdown closes it normally instead (below).
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	hb := s.c.opts.HeartbeatInterval
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var silent atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Shutdown: first read what is already on its way (until the socket
		// has been quiet for ShutdownQuiet, at most ShutdownGrace), then a
		// normal close, which ends the Read below. Frames Zoom writes after
		// our close frame are discarded by the close handshake.
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		deadline := time.Now().Add(ShutdownGrace)
		for {
			quietFor := time.Since(time.Unix(0, last.Load()))
			if quietFor >= ShutdownQuiet || !time.Now().Before(deadline) {
				break
			}
			select {
			case <-time.After(ShutdownQuiet - quietFor):
			case <-done:
				return
			}
		}
		ws.Close(websocket.StatusNormalClosure, "shutting down")
	}()
	go func() {
		// Heartbeats, and the watchdog: two intervals without any frame
		// means the connection is dead even if TCP says otherwise.
		t := time.NewTicker(hb / 2)
		defer t.Stop()
		next := time.Now().Add(hb)
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				if now.Sub(time.Unix(0, last.Load())) > 2*hb {
					silent.Store(true)
					ws.CloseNow()
					return
				}
				if !now.Before(next) {
					next = now.Add(hb)
					wctx, cancel := context.WithTimeout(cctx, hb)
					err := ws.Write(wctx, websocket.MessageText, heartbeatFrame)
					cancel()
					if err != nil {
						return
					}
				}
			}
		}
	}()

	_, first, err := ws.Read(cctx)
	if err != nil {
		return s.ended(ctx, err, false, &silent)
	}
	s.c.opts.Handle(s.Name, first, time.Now()) // journaled and counted
	f, err := events.ParseFrame(first)
	if err != nil || f.Module != events.ModuleBuildConnection || !f.Success {
		s.c.opts.Tokens.Invalidate(tok.AccessToken)
		content := string(f.Content)
		if err != nil {
			content = err.Error()
		}
		return connResult{reason: reasonBuildFailed, err: fmt.Errorf("build_connection: %s", s.c.opts.Tokens.Redact(content))}
	}
	last.Store(time.Now().UnixNano())
	s.c.setConnected(s.Name, true)
	s.log.Info().Str("state", "connected").Msg("subscription connected")

	// Zoom may or may not close a socket whose token expires; the source
	// refreshes tokens early, so a reconnect after such a close finds a
	// fresh one cached. Closing on our own before expiry would open a gap
	// where Zoom might have kept sending.
	//
	// One buffer for every frame of the connection: Handle keeps nothing
	// of a frame, and io.ReadAll's growing would cost more than decoding.
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	for {
		_, r, err := ws.Reader(cctx)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		now := time.Now()
		if err != nil {
			return s.ended(ctx, err, true, &silent)
		}
		last.Store(now.UnixNano())
		s.c.opts.Handle(s.Name, buf.Bytes(), now)
	}
}

func (s *subscription) ended(ctx context.Context, err error, built bool, silent *atomic.Bool) connResult {
	switch {
	case ctx.Err() != nil:
		return connResult{reason: "shutdown", built: built}
	case silent.Load():
		return connResult{reason: reasonSilent, built: built, err: errors.New("no frame for two heartbeat intervals")}
	case websocket.CloseStatus(err) != -1:
		return connResult{reason: reasonClosed, built: built, err: redacted{s.c.opts.Tokens.Redact(err.Error()), err}}
	default:
		return connResult{reason: reasonReadError, built: built, err: redacted{s.c.opts.Tokens.Redact(err.Error()), err}}
	}
}

// redacted is an error whose text has had its secrets removed. It does not
// unwrap: the error under it quotes the URL, token and all.
type redacted struct {
	msg string
	err error
}

func (r redacted) Error() string { return r.msg }
