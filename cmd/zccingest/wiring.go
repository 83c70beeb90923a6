package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/wal"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/session"
)

// loadConfig loads --config; on error it prints the message, which names the
// key, and returns the exit status.
// configArgs parses the arguments of a command whose only flag is
// --config, and loads that file. A nil config comes with the exit code
// (exitOK after -h).
func configArgs(name string, args []string, stderr io.Writer) (cfg *config.Config, path string, code int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	p := fs.String("config", "", "configuration `file`")
	if done, rc := parseFlags(fs, args, stderr); done {
		return nil, "", rc
	}
	cfg, code = loadConfig(*p, stderr)
	return cfg, *p, code
}

func loadConfig(path string, stderr io.Writer) (*config.Config, int) {
	if path == "" {
		fmt.Fprintln(stderr, "zccingest: --config is required")
		return nil, exitConfig
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest: %v\n", err)
		return nil, exitConfig
	}
	return cfg, exitOK
}

func newLogger(c config.Log, w io.Writer) zerolog.Logger {
	// Every subscription logs from its own goroutine; run's writer need
	// not be safe for concurrent use.
	out := w
	w = zerolog.SyncWriter(w)
	if c.Format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !isTerminal(out)}
	}
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func newTokenSource(z config.Zoom, log zerolog.Logger) *session.Source {
	opts := session.Options{Logger: log.With().Str("component", "session").Logger()}
	if a := z.OAuthApp; a != nil {
		return session.NewOAuthApp(oauthApp(z), opts)
	}
	return session.NewServerToServer(session.ServerToServer{
		AccountID: z.AccountID, ClientID: z.ClientID, ClientSecret: string(z.ClientSecret), TokenURL: z.TokenURL,
	}, opts)
}

func oauthApp(z config.Zoom) session.OAuthApp {
	a := z.OAuthApp
	return session.OAuthApp{ClientID: a.ClientID, ClientSecret: string(a.ClientSecret), TokenURL: z.TokenURL, RefreshTokenFile: a.RefreshTokenFile}
}

// parseFlags parses a command's flags; -h prints them and exits 0.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (done bool, code int) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, exitOK
		}
		return true, exitConfig
	}
	return false, exitOK
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// natsOptions maps the nats section onto the NATS side's options.
func natsOptions(n config.NATS, name string, log zerolog.Logger) natsout.Options {
	return natsout.Options{
		URL: n.URL, Name: name,
		CredsFile: n.CredsFile, NKeyFile: n.NKeyFile, User: n.User, Password: string(n.Password), Token: string(n.Token),
		CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile,
		Embedded: natsout.Embedded{
			Listen: n.Embedded.Listen, StoreDir: n.Embedded.StoreDir, CredentialsDir: n.Embedded.CredentialsDir,
			TLSCertFile: n.Embedded.TLS.CertFile, TLSKeyFile: n.Embedded.TLS.KeyFile,
		},
		Stream:        n.StreamName(),
		SubjectPrefix: n.SubjectPrefix, DuplicateWindow: n.DuplicateWindow.D(),
		MaxAge: n.StreamMaxAge.D(), MaxBytes: int64(n.StreamMaxBytes), Replicas: n.StreamReplicas,
		Logger: log,
	}
}

// ingestOptions maps the config onto the pipeline's options.
func ingestOptions(cfg *config.Config, sink ingest.Sink, log zerolog.Logger) ingest.Options {
	o := ingest.Options{
		Sink: sink, SubjectPrefix: cfg.NATS.SubjectPrefix, AccountID: cfg.Zoom.AccountID,
		BufferEvents: cfg.NATS.BufferEvents, BufferBytes: int64(cfg.NATS.BufferBytes),
		DuplicateWindow: cfg.NATS.DuplicateWindow.D(),
		CaptureDir:      cfg.Capture.Dir, CaptureMaxFileSize: int64(cfg.Capture.MaxFileSize),
		CaptureMaxAge: cfg.Capture.MaxAge.D(), CaptureMaxTotalSize: int64(cfg.Capture.MaxTotalSize),
		Logger: log,
	}
	for _, s := range cfg.Subscriptions {
		o.Subscriptions = append(o.Subscriptions, s.Name)
	}
	return o
}

// walOptions maps the wal section onto the write-ahead log's options; nil
// when it is off. Only run has one: replay's source is on disk already.
func walOptions(w config.WAL) *wal.Options {
	if !w.Enabled {
		return nil
	}
	return &wal.Options{Dir: w.Dir, Sync: wal.SyncPolicy(w.Fsync), SyncInterval: w.FsyncInterval.D(), MaxBytes: int64(w.MaxBytes)}
}

// zoomwsOptions maps the zoom section and the subscriptions onto the
// socket side's options, delivering to in.
func zoomwsOptions(cfg *config.Config, tokens *session.Source, in *ingest.Ingester, log zerolog.Logger) zoomws.Options {
	o := zoomws.Options{
		WebSocketURL:      cfg.Zoom.WebSocketURL,
		HeartbeatInterval: cfg.Zoom.HeartbeatInterval.D(),
		HeartbeatTimeout:  cfg.Zoom.HeartbeatTimeout.D(),
		Tokens:            tokens,
		Handle:            func(sub string, frame []byte, received time.Time) { in.Handle(sub, frame, received) },
		Logger:            log,
		Registerer:        in.Registry(),
	}
	for _, s := range cfg.Subscriptions {
		o.Subscriptions = append(o.Subscriptions, zoomws.Subscription{Name: s.Name, ID: s.ID})
	}
	return o
}

// startChecks logs the config's warnings and names at once a store_dir the
// embedded server could not use: the server would only say, 10 s later,
// that it did not start listening. It returns the exit status to stop
// with, exitOK to go on.
func startChecks(cfg *config.Config, log zerolog.Logger, stderr io.Writer) int {
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	if cfg.NATS.URL == "" {
		if err := writableDir(cfg.NATS.Embedded.StoreDir); err != nil {
			fmt.Fprintf(stderr, "zccingest: config: nats.embedded.store_dir: not writable: %v\n", err)
			return exitConfig
		}
	}
	return exitOK
}
