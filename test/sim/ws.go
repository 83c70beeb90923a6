package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/coder/websocket"
)

// Frame builds a frame of Zoom's envelope.
func Frame(module string, success bool, content string) []byte {
	b, _ := json.Marshal(struct {
		Module  string   `json:"module"`
		Success bool     `json:"success"`
		Content string   `json:"content"`
		Header  struct{} `json:"header"`
	}{module, success, content, struct{}{}})
	return b
}

// MessageFrame wraps an event as Zoom does: its JSON as a string in content.
func MessageFrame(event []byte) []byte { return Frame("message", true, string(event)) }

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub, token := q.Get("subscriptionId"), q.Get("access_token")
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	ctx := context.Background()

	s.mu.Lock()
	s.attempts[sub]++
	s.notify()
	delay := s.buildDelay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			ws.CloseNow()
			return
		}
	}
	s.mu.Lock()
	expiry, known := s.tokens[token]
	subOK := slices.Contains(s.opts.Subscriptions, sub)
	var reason string
	switch {
	case token == "":
		reason = "token is empty"
	case !known || !time.Now().Before(expiry):
		reason = "Invalid Token"
	case !subOK:
		reason = "subscription not found"
	case s.failBuilds > 0:
		s.failBuilds--
		reason = s.failWith
	}
	s.mu.Unlock()
	if reason != "" {
		ws.Write(ctx, websocket.MessageText, Frame("build_connection", false, reason))
		ws.Close(websocket.StatusPolicyViolation, reason)
		return
	}

	c := &conn{sub: sub, ws: ws, token: token, done: make(chan struct{})}
	// The connection is listed, and the build counted, before the client
	// can read its build_connection frame; events wait for that frame
	// (Send takes c.ready), as Zoom sends build_connection first.
	c.ready.Lock()
	s.mu.Lock()
	var kicked []*conn
	if s.opts.KickOnSecondConnection {
		kicked = s.conns[sub]
		s.conns[sub] = nil
	}
	s.conns[sub] = append(s.conns[sub], c)
	s.builds[sub]++
	s.updateGap(sub)
	s.notify()
	s.mu.Unlock()
	for _, old := range kicked {
		go old.ws.Close(s.opts.CloseCode, "another connection opened on this subscription")
	}
	err = ws.Write(ctx, websocket.MessageText, Frame("build_connection", true, "success"))
	c.ready.Unlock()
	if err != nil {
		s.drop(c)
		return
	}

	if s.opts.CloseOnTokenExpiry {
		t := time.AfterFunc(time.Until(expiry), func() { ws.Close(s.opts.CloseCode, "token expired") })
		defer t.Stop()
	}
	var hbTimer *time.Timer
	if s.opts.HeartbeatTimeout > 0 {
		hbTimer = time.AfterFunc(s.opts.HeartbeatTimeout, func() { ws.Close(s.opts.CloseCode, "heartbeat timeout") })
		defer hbTimer.Stop()
	}
	defer s.drop(c)
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Module string `json:"module"`
		}
		if json.Unmarshal(data, &m) != nil || m.Module != "heartbeat" {
			continue
		}
		s.mu.Lock()
		s.heartbeats[sub] = append(s.heartbeats[sub], time.Now())
		silent := c.silent
		s.notify()
		s.mu.Unlock()
		if silent {
			continue // half-open: swallow heartbeats, answer nothing
		}
		if hbTimer != nil {
			hbTimer.Reset(s.opts.HeartbeatTimeout)
		}
		ws.Write(ctx, websocket.MessageText, Frame("heartbeat", true, "live"))
	}
}

// drop forgets a closed connection.
func (s *Server) drop(c *conn) {
	c.ws.CloseNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.conns[c.sub]
	if i := slices.Index(cs, c); i >= 0 {
		s.conns[c.sub] = slices.Delete(cs, i, i+1)
		s.updateGap(c.sub)
		s.notify()
	}
}

