// Package archive polls Zoom's archived meeting and webinar files
// (GET /archive_files), streams each new file into a NATS Object Store
// bucket, checked against the size and SHA-256 Zoom gives, and publishes a
// notice for it on <prefix>.<account>.archive.file. The poll position and the
// set of stored files live in a NATS KV bucket, so a restart, even one in the
// middle of a download, neither loses a file nor fetches a stored one again.
package archive

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/events"

	"github.com/zccingest/zccingest/session"
)

// Defaults.
const (
	DefaultAPIURL        = "https://api.zoom.us/v2"
	DefaultPollInterval  = 5 * time.Minute
	DefaultBackfill      = 7 * 24 * time.Hour
	DefaultOverlap       = time.Hour
	DefaultPageSize      = 300
	DefaultBucket        = "ZOOM_ARCHIVE"
	DefaultStateBucket   = "ZOOM_ARCHIVE_STATE"
	DefaultMaxAttempts   = 6
	DefaultMaxRetryAfter = 15 * time.Minute
	// MaxWindow is the longest from-to range /archive_files answers.
	MaxWindow = 7 * 24 * time.Hour
	// maxPageRestarts bounds how often one window is listed again from its
	// first page after Zoom said its next_page_token had expired.
	maxPageRestarts = 3
)

// TokenSource hands out access tokens; *session.Source is one.
type TokenSource interface {
	Token(ctx context.Context) (*session.Token, error)
	Invalidate(accessToken string)
	Redact(s string) string
}

// Options configure a Poller.
type Options struct {
	Tokens     TokenSource  // required: an app with recording:read:admin
	HTTPClient *http.Client // default: no overall timeout (files are large), redirects only to https
	APIURL     string       // default DefaultAPIURL
	JetStream  jetstream.JetStream
	// SubjectPrefix and AccountID make the notice subject
	// <prefix>.<account>.archive.file.
	SubjectPrefix string
	AccountID     string
	PollInterval  time.Duration // default 5m
	// Backfill is how far back the first poll (with no stored position)
	// starts; default 7 days.
	Backfill time.Duration
	// Overlap is how far behind the end of the last window the next poll
	// starts again, for files Zoom lists late; default 1h.
	Overlap  time.Duration
	PageSize int // default 300
	// Bucket is the Object Store bucket, StateBucket the KV bucket.
	Bucket, StateBucket string
	// VerifyFingerprint checks a file's SHA-256 against Zoom's
	// encryption_fingerprint when that is a SHA-256 hex digest.
	VerifyFingerprint bool
	// MaxAttempts bounds the tries of one request (429s, broken
	// downloads) within a poll; default 6.
	MaxAttempts int
	// MaxRetryAfter caps one wait on a 429; default 15m.
	MaxRetryAfter time.Duration
	// ReadTimeout ends a download that has received nothing for this
	// long (a stalled connection), and bounds the wait for response
	// headers; default 2m.
	ReadTimeout time.Duration
	// RetryWait is the first wait after a broken download or a 429
	// without Retry-After; it doubles per attempt. Default 1s.
	RetryWait time.Duration
	// Instance names this poller in the poll lease; default host, pid
	// and a random suffix. LeaseTTL is how long a lease outlives a holder
	// that stopped renewing it; default 1m.
	Instance   string
	LeaseTTL   time.Duration
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
	Now        func() time.Time      // default time.Now
}

// A Poller fetches archived files into NATS. Several pollers of one account
// (a 1+1 pair) take turns: a lease in the state bucket lets one poll at a
// time.
type Poller struct {
	opts    Options
	obs     jetstream.ObjectStore
	kv      jetstream.KeyValue
	subject string
	acct    string // AccountID as a KV key and subject token
	apiHost string
	m       *metrics
	trigger chan string
}

