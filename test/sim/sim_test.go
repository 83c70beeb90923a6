package sim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(opts)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	o := s.Options()
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {o.AccountID}}
	req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(o.ClientID, o.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("token: %d %+v", resp.StatusCode, body)
	}
	return body.AccessToken
}

func dial(t *testing.T, s *Server, sub, tok string) *websocket.Conn {
	t.Helper()
	u := s.WebSocketURL() + "?" + url.Values{"subscriptionId": {sub}, "access_token": {tok}}.Encode()
	c, _, err := websocket.Dial(ctxT(t), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

type frame struct {
	Module  string `json:"module"`
	Success bool   `json:"success"`
	Content string `json:"content"`
}

func read(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_, b, err := c.Read(ctxT(t))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %q: %v", b, err)
	}
	return f
}

func connect(t *testing.T, s *Server, sub string) *websocket.Conn {
	t.Helper()
	c := dial(t, s, sub, token(t, s))
	if f := read(t, c); f.Module != "build_connection" || !f.Success {
		t.Fatalf("build_connection = %+v", f)
	}
	return c
}

func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	for {
		if _, _, err := c.Read(ctxT(t)); err != nil {
			return websocket.CloseStatus(err)
		}
	}
}

func TestTokenEndpoint(t *testing.T) {
	s := start(t, Options{})
	token(t, s)
	post := func(user, pass string, form url.Values, query string) (int, string) {
		req, _ := http.NewRequest("POST", s.TokenURL()+query, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error, Reason string }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	good := url.Values{"grant_type": {"account_credentials"}, "account_id": {s.Options().AccountID}}
	if code, e := post("sim-client-id", "wrong", good, ""); code != 401 || e != "invalid_client" {
		t.Errorf("wrong secret: %d %s", code, e)
	}
	if code, e := post("sim-client-id", "sim-client-secret", url.Values{"grant_type": {"account_credentials"}, "account_id": {"nope"}}, ""); code != 400 || e != "invalid_request" {
		t.Errorf("wrong account: %d %s", code, e)
	}
	if code, _ := post("sim-client-id", "sim-client-secret", good, "?grant_type=account_credentials"); code != 400 {
		t.Errorf("query parameters accepted: %d", code)
	}
	for mode, want := range map[string]int{FailInvalidClient: 400, FailNoAccount: 400, FailServer: 503} {
		s.SetTokenFailure(mode)
		if code, e := post("sim-client-id", "sim-client-secret", good, ""); code != want || e != mode {
			t.Errorf("mode %s: %d %s", mode, code, e)
		}
	}
	s.SetTokenFailure(FailNone)
	if n := s.TokenRequests(); n != 7 {
		t.Errorf("TokenRequests = %d, want 7", n)
	}
}

func TestRefreshRotation(t *testing.T) {
	s := start(t, Options{RefreshToken: "r0", AuthCode: "code1"})
	grant := func(form url.Values) (string, int) {
		req, _ := http.NewRequest("POST", s.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("sim-client-id", "sim-client-secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return body.RefreshToken, resp.StatusCode
	}
	r1, code := grant(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r0"}})
	if code != 200 || r1 == "" || r1 == "r0" {
		t.Fatalf("refresh: %d %q", code, r1)
	}
	if _, code := grant(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r0"}}); code != 400 {
		t.Errorf("a spent refresh token was accepted")
	}
	r2, code := grant(url.Values{"grant_type": {"authorization_code"}, "code": {"code1"}, "redirect_uri": {"https://x"}})
	if code != 200 || r2 == r1 || s.CurrentRefreshToken() != r2 {
		t.Errorf("code exchange: %d %q", code, r2)
	}
}

func TestBuildConnection(t *testing.T) {
	s := start(t, Options{Subscriptions: []string{"a"}})
	for _, tc := range []struct{ sub, token, want string }{
		{"a", "", "token is empty"},
		{"a", "made-up", "Invalid Token"},
		{"zzz", token(t, s), "subscription not found"},
	} {
		c := dial(t, s, tc.sub, tc.token)
		if f := read(t, c); f.Module != "build_connection" || f.Success || f.Content != tc.want {
			t.Errorf("%+v: got %+v, want failure %q", tc, f, tc.want)
		}
		if st := closeStatus(t, c); st != websocket.StatusPolicyViolation {
			t.Errorf("close status %v", st)
		}
	}
	connect(t, s, "a")
	if s.Builds("a") != 1 || !s.Connected("a") {
		t.Errorf("builds %d connected %v", s.Builds("a"), s.Connected("a"))
	}
}

func TestHeartbeatAndEvents(t *testing.T) {
	s := start(t, Options{Subscriptions: []string{"a", "b"}})
	ca, cb := connect(t, s, "a"), connect(t, s, "b")
	ca.Write(ctxT(t), websocket.MessageText, []byte(`{"module":"heartbeat"}`))
	if f := read(t, ca); f.Module != "heartbeat" || f.Content != "live" {
		t.Errorf("heartbeat reply %+v", f)
	}
	if len(s.Heartbeats("a")) != 1 || len(s.Heartbeats("b")) != 0 {
		t.Errorf("heartbeats recorded: a %d b %d", len(s.Heartbeats("a")), len(s.Heartbeats("b")))
	}
	ev := Examples()["contact_center.engagement_started"]
	if n := s.SendEvent(ctxT(t), ev); n != 2 {
		t.Errorf("delivered to %d sockets, want 2", n)
	}
	for _, c := range []*websocket.Conn{ca, cb} {
		f := read(t, c)
		if f.Module != "message" || f.Content != string(ev) {
			t.Errorf("message %+v", f)
		}
	}
	s.Send(ctxT(t), "a", []byte("{not json"))
	if _, b, _ := ca.Read(ctxT(t)); string(b) != "{not json" {
		t.Errorf("malformed frame arrived as %q", b)
	}
	sent := s.Sent()
	if len(sent) != 3 || sent[0].Subscription != "a" || sent[1].Subscription != "b" || sent[2].Delivered != 1 {
		t.Errorf("Sent = %+v", sent)
	}
}

func TestTokenExpiryCloses(t *testing.T) {
	s := start(t, Options{CloseOnTokenExpiry: true, CloseCode: 4001})
	c := connect(t, s, "simsub1")
	s.ExpireTokens()
	if st := closeStatus(t, c); st != 4001 {
		t.Errorf("close status %v, want 4001", st)
	}
	// The expired token no longer builds a connection.
	old := token(t, s)
	s.ExpireTokens()
	c2 := dial(t, s, "simsub1", old)
	if f := read(t, c2); f.Success || f.Content != "Invalid Token" {
		t.Errorf("expired token: %+v", f)
	}
}

func TestTokenExpiryLeavesOpen(t *testing.T) {
	s := start(t, Options{})
	c := connect(t, s, "simsub1")
	s.ExpireTokens()
	s.SendEvent(ctxT(t), []byte(`{"event":"x"}`))
	if f := read(t, c); f.Module != "message" {
		t.Errorf("connection with an expired token got %+v", f)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	s := start(t, Options{HeartbeatTimeout: 100 * time.Millisecond})
	c := connect(t, s, "simsub1")
	if st := closeStatus(t, c); st != websocket.StatusNormalClosure {
		t.Errorf("close status %v", st)
	}
	if err := s.WaitDisconnected(ctxT(t), "simsub1"); err != nil {
		t.Fatal(err)
	}
}

func TestSecondConnection(t *testing.T) {
	t.Run("kicks", func(t *testing.T) {
		s := start(t, Options{KickOnSecondConnection: true, CloseCode: 4000})
		first := connect(t, s, "simsub1")
		connect(t, s, "simsub1")
		if st := closeStatus(t, first); st != 4000 {
			t.Errorf("first connection closed with %v, want 4000", st)
		}
	})
	t.Run("keeps both", func(t *testing.T) {
		s := start(t, Options{})
		first := connect(t, s, "simsub1")
		second := connect(t, s, "simsub1")
		if n := s.SendEvent(ctxT(t), []byte(`{}`)); n != 2 {
			t.Errorf("delivered %d, want both connections", n)
		}
		read(t, first)
		read(t, second)
	})
}

func TestSilentHalfOpen(t *testing.T) {
	s := start(t, Options{})
	c := connect(t, s, "simsub1")
	s.SetSilent("simsub1", true)
	c.Write(ctxT(t), websocket.MessageText, []byte(`{"module":"heartbeat"}`))
	if err := s.WaitHeartbeats(ctxT(t), "simsub1", 1); err != nil {
		t.Fatal(err)
	}
	if n := s.SendEvent(ctxT(t), []byte(`{}`)); n != 0 {
		t.Errorf("a silent subscription delivered %d", n)
	}
	if !s.Connected("simsub1") {
		t.Errorf("half-open connection was closed")
	}
	// Nothing arrives (the timed-out read then closes the client's side).
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, b, err := c.Read(ctx); err == nil {
		t.Errorf("a silent subscription sent %q", b)
	}
}

func TestCloseCodesAndGaps(t *testing.T) {
	s := start(t, Options{})
	c := connect(t, s, "simsub1")
	s.CloseConnections("simsub1", websocket.StatusTryAgainLater, "maintenance")
	if st := closeStatus(t, c); st != websocket.StatusTryAgainLater {
		t.Errorf("status %v", st)
	}
	if err := s.WaitDisconnected(ctxT(t), "simsub1"); err != nil {
		t.Fatal(err)
	}
	connect(t, s, "simsub1")
	gaps := s.Gaps()
	if len(gaps) != 2 || gaps[0].To.IsZero() || gaps[1].To.IsZero() || gaps[1].From.Before(gaps[0].To) {
		t.Errorf("gaps = %+v", gaps)
	}
}

func TestGeneratorConsistency(t *testing.T) {
	g := NewGenerator(1, "acct", 3)
	var evs []event
	for range 60 {
		b, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		var ev event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	// Within one engagement (started .. task_completed) the ids agree.
	var eng, task, user string
	seen := 0
	for _, ev := range evs {
		o := ev.Payload.Object
		if ev.Payload.AccountID != "acct" && !ev.Payload.flat {
			t.Fatalf("account %q", ev.Payload.AccountID)
		}
		switch ev.Event {
		case "contact_center.engagement_started":
			eng, task, user = o["engagement_id"].(string), "", ""
			seen++
		case "contact_center.task_created":
			task = o["task_id"].(string)
		case "contact_center.engagement_user_answered":
			user = o["user_id"].(string)
		}
		if id, ok := o["engagement_id"].(string); ok && eng != "" && id != eng {
			t.Errorf("%s engagement_id %s, want %s", ev.Event, id, eng)
		}
		if id, ok := o["task_id"].(string); ok && task != "" && id != task {
			t.Errorf("%s task_id %s, want %s", ev.Event, id, task)
		}
		if id, ok := o["user_id"].(string); ok && user != "" && strings.HasPrefix(ev.Event, "contact_center.engagement_") && id != user {
			t.Errorf("%s user_id %s, want %s", ev.Event, id, user)
		}
	}
	if seen < 2 {
		t.Errorf("%d engagements in 60 events", seen)
	}
}

func TestPlayRate(t *testing.T) {
	s := start(t, Options{})
	c := connect(t, s, "simsub1")
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	n, err := s.Play(ctxT(t), NewExampleSource(), 0, 70)
	if err != nil || n != 70 {
		t.Fatalf("Play = %d, %v", n, err)
	}
	keys := map[string]bool{}
	for _, r := range s.Sent() {
		keys[string(r.Frame)] = true
	}
	if len(keys) != 70 {
		t.Errorf("%d distinct frames of 70: examples must not repeat byte for byte", len(keys))
	}
	if _, err := s.PlayReplay(ctxT(t), NewReplay("does-not-exist"), 0); err == nil {
		t.Errorf("replaying a missing file: no error")
	}
}

func TestTokenDelay(t *testing.T) {
	s := start(t, Options{})
	s.SetTokenDelay(300 * time.Millisecond)
	t0 := time.Now()
	token(t, s)
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("token answered after %s, want at least the 300ms delay", d)
	}
}

// A half-open connection counts as a gap from the moment it goes silent
// until a new one builds; the new one is healthy.
func TestSilentIsAGapUntilTheNextBuild(t *testing.T) {
	s := start(t, Options{})
	old := connect(t, s, "simsub1")
	s.SetSilent("simsub1", true)
	if n := s.SendEvent(ctxT(t), []byte(`{}`)); n != 0 {
		t.Errorf("a silent connection accepted %d", n)
	}
	c := connect(t, s, "simsub1")
	if n := s.SendEvent(ctxT(t), []byte(`{}`)); n != 1 {
		t.Errorf("the new connection accepted %d, want 1", n)
	}
	read(t, c)
	old.CloseNow()
	gaps := s.Gaps()
	if len(gaps) != 2 || gaps[1].To.IsZero() || gaps[1].To.Sub(gaps[1].From) <= 0 {
		t.Errorf("gaps = %+v, want the silent time as the second", gaps)
	}
}

func TestBuildDelayAndFailures(t *testing.T) {
	s := start(t, Options{})
	s.FailBuilds(1, "Token is invalid")
	c := dial(t, s, "simsub1", token(t, s))
	if f := read(t, c); f.Module != "build_connection" || f.Success || f.Content != "Token is invalid" {
		t.Errorf("first build = %+v, want the failure", f)
	}
	connect(t, s, "simsub1") // the next one builds
	s.SetBuildDelay(time.Hour)
	c = dial(t, s, "simsub1", token(t, s))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, b, err := c.Read(ctx); err == nil {
		t.Errorf("a withheld build_connection arrived: %q", b)
	}
	if n := s.Attempts("simsub1"); n != 3 {
		t.Errorf("Attempts = %d, want 3", n)
	}
	if n := s.Builds("simsub1"); n != 1 {
		t.Errorf("Builds = %d, want 1", n)
	}
}
