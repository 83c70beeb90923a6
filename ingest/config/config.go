// Package config loads and validates the zccingest configuration file:
// typed structs, defaults and validation at load, unknown keys rejected,
// ${VAR} taken from the environment, and every error naming its key.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultTokenURL          = "https://zoom.us/oauth/token"
	DefaultWebSocketURL      = "wss://ws.zoom.us/ws"
	DefaultAPIURL            = "https://api.zoom.us/v2"
	DefaultHeartbeatInterval = 25 * time.Second
	MaxHeartbeatInterval     = 30 * time.Second
	DefaultHeartbeatTimeout  = 10 * time.Second
	MaxSubscriptions         = 10
	DefaultSubjectPrefix     = "zoom"
	DefaultStream            = "ZOOM_EVENTS"
	DefaultDuplicateWindow   = 2 * time.Minute
	DefaultEmbeddedListen    = "127.0.0.1:4222"
	DefaultStoreDir          = "./data/nats"
	DefaultBufferEvents      = 100_000
	// MaxBufferEvents is a sanity bound on nats.buffer_events (3e9 once
	// crashed the process); nats.buffer_bytes bounds the buffer's memory.
	MaxBufferEvents         = 10_000_000
	DefaultBufferBytes      = 512 << 20
	DefaultStreamMaxAge     = 7 * 24 * time.Hour
	DefaultCaptureFileSize  = 64 << 20
	DefaultCaptureMaxAge    = 7 * 24 * time.Hour
	DefaultCaptureTotalSize = 10 << 30
	DefaultHTTPListen       = "127.0.0.1:9464"
	DefaultWALFsync         = "interval"
	DefaultWALFsyncInterval = 200 * time.Millisecond
	DefaultWALMaxBytes      = 1 << 30
)

// Config is the whole file.
type Config struct {
	Zoom          Zoom           `yaml:"zoom"`
	Subscriptions []Subscription `yaml:"subscriptions"`
	NATS          NATS           `yaml:"nats"`
	Capture       Capture        `yaml:"capture"`
	WAL           WAL            `yaml:"wal"`
	HTTP          HTTP           `yaml:"http"`
	Log           Log            `yaml:"log"`
	Archive       *Archive       `yaml:"archive"` // nil: no archive poller
	Coverage      Coverage       `yaml:"coverage"`
	Reconcile     Reconcile      `yaml:"reconcile"`
	State         State          `yaml:"state"`
}

// Zoom holds the app's credentials and Zoom's endpoints. A deployment uses a
// Server-to-Server OAuth app (account_id, client_id, client_secret) or an
// OAuth app (oauth_app), never both.
type Zoom struct {
	AccountID    string    `yaml:"account_id"`
	ClientID     string    `yaml:"client_id"`
	ClientSecret Secret    `yaml:"client_secret"`
	OAuthApp     *OAuthApp `yaml:"oauth_app"`
	TokenURL     string    `yaml:"token_url"`
	WebSocketURL string    `yaml:"websocket_url"`
	// APIURL is the REST API the live-state refresh and the gap
	// reconciliation ask.
	APIURL            string   `yaml:"api_url"`
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	// HeartbeatTimeout: a heartbeat with no reply and no other frame
	// within it means a dead (half-open) socket.
	HeartbeatTimeout Duration `yaml:"heartbeat_timeout"`
}

// OAuthApp holds the credentials of an OAuth app; its rotating refresh token
// lives in RefreshTokenFile.
type OAuthApp struct {
	ClientID         string `yaml:"client_id"`
	ClientSecret     Secret `yaml:"client_secret"`
	RefreshTokenFile string `yaml:"refresh_token_file"`
}

// Subscription is one WebSocket event subscription: by id, or by the
// "WebSocket EndPoint URL" the Marketplace shows.
type Subscription struct {
	Name string `yaml:"name"`
	ID   string `yaml:"id"`
	URL  string `yaml:"url"`
}

