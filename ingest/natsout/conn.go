// Package natsout is the NATS side of the ingester: the connection (and
// the embedded server when there is no outside one), the JetStream stream
// it publishes into, and a publisher that implements ingest.Sink.
//
// A second output (a KV state bucket, Kafka) is a package of its own beside
// this one, implementing ingest.Sink; the pipeline does not change.
package natsout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/ingest/zoomws"
)

// Options say where and how to publish.
type Options struct {
	// URL of an outside server or cluster (comma-separated seeds); empty
	// starts an embedded server (Embedded).
	URL  string
	Name string // the client name servers show

	CredsFile, NKeyFile, User, Password, Token string
	CAFile, CertFile, KeyFile                  string

	Embedded Embedded

	// Stream is the JetStream stream published into, "" for core NATS.
	// A missing stream is created over SubjectPrefix.> with the limits
	// below; an existing one keeps its settings (see StreamUpdate).
	Stream          string
	SubjectPrefix   string
	DuplicateWindow time.Duration
	MaxAge          time.Duration // 0: no age limit
	MaxBytes        int64         // 0: no size limit
	Replicas        int           // 0 or 1: one copy

	// FailFast makes Connect fail when no server answers, for replay,
	// which has no live socket to hold events for. Run keeps trying.
	FailFast bool

	Logger zerolog.Logger
}

// Embedded configures the server started when URL is empty.
type Embedded struct {
	Listen   string // host:port where CTI adapters connect
	StoreDir string // JetStream file store, locked while the server runs
	// CredentialsDir holds the seeds of the server's users (natsauth):
	// outside clients connect as a role, the ingester in-process.
	CredentialsDir string
	// TLSCertFile and TLSKeyFile, when set, make clients on the listen
	// address use TLS (the in-process connection needs none).
	TLSCertFile, TLSKeyFile string
}

// PingInterval is how often a quiet connection is probed: a dead outside
// server is noticed after two missed pings, some 40 s, not nats.go's
// default of minutes.
const PingInterval = 20 * time.Second

// MaxSubject is the longest subject published. A server closes the
// connection (-ERR 'Maximum Control Line Exceeded') on a PUB line over its
// max_control_line (4 KiB by default); a longer subject is refused here
// instead, and the connection lives.
const MaxSubject = 2048

// A Conn is a connection to NATS that is replaced when nats.go closes it
// for good, and the embedded server behind it if there is one.
type Conn struct {
	opts   Options
	log    zerolog.Logger
	server *server.Server // nil for an outside server
	// For the embedded server: the ingester's own credentials, and the
	// lock on its store.
	internal  nats.Option
	storeLock *os.File

	cur     atomic.Pointer[link]
	mu      sync.Mutex // closing and redials.Add, against Close's Wait
	closing atomic.Bool
	done    chan struct{}
	redials sync.WaitGroup

	denied deniedSubjects
}

// link is one nats.go connection and its JetStream context.
type link struct {
	nc   *nats.Conn
	js   jetstream.JetStream // nil for core NATS
	acks *acks               // routes js's acknowledgements to the batch in flight
}

// Connect connects as opts say; with opts.URL empty it starts the embedded
// server first and connects in-process. Unless opts.FailFast, a server
// that does not answer yet is not an error: the connection keeps trying.
func Connect(ctx context.Context, opts Options) (*Conn, error) {
	c := &Conn{opts: opts, log: opts.Logger.With().Str("component", "nats").Logger(), done: make(chan struct{})}
	if opts.URL == "" {
		if opts.Embedded.CredentialsDir == "" {
			return nil, errors.New("natsout: the embedded server needs Embedded.CredentialsDir: no client may connect without credentials")
		}
		lock, err := lockStore(opts.Embedded.StoreDir)
		if err != nil {
			return nil, err
		}
		c.storeLock = lock
		creds, err := natsauth.Ensure(opts.Embedded.CredentialsDir, opts.SubjectPrefix)
		if err != nil {
			lock.Close()
			return nil, fmt.Errorf("%w (nats.embedded.credentials_dir)", err)
		}
		s, err := StartEmbedded(opts.Embedded, creds.Users(), c.log)
		if err != nil {
			lock.Close()
			return nil, err
		}
		c.server, c.internal = s, creds.Internal()
		c.log.Info().Str("credentials_dir", creds.Dir).Msg("embedded NATS server: clients connect with a role's seed from the credentials directory")
		c.log.Info().Str("listen", opts.Embedded.Listen).Str("store_dir", opts.Embedded.StoreDir).Msg("embedded NATS server started")
	}
	l, err := c.dial(!opts.FailFast)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.cur.Store(l)
	if l.js != nil {
		c.ensureStream(ctx)
	}
	return c, nil
}