// New opens (creating if missing) the buckets and returns a Poller.
func New(ctx context.Context, opts Options) (*Poller, error) {
	if opts.Tokens == nil || opts.JetStream == nil {
		return nil, errors.New("archive: Options.Tokens and Options.JetStream are required")
	}
	if opts.AccountID == "" {
		return nil, errors.New("archive: Options.AccountID is required (it names the subject and the keys)")
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 2 * time.Minute
	}
	if opts.HTTPClient == nil {
		// No overall timeout: a large file takes as long as it takes;
		// ReadTimeout catches a stall.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = opts.ReadTimeout
		opts.HTTPClient = &http.Client{Transport: tr, CheckRedirect: refuseForeignRedirect}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.PollInterval, DefaultPollInterval)
	def(&opts.Backfill, DefaultBackfill)
	def(&opts.Overlap, DefaultOverlap)
	def(&opts.MaxRetryAfter, DefaultMaxRetryAfter)
	def(&opts.RetryWait, time.Second)
	def(&opts.LeaseTTL, time.Minute)
	if opts.Instance == "" {
		opts.Instance = defaultInstance()
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.StateBucket == "" {
		opts.StateBucket = DefaultStateBucket
	}
	if opts.SubjectPrefix == "" {
		opts.SubjectPrefix = "zoom"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u, err := url.Parse(opts.APIURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("archive: API URL %q is not an absolute URL", opts.APIURL)
	}
	p := &Poller{
		opts:    opts,
		acct:    subjectToken(opts.AccountID),
		apiHost: u.Hostname(),
		trigger: make(chan string, 1),
	}
	p.subject = opts.SubjectPrefix + "." + p.acct + ".archive.file"
	if p.m, err = newMetrics(opts.Registerer); err != nil {
		return nil, err
	}
	js := opts.JetStream
	p.obs, err = js.ObjectStore(ctx, opts.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		p.obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: opts.Bucket, Description: "Zoom archived meeting and webinar files", Storage: jetstream.FileStorage,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("archive: opening the Object Store bucket %s: %w", opts.Bucket, err)
	}
	p.kv, err = js.KeyValue(ctx, opts.StateBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		p.kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: opts.StateBucket, Description: "zccingest archive poller: position and stored files", Storage: jetstream.FileStorage,
			History: 1,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("archive: opening the KV bucket %s: %w", opts.StateBucket, err)
	}
	if _, err := js.StreamNameBySubject(ctx, p.subject); err != nil {
		return nil, fmt.Errorf("archive: no JetStream stream takes %s (a notice must be kept, and de-duplicated by Nats-Msg-Id): create one, or run 'zccingest run' once with nats.stream set: %w", p.subject, err)
	}
	return p, nil
}

// Subject is where notices go.
func (p *Poller) Subject() string { return p.subject }

// Trigger asks for a poll now, for example when the
// recording.archive_files_completed event of meetingUUID arrives. It never
// blocks: triggers that come while one is pending are folded into it.
func (p *Poller) Trigger(meetingUUID string) {
	select {
	case p.trigger <- meetingUUID:
	default:
	}
}

// Run polls every PollInterval, and at once on Trigger, until ctx ends. A
// failed poll is logged and tried again at the next tick: nothing it did
// not store is marked done.
func (p *Poller) Run(ctx context.Context) error {
	if n, err := p.CleanOrphans(ctx, DefaultOrphanAge); err != nil {
		p.opts.Logger.Warn().Err(err).Msg("orphaned chunks of unfinished downloads not cleaned; trying at the next start")
	} else if n > 0 {
		p.opts.Logger.Info().Int("objects", n).Msg("removed the chunks of downloads a stopped process left unfinished")
	}
	for {
		if err := p.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.opts.Logger.Error().Err(err).Dur("retry_in", p.opts.PollInterval).Msg("archive poll failed")
		}
		t := time.NewTimer(p.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		case uuid := <-p.trigger:
			t.Stop()
			p.opts.Logger.Info().Str("meeting_uuid", clip(uuid)).Msg("archive files completed: polling now")
		}
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// subjectToken makes s one NATS subject token (and a KV key token): a
// character outside [A-Za-z0-9_-] becomes '_', and length is bounded.
func subjectToken(s string) string { return events.KeyToken(s, 128) }
