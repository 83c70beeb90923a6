package main

import (
	"flag"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsauth"
)

// clientFlags are how tail and replay reach a NATS server as a client: the
// config's nats section (for the embedded server: its listen address and a
// role's seed from its credentials directory), or a URL and credentials.
type clientFlags struct {
	config, url, nkey, creds, ca *string
}

func addClientFlags(fs *flag.FlagSet, role string) clientFlags {
	return clientFlags{
		config: fs.String("config", "", "take the NATS settings from this configuration `file`: for the embedded server, its\nnats.embedded.listen address and the "+role+" seed in its nats.embedded.credentials_dir"),
		url:    fs.String("nats", "nats://127.0.0.1:4222", "NATS `URL` when no --config is given (the embedded server's default listen address)"),
		nkey:   fs.String("nkey", "", "nkey seed `file` to authenticate with (default, when no --config is given: "+natsauth.SeedFile(defaultCredentialsDir(), role)+" if it exists)"),
		creds:  fs.String("creds", "", "NATS credentials (JWT) `file` of an outside server"),
		ca:     fs.String("tls-ca", "", "CA certificate `file` for a TLS server (for the embedded server's own certificate, its cert_file)"),
	}
}

// defaultCredentialsDir is where an embedded server with the default
// store_dir keeps its seeds, relative to the working directory.
func defaultCredentialsDir() string { return config.DefaultNATS().Embedded.CredentialsDir }

// natsSection returns the nats section a client uses: the config file's,
// turned from "start an embedded server" into "connect to the running
// one"; or one built from the flags. Nothing a client does opens a store.
func (f clientFlags) natsSection(role string, stderr io.Writer) (config.NATS, *config.Config, int) {
	n := config.DefaultNATS()
	var cfg *config.Config
	if *f.config != "" {
		c, rc := loadConfig(*f.config, stderr)
		if c == nil {
			return n, nil, rc
		}
		cfg, n = c, c.NATS
		if n.URL == "" {
			e := n.Embedded
			n.URL = "nats://" + e.Listen
			if e.TLS.CertFile != "" {
				n.URL = "tls://" + e.Listen
				n.TLS.CAFile = e.TLS.CertFile
			}
			n.NKeyFile = natsauth.SeedFile(e.CredentialsDir, role)
		}
	} else {
		n.URL = *f.url
		if seed := natsauth.SeedFile(defaultCredentialsDir(), role); fileExists(seed) {
			n.NKeyFile = seed // --nkey, below, wins
		}
	}
	if *f.nkey != "" {
		n.NKeyFile = *f.nkey
	}
	if *f.creds != "" {
		n.CredsFile = *f.creds
	}
	if *f.ca != "" {
		n.TLS.CAFile = *f.ca
	}
	return n, cfg, exitOK
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// redactURLs returns a comma-separated URL list with any user:password
// taken out, for printing.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