// NATS says where events go.
type NATS struct {
	URL           string `yaml:"url"` // empty: an embedded server
	SubjectPrefix string `yaml:"subject_prefix"`
	// Stream is the JetStream stream; nil (key absent) means the default,
	// "" means core NATS only.
	Stream          *string  `yaml:"stream"`
	DuplicateWindow Duration `yaml:"duplicate_window"`
	Embedded        Embedded `yaml:"embedded"`
	// BufferEvents bounds the events held while NATS is unreachable.
	BufferEvents int `yaml:"buffer_events"`
	// BufferBytes bounds their bytes.
	BufferBytes Size `yaml:"buffer_bytes"`
	// Limits of a stream the ingester creates; an existing stream keeps
	// its own.
	StreamMaxAge   Duration `yaml:"stream_max_age"`
	StreamMaxBytes Size     `yaml:"stream_max_bytes"` // 0: no size limit
	StreamReplicas int      `yaml:"stream_replicas"`

	CredsFile string `yaml:"creds_file"`
	NKeyFile  string `yaml:"nkey_file"`
	User      string `yaml:"user"`
	Password  Secret `yaml:"password"`
	Token     Secret `yaml:"token"`
	TLS       TLS    `yaml:"tls"`
}

// StreamName returns the JetStream stream, "" for core NATS.
func (n NATS) StreamName() string {
	if n.Stream == nil {
		return DefaultStream
	}
	return *n.Stream
}

// Embedded configures the server started when nats.url is empty.
type Embedded struct {
	Listen   string `yaml:"listen"`
	StoreDir string `yaml:"store_dir"`
	// CredentialsDir holds the seeds of the server's users (package
	// natsauth); default: credentials beside store_dir.
	CredentialsDir string `yaml:"credentials_dir"`
	// TLS for clients on other hosts; required when listen is not a
	// loopback address, unless AllowPlaintext.
	TLS EmbeddedTLS `yaml:"tls"`
	// AllowPlaintext lets a non-loopback listen go without TLS: events and
	// the nkey handshake's identity cross the network in clear.
	AllowPlaintext bool `yaml:"allow_plaintext"`
}

// EmbeddedTLS is the embedded server's certificate.
type EmbeddedTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// TLS configures the connection to an outside NATS server.
type TLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Capture journals raw frames for replay.
type Capture struct {
	Dir         string `yaml:"dir"` // empty: off
	MaxFileSize Size   `yaml:"max_file_size"`
	// Retention: the oldest files go beyond either bound; 0 keeps them.
	MaxAge       Duration `yaml:"max_age"`
	MaxTotalSize Size     `yaml:"max_total_size"`
}

// WAL is the write-ahead log of intake: every frame to publish is on disk
// before it is buffered, until NATS acknowledges it.
type WAL struct {
	Enabled bool   `yaml:"enabled"` // default true
	Dir     string `yaml:"dir"`
	// Fsync: "interval" (every FsyncInterval, in the background) or
	// "always" (every frame, before it is buffered).
	Fsync         string   `yaml:"fsync"`
	FsyncInterval Duration `yaml:"fsync_interval"`
	MaxBytes      Size     `yaml:"max_bytes"`
}

// HTTP serves /metrics, /healthz and /readyz.
type HTTP struct {
	Listen string `yaml:"listen"` // "off" disables
}

// Log configures zerolog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json, console
}

// An Error is a configuration error; Key names the offending key.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "config: " + e.Msg
	}
	return "config: " + e.Key + ": " + e.Msg
}

func errorf(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Load reads, expands, defaults and validates the file.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse is Load on the file's bytes.
func Parse(data []byte) (*Config, error) {
	var c Config
	d, err := parseTree(data, &c)
	if err != nil {
		return nil, err
	}
	c.setDefaults(d.present)
	if err := c.validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return nil, d.redact(ce)
		}
		return nil, err
	}
	return &c, nil
}

// DefaultNATS returns the nats section as an empty one loads: for the
// commands that publish or subscribe without a full configuration.
func DefaultNATS() NATS {
	var c Config
	c.setDefaults(nil)
	return c.NATS
}