// ensureStream makes sure the stream exists before the first event needs
// it: at once when NATS answers, else in the background until it does
// (NATS down at start-up, a cluster still electing its JetStream leader),
// so that consumers find the stream even while no event has come yet. The
// publisher also creates it when a publish finds it missing.
func (c *Conn) ensureStream(ctx context.Context) {
	try := func(ctx context.Context) error {
		if !c.NATS().IsConnected() {
			return errors.New("not connected")
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return c.EnsureStream(sctx)
	}
	err := try(ctx)
	if err == nil {
		return
	}
	c.log.Warn().Err(err).Msg("stream not ready yet; events are held until it is")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing.Load() {
		return
	}
	c.redials.Add(1)
	go func() {
		defer c.redials.Done()
		bg, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-c.done:
				cancel()
			case <-bg.Done():
			}
		}()
		for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			select {
			case <-time.After(wait):
			case <-c.done:
				return
			}
			if err := try(bg); err == nil {
				c.log.Info().Str("stream", c.opts.Stream).Msg("stream ready")
				return
			}
		}
	}()
}

func (c *Conn) dial(retry bool) (*link, error) {
	opts, err := AuthOptions(c.opts)
	if err != nil {
		return nil, err
	}
	log := c.log
	opts = append(opts,
		nats.Name(c.opts.Name),
		nats.MaxReconnects(-1), // a long-lived bridge never gives up
		nats.ReconnectWait(250*time.Millisecond),
		nats.PingInterval(PingInterval),
		// No client-side reconnect buffer: while disconnected a publish
		// fails at once and the pipeline's own buffer holds the event.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if !nc.IsClosed() {
				log.Warn().AnErr("error", err).Str("state", "disconnected").Msg("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("state", "connected").Str("url", nc.ConnectedUrlRedacted()).Msg("NATS reconnected")
		}),
		nats.ClosedHandler(c.closed),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.denied.note(err)
			log.Error().Err(err).Msg("NATS error")
		}),
	)
	if retry {
		opts = append(opts, nats.RetryOnFailedConnect(true))
	}
	if c.server != nil {
		opts = append(opts, nats.InProcessServer(c.server), c.internal)
	}
	nc, err := nats.Connect(c.opts.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsout: connecting to NATS: %w", err)
	}
	l := &link{nc: nc}
	if c.opts.Stream != "" {
		l.acks = &acks{}
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second), jetstream.WithPublishAsyncMaxPending(2*ingest.MaxBatch),
			jetstream.WithPublishAsyncAckHandler(l.acks.ok), jetstream.WithPublishAsyncErrHandler(l.acks.failed))
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("natsout: jetstream: %w", err)
		}
		l.js = js
	}
	return l, nil
}

// closed is nats.go's ClosedHandler. A connection closes for good on some
// server errors (a control line over max_control_line, repeated
// authorization errors), and MaxReconnects does not apply to it: unless
// the ingester is stopping, dial again. Events wait in the pipeline's
// buffer meanwhile, and Ready says so.
func (c *Conn) closed(nc *nats.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing.Load() || c.cur.Load() == nil || c.cur.Load().nc != nc {
		return
	}
	c.log.Error().AnErr("error", nc.LastError()).Str("state", "closed").Msg("NATS connection closed by the client library; dialing again")
	c.redials.Add(1)
	go func() {
		defer c.redials.Done()
		wait := 100 * time.Millisecond
		for !c.closing.Load() {
			l, err := c.dial(true)
			if err == nil {
				c.cur.Store(l)
				if c.closing.Load() { // Close ran meanwhile and missed it
					l.nc.Close()
				}
				c.log.Info().Msg("NATS connection replaced")
				return
			}
			c.log.Error().Err(err).Msg("dialing NATS again failed")
			select {
			case <-time.After(wait):
			case <-c.done:
				return
			}
			wait = min(2*wait, 5*time.Second)
		}
	}()
}

