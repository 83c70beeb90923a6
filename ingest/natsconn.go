package ingest

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/zoomws"
)

// NATS is a connection, and the embedded server behind it if there is one.
type NATS struct {
	Conn   *nats.Conn
	Server *server.Server // nil for an outside server
}

// Close flushes and closes the connection and shuts the embedded server down.
func (n *NATS) Close() {
	if n.Conn != nil {
		if n.Conn.IsConnected() { // else the flush could only time out
			n.Conn.FlushTimeout(5 * time.Second)
		}
		n.Conn.Close()
	}
	if n.Server != nil {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	}
}

// ConnectNATS connects as the config says: with nats.url empty it starts an
// embedded server (JetStream on, file store in store_dir, listening on
// embedded.listen for the CTI adapters) and connects in-process.
func ConnectNATS(c config.NATS, name string, log zerolog.Logger) (*NATS, error) {
	log = log.With().Str("component", "nats").Logger()
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1), // a long-lived bridge never gives up
		nats.ReconnectWait(250 * time.Millisecond),
		// No client-side reconnect buffer: while disconnected a publish
		// fails at once and the ingester's own buffer holds the event.
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // our own Close at shutdown
			}
			log.Warn().AnErr("error", err).Str("state", "disconnected").Msg("NATS disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("state", "connected").Str("url", nc.ConnectedUrlRedacted()).Msg("NATS reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Error().Err(err).Msg("NATS error")
		}),
	}
	n := &NATS{}
	url := c.URL
	if url == "" {
		s, err := StartEmbedded(c.Embedded)
		if err != nil {
			return nil, err
		}
		n.Server = s
		opts = append(opts, nats.InProcessServer(s))
		log.Info().Str("listen", c.Embedded.Listen).Str("store_dir", c.Embedded.StoreDir).Msg("embedded NATS server started")
	} else {
		auth, err := authOptions(c)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("ingest: connecting to NATS: %w", err)
	}
	n.Conn = nc
	return n, nil
}

// authOptions are what an outside server may need: credentials and TLS.
func authOptions(c config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ingest: nats.nkey_file: %w", err)
		}
		opts = append(opts, o)
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, string(c.Password)))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(string(c.Token)))
	}
	if c.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	return opts, nil
}

// DialOnce connects to the outside server of c once, without the retries
// of ConnectNATS: for a check, where an unreachable server is the answer.
func DialOnce(c config.NATS, name string) (*nats.Conn, error) {
	opts, err := authOptions(c)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name(name), nats.Timeout(5*time.Second), nats.NoReconnect())
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("ingest: connecting to NATS: %w", err)
	}
	return nc, nil
}

// MaxFrameMessage is the largest message a frame of ReadLimit bytes can
// become, headers included: the embedded server's max_payload, and what an
// outside server needs so that no event loses its body.
const MaxFrameMessage = zoomws.ReadLimit + 64<<10

// StartEmbedded starts a NATS server with JetStream.
func StartEmbedded(e config.Embedded) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(e.Listen)
	if err != nil {
		return nil, fmt.Errorf("ingest: nats.embedded.listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("ingest: nats.embedded.listen: %w", err)
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "zccingest-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   e.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		// Every frame ReadLimit lets in must fit, body and headers; NATS's
		// default of 1 MiB would refuse the largest.
		MaxPayload: MaxFrameMessage,
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: embedded NATS: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("ingest: embedded NATS did not start listening on %s (nats.embedded.listen)", e.Listen)
	}
	return s, nil
}
