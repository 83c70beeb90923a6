package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/archive"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/session"
)

// cmdArchive polls Zoom's archived meeting and webinar files into the NATS
// Object Store until SIGINT/SIGTERM.
func cmdArchive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, _, rc := configArgs("archive", args, stderr)
	if cfg == nil {
		return rc
	}
	if cfg.Archive == nil {
		fmt.Fprintln(stderr, "zccingest: config: archive: the file has no archive section (\"archive: {}\" takes every default)")
		return exitConfig
	}
	if cfg.NATS.StreamName() == "" {
		fmt.Fprintln(stderr, "zccingest: config: nats.stream: the archive poller publishes its notices into a JetStream stream; core NATS (\"\") cannot de-duplicate them")
		return exitConfig
	}
	log := newLogger(cfg.Log, stderr).With().Str("component", "archive").Logger()
	if rc := startChecks(cfg, log, stderr); rc != exitOK {
		return rc
	}
	tokens := archiveTokenSource(cfg, log)
	n, err := natsout.Connect(ctx, natsOptions(cfg.NATS, "zccingest-archive", log))
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	defer n.Close()
	js, err := jetstream.New(n.NATS())
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	// The notices need the events stream: made as run makes it (natsout's
	// config, retention included) when this poller starts first.
	if err := n.EnsureStream(ctx); err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := cfg.Archive
	// The host names this poller in the poll lease: a restarted process
	// takes its own lease back at once instead of waiting for it to lapse.
	host, _ := os.Hostname()
	p, err := archive.New(ctx, archive.Options{
		Instance: host,
		Tokens:   tokens, APIURL: a.APIURL, JetStream: js,
		SubjectPrefix: cfg.NATS.SubjectPrefix, AccountID: a.AccountID,
		PollInterval: a.PollInterval.D(), Backfill: a.Backfill.D(), Overlap: a.Overlap.D(), PageSize: a.PageSize,
		Bucket: a.Bucket, StateBucket: a.StateBucket, VerifyFingerprint: a.Fingerprint(),
		Logger: log, Registerer: reg,
	})
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	unsubscribe, err := subscribeArchiveEvents(n.NATS(), cfg.NATS.SubjectPrefix, p, log)
	if err != nil {
		log.Error().Err(err).Msg("startup failed")
		return exitFail
	}
	defer unsubscribe()
	if cfg.HTTP.Listen != "off" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			log.Error().Err(err).Str("key", "http.listen").Msg("startup failed")
			return exitFail
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info().Str("listen", ln.Addr().String()).Msg("serving /metrics, /healthz")
	}
	log.Info().Str("account", a.AccountID).Str("bucket", a.Bucket).Str("subject", p.Subject()).
		Dur("poll_interval", a.PollInterval.D()).Msg("archive poller running")
	if err := p.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("stopped with an error")
		return exitFail
	}
	return exitOK
}

// archiveTokenSource is the archiving app: archive.oauth_app, else the zoom
// section's app.
func archiveTokenSource(cfg *config.Config, log zerolog.Logger) *session.Source {
	if a := cfg.Archive.OAuthApp; a != nil {
		return session.NewOAuthApp(session.OAuthApp{
			ClientID: a.ClientID, ClientSecret: string(a.ClientSecret), TokenURL: cfg.Zoom.TokenURL, RefreshTokenFile: a.RefreshTokenFile,
		}, session.Options{Logger: log.With().Str("component", "session").Logger()})
	}
	return newTokenSource(cfg.Zoom, log)
}

// archiveEvent is what the poller needs of a normalized
// recording.archive_files_completed event.
type archiveEvent struct {
	Object struct {
		UUID string `json:"uuid"`
	} `json:"object"`
}

// subscribeArchiveEvents polls at once when 'run' publishes Zoom's
// recording.archive_files_completed: today it arrives as an unknown event;
// a family of its own would put it under <prefix>.<account>.recording. Only
// those two subjects: the contact-center traffic is none of this process's.
func subscribeArchiveEvents(nc *nats.Conn, prefix string, p interface{ Trigger(string) }, log zerolog.Logger) (func(), error) {
	const event = "recording.archive_files_completed"
	handle := func(m *nats.Msg) {
		var ev archiveEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			log.Warn().Str("subject", m.Subject).Msg(event + " event without a readable body; polling anyway")
		}
		p.Trigger(ev.Object.UUID)
	}
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
	}
	for _, subj := range []string{prefix + ".*.unknown." + event, prefix + ".*." + event} {
		s, err := nc.Subscribe(subj, handle)
		if err != nil {
			stop()
			return nil, fmt.Errorf("subscribing to %s: %w", subj, err)
		}
		subs = append(subs, s)
	}
	return stop, nil
}

// checkArchive is check's part for an archive section: the archiving app's
// token, its scopes, and one list request. It returns the problems found.
func checkArchive(ctx context.Context, cfg *config.Config, stdout io.Writer) int {
	if cfg.Archive == nil {
		return 0
	}
	src := archiveTokenSource(cfg, zerolog.Nop())
	tok, err := src.Token(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "archive token: FAIL: %v\n", err)
		return 1
	}
	problems := 0
	if archive.MissingScope(tok.Scopes) {
		problems++
		fmt.Fprintf(stdout, "archive scopes: MISSING: one of %s\n", strings.Join(archive.Scopes, ", "))
	}
	if err := archive.Probe(ctx, src, nil, cfg.Archive.APIURL); err != nil {
		problems++
		fmt.Fprintf(stdout, "archive list: FAIL: %v\n", err)
	} else {
		fmt.Fprintf(stdout, "archive list: ok (%s)\n", cfg.Archive.APIURL)
	}
	return problems
}

// exchangeApp is the OAuth app 'token exchange' swaps a code for: the zoom
// section's, or with --archive the archive section's.
func exchangeApp(cfg *config.Config, forArchive bool, stderr io.Writer) (session.OAuthApp, bool) {
	if forArchive {
		if cfg.Archive == nil || cfg.Archive.OAuthApp == nil {
			fmt.Fprintln(stderr, "zccingest: archive.oauth_app: --archive needs the archiving app there (an archive-only file keeps it in zoom.oauth_app: leave --archive out)")
			return session.OAuthApp{}, false
		}
		a := cfg.Archive.OAuthApp
		return session.OAuthApp{ClientID: a.ClientID, ClientSecret: string(a.ClientSecret), TokenURL: cfg.Zoom.TokenURL, RefreshTokenFile: a.RefreshTokenFile}, true
	}
	if cfg.Zoom.OAuthApp == nil {
		fmt.Fprintln(stderr, "zccingest: zoom.oauth_app: token exchange is for OAuth apps; this config uses a Server-to-Server app")
		return session.OAuthApp{}, false
	}
	return oauthApp(cfg.Zoom), true
}

// eventScopesMissing is session.Missing for a file with subscriptions; an
// archive-only file's app needs none of the contact-center scopes.
func eventScopesMissing(cfg *config.Config, granted []string) []session.ScopeNeed {
	if len(cfg.Subscriptions) == 0 {
		return nil
	}
	return session.Missing(granted)
}