// setDefaults fills what the file left out. A number or duration the file
// set, even to zero, is kept for validate to judge: "0s" is no way to ask
// for the default.
func (c *Config) setDefaults(present map[string]bool) {
	unset := func(key string) bool { return !present[key] }
	z := &c.Zoom
	setString(&z.TokenURL, DefaultTokenURL)
	setString(&z.WebSocketURL, DefaultWebSocketURL)
	setString(&z.APIURL, DefaultAPIURL)
	if unset("zoom.heartbeat_interval") {
		z.HeartbeatInterval = Duration(DefaultHeartbeatInterval)
	}
	if z.HeartbeatTimeout == 0 {
		z.HeartbeatTimeout = Duration(DefaultHeartbeatTimeout)
	}
	n := &c.NATS
	setString(&n.SubjectPrefix, DefaultSubjectPrefix)
	if unset("nats.duplicate_window") {
		n.DuplicateWindow = Duration(DefaultDuplicateWindow)
	}
	setString(&n.Embedded.Listen, DefaultEmbeddedListen)
	setString(&n.Embedded.StoreDir, DefaultStoreDir)
	setString(&n.Embedded.CredentialsDir, filepath.Join(filepath.Dir(filepath.Clean(n.Embedded.StoreDir)), "credentials"))
	if unset("nats.buffer_events") {
		n.BufferEvents = DefaultBufferEvents
	}
	if unset("nats.buffer_bytes") {
		n.BufferBytes = DefaultBufferBytes
	}
	if unset("nats.stream_max_age") {
		n.StreamMaxAge = Duration(DefaultStreamMaxAge)
	}
	if unset("nats.stream_replicas") {
		n.StreamReplicas = 1
	}
	if unset("capture.max_file_size") {
		c.Capture.MaxFileSize = DefaultCaptureFileSize
	}
	if unset("capture.max_age") {
		c.Capture.MaxAge = Duration(DefaultCaptureMaxAge)
	}
	if unset("capture.max_total_size") {
		c.Capture.MaxTotalSize = DefaultCaptureTotalSize
	}
	if unset("wal.enabled") {
		c.WAL.Enabled = true
	}
	// Beside the embedded server's store by default: the state directory.
	setString(&c.WAL.Dir, filepath.Join(filepath.Dir(n.Embedded.StoreDir), "wal"))
	setString(&c.WAL.Fsync, DefaultWALFsync)
	if unset("wal.fsync_interval") {
		c.WAL.FsyncInterval = Duration(DefaultWALFsyncInterval)
	}
	if unset("wal.max_bytes") {
		c.WAL.MaxBytes = DefaultWALMaxBytes
	}
	setString(&c.HTTP.Listen, DefaultHTTPListen)
	setString(&c.Log.Level, "info")
	setString(&c.Log.Format, "json")
	c.setArchiveDefaults(unset)
	c.setCoverageDefaults(unset)
	c.setReconcileDefaults(unset)
	c.setStateDefaults(unset)
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	tokenRE  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`) // a subject token, a stream name
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

func (c *Config) validate() error {
	z := c.Zoom
	s2s := z.AccountID != "" || z.ClientID != "" || z.ClientSecret != ""
	switch {
	case s2s && z.OAuthApp != nil:
		return errorf("zoom.oauth_app", "set together with zoom.account_id/client_id/client_secret: use a Server-to-Server OAuth app or an OAuth app, never both")
	case z.OAuthApp != nil:
		a := z.OAuthApp
		for key, v := range map[string]string{"client_id": a.ClientID, "client_secret": string(a.ClientSecret), "refresh_token_file": a.RefreshTokenFile} {
			if v == "" {
				return errorf("zoom.oauth_app."+key, "required")
			}
		}
	default:
		for _, kv := range [][2]string{{"account_id", z.AccountID}, {"client_id", z.ClientID}, {"client_secret", string(z.ClientSecret)}} {
			if kv[1] == "" {
				return errorf("zoom."+kv[0], "required (or configure zoom.oauth_app instead)")
			}
		}
	}
	if err := checkURL("zoom.token_url", z.TokenURL, "https", "http"); err != nil {
		return err
	}
	if err := checkURL("zoom.websocket_url", z.WebSocketURL, "wss", "ws"); err != nil {
		return err
	}
	if err := checkURL("zoom.api_url", z.APIURL, "https", "http"); err != nil {
		return err
	}
	if hb := z.HeartbeatInterval.D(); hb < time.Second || hb > MaxHeartbeatInterval {
		return errorf("zoom.heartbeat_interval", "%s is out of range: 1s to %s (Zoom closes a connection that sends none for longer)", hb, MaxHeartbeatInterval)
	}
	if ht := z.HeartbeatTimeout.D(); ht < time.Second || ht > time.Minute {
		return errorf("zoom.heartbeat_timeout", "%s is out of range: 1s to 1m (a half-open socket loses events until it passes)", ht)
	}

	if len(c.Subscriptions) == 0 && c.Archive == nil { // an archive-only file needs none
		return errorf("subscriptions", "at least one subscription is required")
	}
	if len(c.Subscriptions) > MaxSubscriptions {
		return errorf("subscriptions", "%d subscriptions; one Zoom app holds at most %d", len(c.Subscriptions), MaxSubscriptions)
	}
	names, ids := map[string]bool{}, map[string]string{}
	for i := range c.Subscriptions {
		s := &c.Subscriptions[i]
		key := fmt.Sprintf("subscriptions[%d]", i)
		if !nameRE.MatchString(s.Name) {
			return errorf(key+".name", "%q must match [A-Za-z0-9_-]+", s.Name)
		}
		if names[s.Name] {
			return errorf(key+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		if err := s.resolve(key, z.WebSocketURL); err != nil {
			return err
		}
		if other, dup := ids[s.ID]; dup {
			return errorf(key+".id", "%q is also subscription %q's", s.ID, other)
		}
		ids[s.ID] = s.Name
	}

	n := c.NATS
	if n.URL != "" {
		for _, raw := range strings.Split(n.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || u.Host == "" {
				return errorf("nats.url", "%q is not a URL such as nats://host:4222", raw)
			}
			switch u.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				return errorf("nats.url", "scheme %q is not one of nats, tls, ws, wss", u.Scheme)
			}
		}
	}
	if !prefixRE.MatchString(n.SubjectPrefix) {
		return errorf("nats.subject_prefix", "%q must be subject tokens of [A-Za-z0-9_-] separated by dots", n.SubjectPrefix)
	}
	if st := n.StreamName(); st != "" && !tokenRE.MatchString(st) {
		return errorf("nats.stream", "%q must match [A-Za-z0-9_-]+", st)
	}
	if n.DuplicateWindow.D() < time.Second {
		return errorf("nats.duplicate_window", "%s is too short; at least 1s", n.DuplicateWindow.D())
	}
	if n.BufferEvents < 1 || n.BufferEvents > MaxBufferEvents {
		return errorf("nats.buffer_events", "%d is out of range: 1 to %d", n.BufferEvents, MaxBufferEvents)
	}
	if n.BufferBytes < 1<<20 {
		return errorf("nats.buffer_bytes", "%d bytes is too small; at least 1MiB", n.BufferBytes)
	}
	if n.StreamMaxAge.D() < time.Minute {
		return errorf("nats.stream_max_age", "%s is too short; at least 1m (and longer than the duplicate window)", n.StreamMaxAge.D())
	}
	if r := n.StreamReplicas; r < 1 || r > 5 {
		return errorf("nats.stream_replicas", "%d; must be 1 to 5", r)
	}
	if n.URL == "" {
		if err := checkListen("nats.embedded.listen", n.Embedded.Listen, 1); err != nil {
			return err
		}
		e := n.Embedded
		if (e.TLS.CertFile == "") != (e.TLS.KeyFile == "") {
			return errorf("nats.embedded.tls", "cert_file and key_file go together")
		}
		if host, _, _ := net.SplitHostPort(e.Listen); !isLoopback(host) && e.TLS.CertFile == "" && !e.AllowPlaintext {
			return errorf("nats.embedded.listen", "%s is reachable from other hosts: set nats.embedded.tls (cert_file, key_file), or allow_plaintext: true to send events in clear", e.Listen)
		}
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		return errorf("nats.tls", "cert_file and key_file go together")
	}
	if c.Capture.MaxFileSize < 1<<10 {
		return errorf("capture.max_file_size", "%d bytes is too small; at least 1KiB", c.Capture.MaxFileSize)
	}
	if t := c.Capture.MaxTotalSize; t != 0 && t < c.Capture.MaxFileSize {
		return errorf("capture.max_total_size", "%d bytes is less than capture.max_file_size (%d): the current file alone would pass it; 0 keeps everything", t, c.Capture.MaxFileSize)
	}
	if err := c.WAL.validate(c); err != nil {
		return err
	}
	if c.HTTP.Listen != "off" {
		if err := checkListen("http.listen", c.HTTP.Listen, 0); err != nil {
			return err
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return errorf("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return errorf("log.format", "%q is not one of json, console", c.Log.Format)
	}
	if err := c.validateCoverage(); err != nil {
		return err
	}
	if err := c.validateReconcile(); err != nil {
		return err
	}
	if err := c.validateState(); err != nil {
		return err
	}
	return c.validateArchive()
}

// resolve takes the subscription id from url when only url is given, and
// checks that the two agree when both are.
func (s *Subscription) resolve(key, websocketURL string) error {
	if s.URL == "" {
		if s.ID == "" {
			return errorf(key+".id", "required (or url)")
		}
		if !tokenRE.MatchString(s.ID) {
			return errorf(key+".id", "%q is not a subscription id", s.ID)
		}
		return nil
	}
	if err := checkURL(key+".url", s.URL, "wss", "ws"); err != nil {
		return err
	}
	u, _ := url.Parse(s.URL)
	// The ingester dials zoom.websocket_url: a pasted URL pointing
	// elsewhere would be silently ignored.
	if ws, err := url.Parse(websocketURL); err == nil && (u.Scheme != ws.Scheme || u.Host != ws.Host || u.Path != ws.Path) {
		return errorf(key+".url", "%s://%s%s differs from zoom.websocket_url %s://%s%s; set zoom.websocket_url to the pasted URL's scheme, host and path (without the query)",
			u.Scheme, u.Host, u.Path, ws.Scheme, ws.Host, ws.Path)
	}
	q := u.Query()
	if q.Has("access_token") {
		return errorf(key+".url", "holds an access_token: paste the URL without it (the service adds a fresh token)")
	}
	id := q.Get("subscriptionId")
	if id == "" || !tokenRE.MatchString(id) {
		return errorf(key+".url", "has no subscriptionId query parameter")
	}
	if s.ID != "" && s.ID != id {
		return errorf(key+".id", "%q differs from the url's subscriptionId %q", s.ID, id)
	}
	s.ID = id
	return nil
}

// checkListen requires host:port with a port from minPort to 65535.
func checkListen(key, v string, minPort int) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return errorf(key, "%q is not host:port", v)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < minPort || p > 65535 {
		return errorf(key, "port %q is out of range: %d to 65535", port, minPort)
	}
	return nil
}

// checkURL requires the secure scheme, or the plain one on a loopback
// address only, so that no token or secret travels in the clear.
func checkURL(key, raw, secure, plain string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errorf(key, "%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case secure:
		return nil
	case plain:
		if !isLoopback(u.Hostname()) {
			return errorf(key, "plain %s:// is accepted only on a loopback address, not %q; use %s://", plain, u.Hostname(), secure)
		}
		return nil
	}
	return errorf(key, "scheme %q is not %s", u.Scheme, secure)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Warnings lists what the file allows but an operator should know: each
// names its key. run logs them at start, check prints them.
func (c *Config) Warnings() []string {
	var w []string
	n := c.NATS
	creds := n.User != "" || n.Password != "" || n.Token != ""
	tlsSet := n.TLS.CAFile != "" || n.TLS.CertFile != ""
	for _, raw := range strings.Split(n.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" {
			continue
		}
		withCreds := creds || u.User != nil
		if (u.Scheme == "nats" || u.Scheme == "ws") && withCreds && !tlsSet && !isLoopback(u.Hostname()) {
			w = append(w, fmt.Sprintf("nats.url: %s://%s with a password or token: the credentials cross the network in clear unless the server requires TLS; use tls:// (or nats.tls)", u.Scheme, u.Host))
		}
	}
	if n.URL == "" {
		if host, _, err := net.SplitHostPort(n.Embedded.Listen); err == nil && !isLoopback(host) && n.Embedded.TLS.CertFile == "" {
			w = append(w, fmt.Sprintf("nats.embedded.listen: %s is reachable from other hosts without TLS (allow_plaintext): events cross the network in clear", n.Embedded.Listen))
		}
	}
	return w
}

func (w WAL) validate(c *Config) error {
	switch w.Fsync {
	case "interval", "always":
	default:
		return errorf("wal.fsync", "%q is not one of interval, always", w.Fsync)
	}
	if d := w.FsyncInterval.D(); d < 10*time.Millisecond || d > 10*time.Second {
		return errorf("wal.fsync_interval", "%s is out of range: 10ms to 10s (a power loss can take one interval of events)", d)
	}
	if w.MaxBytes < 1<<20 {
		return errorf("wal.max_bytes", "%d bytes is too small; at least 1MiB", w.MaxBytes)
	}
	if !w.Enabled {
		return nil
	}
	for key, dir := range map[string]string{"capture.dir": c.Capture.Dir, "nats.embedded.store_dir": c.NATS.Embedded.StoreDir} {
		if dir != "" && filepath.Clean(dir) == filepath.Clean(w.Dir) {
			return errorf("wal.dir", "%q is also %s; the write-ahead log needs a directory of its own", w.Dir, key)
		}
	}
	return nil
}