// updateGap opens a gap when the subscription's last live connection
// (open, built, and not half-open) goes, and closes it when one is built;
// s.mu must be held.
func (s *Server) updateGap(sub string) {
	live := slices.ContainsFunc(s.conns[sub], func(c *conn) bool { return !c.silent })
	if live == s.live[sub] {
		return
	}
	s.live[sub] = live
	if !live {
		s.gaps = append(s.gaps, Gap{Subscription: sub, From: time.Now()})
		return
	}
	for i := len(s.gaps) - 1; i >= 0; i-- {
		if s.gaps[i].Subscription == sub {
			if s.gaps[i].To.IsZero() {
				s.gaps[i].To = time.Now()
			}
			return
		}
	}
}

// Send writes a frame to every open connection of the subscription and
// records it. It returns how many sockets accepted it.
func (s *Server) Send(ctx context.Context, sub string, frame []byte) int {
	s.mu.Lock()
	var cs []*conn
	for _, c := range s.conns[sub] {
		if !c.silent {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range cs {
		c.ready.Lock()
		err := c.ws.Write(ctx, websocket.MessageText, frame)
		c.ready.Unlock()
		if err == nil {
			n++
		}
	}
	s.mu.Lock()
	s.sent = append(s.sent, Record{At: time.Now(), Subscription: sub, Frame: frame, Delivered: n})
	s.notify()
	s.mu.Unlock()
	return n
}

// SendEvent sends the event as a message frame to each named subscription,
// or to all when none is named, as Zoom does for every subscription of an
// app. It returns how many sockets accepted it in all.
func (s *Server) SendEvent(ctx context.Context, event []byte, subs ...string) int {
	if len(subs) == 0 {
		subs = s.opts.Subscriptions
	}
	frame := MessageFrame(event)
	n := 0
	for _, sub := range subs {
		n += s.Send(ctx, sub, frame)
	}
	return n
}

// CloseConnections closes the subscription's open connections with code.
func (s *Server) CloseConnections(sub string, code websocket.StatusCode, reason string) {
	s.mu.Lock()
	cs := slices.Clone(s.conns[sub])
	s.mu.Unlock()
	// Close waits for the peer's close frame: never on the caller's time.
	for _, c := range cs {
		go c.ws.Close(code, reason)
	}
}

// DropConnections cuts the subscription's connections without a close
// handshake, as a network failure would.
func (s *Server) DropConnections(sub string) {
	s.mu.Lock()
	cs := slices.Clone(s.conns[sub])
	s.mu.Unlock()
	for _, c := range cs {
		c.ws.CloseNow()
	}
}

// SetSilent makes the subscription's open connections half-open: the
// sockets stay open but nothing more is sent on them, heartbeat replies
// included, and the subscription counts as disconnected (a gap) until a
// new connection builds. Connections opened later are healthy. Clearing it
// resumes the silent ones.
func (s *Server) SetSilent(sub string, silent bool) {
	s.mu.Lock()
	for _, c := range s.conns[sub] {
		c.silent = silent
	}
	s.updateGap(sub)
	s.notify()
	s.mu.Unlock()
}

// Builds counts the successful build_connections of the subscription.
func (s *Server) Builds(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.builds[sub]
}

// Attempts counts the WebSocket requests on the subscription, built or not.
func (s *Server) Attempts(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[sub]
}

// Connected reports whether the subscription has an open connection.
func (s *Server) Connected(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns[sub]) > 0
}

// WaitBuilds blocks until the subscription has had n successful
// build_connections and has a connection open.
func (s *Server) WaitBuilds(ctx context.Context, sub string, n int) error {
	return s.wait(ctx, func() bool { return s.builds[sub] >= n && len(s.conns[sub]) > 0 })
}

// WaitDisconnected blocks until the subscription has no open connection.
func (s *Server) WaitDisconnected(ctx context.Context, sub string) error {
	return s.wait(ctx, func() bool { return len(s.conns[sub]) == 0 })
}

// WaitHeartbeats blocks until the subscription's clients sent n heartbeats.
func (s *Server) WaitHeartbeats(ctx context.Context, sub string, n int) error {
	return s.wait(ctx, func() bool { return len(s.heartbeats[sub]) >= n })
}

// Sent returns a copy of every frame sent so far.
func (s *Server) Sent() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Heartbeats returns when the subscription's clients sent heartbeats.
func (s *Server) Heartbeats(sub string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.heartbeats[sub])
}

// Gaps returns the times each subscription had no open connection, from the
// simulator's start.
func (s *Server) Gaps() []Gap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.gaps)
}