// Ready returns nil while connected, else what the connection is doing.
func (c *Conn) Ready() error {
	nc := c.cur.Load().nc
	if nc.IsClosed() {
		return errors.New("nats: connection closed, dialing again")
	}
	if !nc.IsConnected() {
		return fmt.Errorf("nats: %s", nc.Status())
	}
	return nil
}

// NATS returns the current connection. It may be replaced later: hold it
// only briefly.
func (c *Conn) NATS() *nats.Conn { return c.cur.Load().nc }

// Server is the embedded server, nil for an outside one.
func (c *Conn) Server() *server.Server { return c.server }

// Close flushes and closes the connection and shuts the embedded server
// down.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closing.Swap(true) {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	close(c.done)
	c.redials.Wait()
	if l := c.cur.Load(); l != nil {
		if l.nc.IsConnected() { // else the flush could only time out
			l.nc.FlushTimeout(5 * time.Second)
		}
		l.nc.Close()
	}
	if c.server != nil {
		c.server.Shutdown()
		c.server.WaitForShutdown()
	}
	if c.storeLock != nil {
		c.storeLock.Close()
	}
}

// AuthOptions are what an outside server may need: credentials and TLS.
func AuthOptions(o Options) ([]nats.Option, error) {
	var opts []nats.Option
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.NKeyFile != "" {
		n, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("natsout: nats.nkey_file: %w", err)
		}
		opts = append(opts, n)
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	return opts, nil
}

// DialOnce connects to the outside server of o once, without retries: for
// a check, where an unreachable server is the answer.
func DialOnce(o Options) (*nats.Conn, error) {
	opts, err := AuthOptions(o)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name(o.Name), nats.Timeout(5*time.Second), nats.NoReconnect())
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsout: connecting to NATS: %w", err)
	}
	return nc, nil
}

// MaxFrameMessage is the largest message a frame of zoomws.ReadLimit bytes
// can become, headers included: the embedded server's max_payload, and
// what an outside server needs so that no event loses its body.
const MaxFrameMessage = zoomws.ReadLimit + 64<<10

// StartEmbedded starts a NATS server with JetStream; its warnings and
// errors go to log.
//
// users are the server's nkey users (natsauth.Credentials.Users); nil
// starts it open to anyone, for test rigs only.
func StartEmbedded(e Embedded, users []*server.NkeyUser, log zerolog.Logger) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(e.Listen)
	if err != nil {
		return nil, fmt.Errorf("natsout: nats.embedded.listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("natsout: nats.embedded.listen: %w", err)
	}
	so := &server.Options{
		ServerName: "zccingest-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   e.StoreDir,
		NoSigs:     true,
		// Every frame must fit, body and headers; NATS's default of 1 MiB
		// would refuse the largest.
		MaxPayload: MaxFrameMessage,
		Nkeys:      users,
	}
	if e.TLSCertFile != "" {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: e.TLSCertFile, KeyFile: e.TLSKeyFile})
		if err != nil {
			return nil, fmt.Errorf("natsout: nats.embedded.tls: %w", err)
		}
		so.TLSConfig, so.TLS, so.TLSTimeout = tc, true, 2
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsout: embedded NATS: %w", err)
	}
	s.SetLogger(serverLog{log.With().Str("component", "nats-server").Logger()}, false, false)
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("natsout: embedded NATS did not start listening on %s (nats.embedded.listen)", e.Listen)
	}
	return s, nil
}

// serverLog routes the embedded server's warnings and errors into zerolog;
// its notices (start-up banners, every client connecting) stay out.
type serverLog struct{ log zerolog.Logger }

func (l serverLog) Noticef(string, ...any) {}
func (l serverLog) Debugf(string, ...any)  {}
func (l serverLog) Tracef(string, ...any)  {}
func (l serverLog) Warnf(format string, v ...any) {
	if strings.HasPrefix(format, "Maximum payloads over") {
		return // ours on purpose (MaxFrameMessage): said at every start, it would teach operators to ignore warnings
	}
	l.log.Warn().Msgf(format, v...)
}
func (l serverLog) Errorf(format string, v ...any) { l.log.Error().Msgf(format, v...) }
func (l serverLog) Fatalf(format string, v ...any) { l.log.Error().Msgf(format, v...) }
