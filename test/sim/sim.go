// Package sim simulates Zoom's side of WebSocket event subscriptions on
// loopback: the OAuth token endpoint and the WebSocket endpoint, with every
// behaviour Zoom leaves undocumented available as an option, so that tests
// can prove the client copes with each. It records what it sent and what
// each client sent, so a test can compare what reached NATS with what left.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Options configure a simulator. Zero values are Zoom's observed behaviour.
type Options struct {
	AccountID    string // default "SimAccount0000000000000"
	ClientID     string // default "sim-client-id"
	ClientSecret string // default "sim-client-secret"
	// Subscriptions lists the subscription ids served; default one, "simsub1".
	Subscriptions []string
	// TokenLifetime is expires_in; default one hour.
	TokenLifetime time.Duration
	// Scopes is the token response's scope.
	Scopes string
	// RefreshToken is the OAuth-app refresh token accepted first; each
	// refresh rotates it. AuthCode is the authorization code accepted once.
	RefreshToken, AuthCode string

	// CloseOnTokenExpiry closes a connection when its token expires.
	CloseOnTokenExpiry bool
	// HeartbeatTimeout closes a connection that sent no heartbeat for this
	// long; 0 never does.
	HeartbeatTimeout time.Duration
	// KickOnSecondConnection closes a subscription's older connection when
	// a new one builds.
	KickOnSecondConnection bool
	// CloseCode and CloseReason are used whenever the simulator closes a
	// connection on its own; default 1000 (normal).
	CloseCode   websocket.StatusCode
	CloseReason string
}

// Token failure modes for SetTokenFailure.
const (
	FailNone          = ""
	FailInvalidClient = "invalid_client"  // 400 {"reason":"Invalid client_id or client_secret","error":"invalid_client"}
	FailNoAccount     = "invalid_request" // 400 {"reason":"Account does not exist",...}
	FailServer        = "server_error"    // 503
)

// A Record is one frame the simulator sent.
type Record struct {
	At           time.Time
	Subscription string
	Frame        []byte
	// Delivered counts the connections whose socket accepted the frame.
	Delivered int
}

// A Gap is a time a subscription had no open connection.
type Gap struct {
	Subscription string
	From, To     time.Time // To is zero while the gap lasts
}

// Server is the simulator.
type Server struct {
	opts Options
	srv  *http.Server
	ln   net.Listener

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every state change
	tokens     map[string]time.Time
	tokenSeq   int
	failure    string
	tokenDelay time.Duration
	refresh    string
	conns      map[string][]*conn
	builds     map[string]int // successful build_connections by subscription
	attempts   map[string]int // WebSocket requests by subscription
	live       map[string]bool
	buildDelay time.Duration
	failBuilds int
	failWith   string
	sent       []Record
	heartbeats map[string][]time.Time
	gaps       []Gap
	tokenReqs  int
	codeUsed   bool
	arch       *archiveState
	truth      []TruthEvent // every event played, in order
	gens       []*Generator // whose truth the REST endpoints serve
	rest       *restState
}

type conn struct {
	sub    string
	ws     *websocket.Conn
	token  string
	done   chan struct{}
	ready  sync.Mutex // held until the build_connection frame is written
	silent bool       // half-open; under Server.mu
}

