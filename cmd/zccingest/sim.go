package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/zccingest/zccingest/test/sim"
)

// cmdSim runs the Zoom simulator for people: developers replaying captured
// streams into their CTI adapters, and the demo.
func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9880", "`address` to serve the token and WebSocket endpoints on (loopback)")
	subs := fs.String("subscriptions", "simsub1", "comma-separated subscription `ids` served")
	account := fs.String("account-id", "SimAccount0000000000000", "the account id the token endpoint accepts and events carry")
	clientID := fs.String("client-id", "sim-client-id", "the client id the token endpoint accepts")
	clientSecret := fs.String("client-secret", "sim-client-secret", "the client secret the token endpoint accepts")
	source := fs.String("source", "examples", "what to send: examples (Zoom's example events, cycled), generate (realistic contact-center traffic), none")
	replay := fs.String("replay", "", "capture `file` to replay instead of -source (comma-separated for several)")
	speed := fs.Float64("speed", 1, "replay pace: 1 as recorded, 10 ten times faster, 0 as fast as possible")
	rate := fs.Float64("rate", 5, "events per `second` per subscription (0: as fast as the sockets take them)")
	count := fs.Int("events", 0, "stop sending after `n` events (0: never)")
	agents := fs.Int("agents", 20, "agents in generated traffic")
	lifetime := fs.Duration("token-lifetime", time.Hour, "access token lifetime (expires_in)")
	closeOnExpiry := fs.Bool("close-on-token-expiry", false, "close a connection when its token expires")
	hbTimeout := fs.Duration("heartbeat-timeout", 0, "close a connection that sent no heartbeat for this long (0: never)")
	kick := fs.Bool("kick-second-connection", false, "a new connection on a subscription closes the older one")
	closeCode := fs.Int("close-code", 1000, "WebSocket close `code` used when the simulator closes a connection")
	tokenFailure := fs.String("token-failure", "", "make the token endpoint fail: invalid_client, invalid_request (no such account) or server_error (503)")
	tokenDelay := fs.Duration("token-delay", 0, "answer token requests this much later")
	buildDelay := fs.Duration("build-delay", 0, "withhold build_connection this long after a socket opens (a socket that says nothing)")
	failBuilds := fs.Int("fail-builds", 0, "refuse the next `n` build_connections, as Zoom refuses a token (see -fail-builds-content)")
	failContent := fs.String("fail-builds-content", "Token is invalid", "content of a refused build_connection (Zoom's wording changes)")
	refreshToken := fs.String("refresh-token", "", "OAuth-app mode: the refresh token accepted first (rotated on every refresh)")
	authCode := fs.String("auth-code", "", "OAuth-app mode: the authorization code accepted once")
	malformedEvery := fs.Int("malformed-every", 0, "send a malformed frame after every `n` events (0: never)")
	archiveFiles := fs.Int("archive-files", 0, "archived files served on /v2/archive_files, one a minute back from now (0: none)")
	archiveSize := fs.Int64("archive-file-size", 1<<20, "size of each archived file in `bytes`")
	restRate := fs.String("rest-rate", "20,10,5", "Contact Center REST per-second limits of the Light,Medium,Heavy `categories` (Zoom Pro: 20,10,5; Business+: 40,20,10; -1: none); past them a 429 with X-RateLimit-Reset")
	restDaily := fs.Int("rest-heavy-per-day", 0, "daily quota of Heavy REST calls (status history); past it a 429 with Retry-After as an ISO-8601 time (0: none)")
	restDailyReset := fs.Duration("rest-daily-reset", 0, "a daily 429's Retry-After is this far ahead (0: the next midnight UTC)")
	restDelay := fs.Duration("rest-processing-delay", time.Minute, "an engagement appears in the REST engagement list and detail this long after its wrap-up ended (Zoom: about a minute)")
	restPage := fs.Int("rest-page-size", 300, "largest page_size the REST endpoints honour")
	restTokenTTL := fs.Duration("rest-page-token-ttl", 15*time.Minute, "how long a REST next_page_token lasts (Zoom: 15 minutes)")
	restTZ := fs.String("rest-timezone", "UTC", "the timezone (IANA) REST reads a from/to written with a literal 'Z' in, as Zoom does, and writes times in")
	restRepeat := fs.Bool("rest-repeat-first-page", false, "agent status history answers every next_page_token with its first page again (Zoom's analytics paging bug)")
	if done, rc := parseFlags(fs, args, stderr); done {
		return rc
	}
	s := sim.New(sim.Options{
		AccountID: *account, ClientID: *clientID, ClientSecret: *clientSecret,
		Subscriptions: strings.Split(*subs, ","), TokenLifetime: *lifetime,
		CloseOnTokenExpiry: *closeOnExpiry, HeartbeatTimeout: *hbTimeout,
		KickOnSecondConnection: *kick, CloseCode: websocket.StatusCode(*closeCode),
		RefreshToken: *refreshToken, AuthCode: *authCode,
	})
	switch *tokenFailure {
	case sim.FailNone, sim.FailInvalidClient, sim.FailNoAccount, sim.FailServer:
		s.SetTokenFailure(*tokenFailure)
	default:
		fmt.Fprintf(stderr, "zccingest sim: -token-failure %q is not one of invalid_client, invalid_request, server_error\n", *tokenFailure)
		return exitConfig
	}
	s.SetTokenDelay(*tokenDelay)
	s.SetBuildDelay(*buildDelay)
	if *failBuilds > 0 {
		s.FailBuilds(*failBuilds, *failContent)
	}
	restOpts := sim.RESTOptions{HeavyPerDay: *restDaily, DailyReset: *restDailyReset, ProcessingDelay: *restDelay,
		MaxPageSize: *restPage, PageTokenTTL: *restTokenTTL, Timezone: *restTZ, RepeatFirstPage: *restRepeat}
	if _, err := time.LoadLocation(*restTZ); err != nil {
		fmt.Fprintf(stderr, "zccingest sim: -rest-timezone %q: %v\n", *restTZ, err)
		return exitConfig
	}
	if _, err := fmt.Sscanf(*restRate, "%d,%d,%d", &restOpts.LightPerSecond, &restOpts.MediumPerSecond, &restOpts.HeavyPerSecond); err != nil ||
		restOpts.LightPerSecond == 0 || restOpts.MediumPerSecond == 0 || restOpts.HeavyPerSecond == 0 {
		fmt.Fprintf(stderr, "zccingest sim: -rest-rate %q: want three non-zero numbers, Light,Medium,Heavy (e.g. 20,10,5; -1: no limit)\n", *restRate)
		return exitConfig
	}
	if *restPage < 1 || *restTokenTTL <= 0 || *restDelay < 0 || *restDaily < 0 {
		fmt.Fprintln(stderr, "zccingest sim: -rest-page-size must be at least 1, -rest-page-token-ttl positive, -rest-processing-delay and -rest-heavy-per-day not negative")
		return exitConfig
	}
	s.SetREST(restOpts)
	if err := s.Start(*listen); err != nil {
		fmt.Fprintf(stderr, "zccingest sim: %v\n", err)
		return exitFail
	}
	defer s.Close()
	for i := range *archiveFiles {
		s.AddArchiveFile(sim.ArchiveFile{MeetingUUID: fmt.Sprintf("simmeeting%d==", i/2), ID: fmt.Sprintf("simfile%d", i),
			Size: *archiveSize, CompleteTime: time.Now().UTC().Add(-time.Duration(i+1) * time.Minute)})
	}
	o := s.Options()
	fmt.Fprintf(stdout, "Zoom simulator on %s\n  token_url:     %s\n  websocket_url: %s\n  account_id:    %s\n  client_id:     %s\n  client_secret: %s\n  subscriptions: %s\n",
		s.Addr(), s.TokenURL(), s.WebSocketURL(), o.AccountID, o.ClientID, o.ClientSecret, strings.Join(o.Subscriptions, ", "))
	if *archiveFiles > 0 {
		fmt.Fprintf(stdout, "  archive api:   %s (%d files)\n", s.ArchiveAPIURL(), *archiveFiles)
	}
	fmt.Fprintf(stdout, "  rest api:      %s (Contact Center, from the generated traffic)\n", s.RESTURL())

	// Events go out once a subscription is connected: Zoom sends to open
	// sockets only.
	if err := s.WaitBuilds(ctx, o.Subscriptions[0], 1); err != nil {
		return exitOK
	}
	fmt.Fprintln(stdout, "client connected; sending events")
	var n int
	var err error
	switch {
	case *replay != "":
		n, err = s.PlayReplay(ctx, sim.NewReplay(strings.Split(*replay, ",")...), *speed)
	case *source == "none":
	default:
		var src sim.Source = sim.NewExampleSource()
		if *source == "generate" {
			g := sim.NewGenerator(uint64(time.Now().UnixNano()), o.AccountID, *agents)
			s.Track(g) // the REST endpoints serve its ground truth
			src = g
		}
		if *malformedEvery > 0 {
			src = &malformed{Source: src, every: *malformedEvery, s: s}
		}
		n, err = s.Play(ctx, src, *rate, *count)
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "zccingest sim: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "sent %d events\n", n)
	<-ctx.Done()
	return exitOK
}

// malformed sends a bad frame to every subscription after every n events.
type malformed struct {
	sim.Source
	every, n int
	s        *sim.Server
}

func (m *malformed) Next() ([]byte, error) {
	m.n++
	if m.n%m.every == 0 {
		for _, sub := range m.s.Options().Subscriptions {
			m.s.Send(context.Background(), sub, []byte(`{"module":"message","success":true,"content":"{not json"}`))
		}
	}
	return m.Source.Next()
}