// New returns a simulator; Start serves it.
func New(opts Options) *Server {
	if opts.AccountID == "" {
		opts.AccountID = "SimAccount0000000000000"
	}
	if opts.ClientID == "" {
		opts.ClientID = "sim-client-id"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sim-client-secret"
	}
	if len(opts.Subscriptions) == 0 {
		opts.Subscriptions = []string{"simsub1"}
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Scopes == "" {
		opts.Scopes = "user:read:admin contact_center:read:task:admin contact_center:read:user:admin contact_center:read:engagement:admin"
	}
	if opts.CloseCode == 0 {
		opts.CloseCode = websocket.StatusNormalClosure
	}
	s := &Server{
		opts: opts, changed: make(chan struct{}), tokens: map[string]time.Time{},
		refresh: opts.RefreshToken, conns: map[string][]*conn{}, builds: map[string]int{},
		attempts: map[string]int{}, live: map[string]bool{}, heartbeats: map[string][]time.Time{},
	}
	now := time.Now()
	for _, id := range opts.Subscriptions {
		s.gaps = append(s.gaps, Gap{Subscription: id, From: now})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("GET /ws", s.handleWS)
	s.arch = registerArchive(s, mux)
	s.rest = registerREST(s, mux)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// Start listens on addr ("127.0.0.1:0" for any port) and serves.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sim: listen: %w", err)
	}
	s.ln = ln
	go s.srv.Serve(ln)
	return nil
}

// Close closes every connection and the listener.
func (s *Server) Close() {
	s.mu.Lock()
	var all []*conn
	for _, cs := range s.conns {
		all = append(all, cs...)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Go(func() { c.ws.Close(websocket.StatusGoingAway, "simulator stopping") })
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// Addr is the host:port served.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return "http://" + s.Addr() + "/oauth/token" }

// WebSocketURL is the WebSocket endpoint, without query.
func (s *Server) WebSocketURL() string { return "ws://" + s.Addr() + "/ws" }

// Options returns the options in force, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// notify wakes every waiter; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait blocks until cond holds (checked under s.mu) or ctx ends.
func (s *Server) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SetTokenFailure makes the token endpoint fail in the given mode.
func (s *Server) SetTokenFailure(mode string) {
	s.mu.Lock()
	s.failure = mode
	s.mu.Unlock()
}

// SetTokenDelay makes the token endpoint answer slowly.
func (s *Server) SetTokenDelay(d time.Duration) {
	s.mu.Lock()
	s.tokenDelay = d
	s.mu.Unlock()
}

// SetBuildDelay makes the WebSocket endpoint withhold build_connection for
// d after the socket opens: a socket that opens and then says nothing.
func (s *Server) SetBuildDelay(d time.Duration) {
	s.mu.Lock()
	s.buildDelay = d
	s.mu.Unlock()
}

// FailBuilds makes the next n connections with a valid token fail
// build_connection with content, as Zoom does for a token it refuses
// (its wording has changed over the years: "Invalid Token", "Token is
// invalid").
func (s *Server) FailBuilds(n int, content string) {
	s.mu.Lock()
	s.failBuilds, s.failWith = n, content
	s.mu.Unlock()
}

// TokenRequests counts the token requests served.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// CurrentRefreshToken is the refresh token the next refresh must present.
func (s *Server) CurrentRefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenReqs++
	failure, delay := s.failure, s.tokenDelay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	fail := func(status int, reason, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"reason": reason, "error": code})
	}
	switch failure {
	case FailInvalidClient:
		fail(400, "Invalid client_id or client_secret", "invalid_client")
		return
	case FailNoAccount:
		fail(400, "Account does not exist", "invalid_request")
		return
	case FailServer:
		fail(503, "Service unavailable", "server_error")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		fail(401, "Invalid client_id or client_secret", "invalid_client")
		return
	}
	if r.URL.RawQuery != "" {
		fail(400, "parameters belong in the body", "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, "bad form", "invalid_request")
		return
	}
	resp := map[string]any{"token_type": "bearer", "scope": s.opts.Scopes, "api_url": "https://api.zoom.us"}
	switch r.PostForm.Get("grant_type") {
	case "account_credentials":
		if r.PostForm.Get("account_id") != s.opts.AccountID {
			fail(400, "Account does not exist", "invalid_request")
			return
		}
	case "refresh_token", "authorization_code":
		s.mu.Lock()
		okGrant := (r.PostForm.Get("grant_type") == "refresh_token" && s.refresh != "" && r.PostForm.Get("refresh_token") == s.refresh) ||
			(r.PostForm.Get("grant_type") == "authorization_code" && s.opts.AuthCode != "" && !s.codeUsed && r.PostForm.Get("code") == s.opts.AuthCode)
		if okGrant {
			s.codeUsed = s.codeUsed || r.PostForm.Get("grant_type") == "authorization_code"
			s.tokenSeq++
			s.refresh = "sim-refresh-" + strconv.Itoa(s.tokenSeq) + "-" + randomID()
			resp["refresh_token"] = s.refresh
		}
		s.mu.Unlock()
		if !okGrant {
			fail(400, "Invalid Token!", "invalid_grant")
			return
		}
	default:
		fail(400, "unsupported grant_type", "unsupported_grant_type")
		return
	}
	s.mu.Lock()
	s.tokenSeq++
	token := "sim-access-" + strconv.Itoa(s.tokenSeq) + "-" + randomID()
	s.tokens[token] = time.Now().Add(s.opts.TokenLifetime)
	s.mu.Unlock()
	resp["access_token"] = token
	resp["expires_in"] = int(s.opts.TokenLifetime / time.Second)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// ExpireTokens makes every token issued so far invalid; with
// CloseOnTokenExpiry, connections holding one are closed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	now := time.Now()
	for t := range s.tokens {
		s.tokens[t] = now
	}
	var victims []*conn
	if s.opts.CloseOnTokenExpiry {
		for _, cs := range s.conns {
			victims = append(victims, cs...)
		}
	}
	s.mu.Unlock()
	for _, c := range victims {
		go c.ws.Close(s.opts.CloseCode, "token expired")
	}
}

func randomID() string {
	var b [9]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

var errNotConnected = errors.New("sim: subscription has no open connection")

// AccessToken fetches an access token from the simulator's own token
// endpoint with its credentials, as a Server-to-Server app does: for tests
// that call its REST endpoints directly.
func (s *Server) AccessToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {s.opts.AccountID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(s.opts.ClientID, s.opts.ClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("sim: token: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("sim: token: HTTP %d, %v", resp.StatusCode, err)
	}
	return tok.AccessToken, nil
}
