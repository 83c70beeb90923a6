package config

import "time"

// Archive defaults.
const (
	DefaultArchiveAPIURL       = "https://api.zoom.us/v2"
	DefaultArchivePollInterval = 5 * time.Minute
	DefaultArchiveBackfill     = 7 * 24 * time.Hour
	DefaultArchiveOverlap      = time.Hour
	DefaultArchivePageSize     = 300
	DefaultArchiveBucket       = "ZOOM_ARCHIVE"
	DefaultArchiveStateBucket  = "ZOOM_ARCHIVE_STATE"
	MaxArchivePageSize         = 300 // Zoom's maximum
	MaxArchiveBackfill         = 366 * 24 * time.Hour
)

// Archive configures 'zccingest archive', the poller of Zoom's archived
// meeting and webinar files. Present (even empty) means configured.
type Archive struct {
	// AccountID names the subject and keys; default zoom.account_id
	// (required with an OAuth app, whose token does not carry it).
	AccountID string `yaml:"account_id"`
	// OAuthApp is the archiving app when it is not the zoom section's
	// app: Zoom's archive files are read with an app of their own.
	OAuthApp          *OAuthApp `yaml:"oauth_app"`
	APIURL            string    `yaml:"api_url"`
	PollInterval      Duration  `yaml:"poll_interval"`
	Backfill          Duration  `yaml:"backfill"`
	Overlap           Duration  `yaml:"overlap"`
	PageSize          int       `yaml:"page_size"`
	Bucket            string    `yaml:"bucket"`
	StateBucket       string    `yaml:"state_bucket"`
	VerifyFingerprint *bool     `yaml:"verify_fingerprint"`
}

// Fingerprint reports whether files are checked against Zoom's SHA-256
// encryption_fingerprint (default true).
func (a *Archive) Fingerprint() bool { return a.VerifyFingerprint == nil || *a.VerifyFingerprint }

func (c *Config) setArchiveDefaults(unset func(string) bool) {
	a := c.Archive
	if a == nil {
		return
	}
	setString(&a.AccountID, c.Zoom.AccountID)
	setString(&a.APIURL, DefaultArchiveAPIURL)
	setString(&a.Bucket, DefaultArchiveBucket)
	setString(&a.StateBucket, DefaultArchiveStateBucket)
	if unset("archive.poll_interval") {
		a.PollInterval = Duration(DefaultArchivePollInterval)
	}
	if unset("archive.backfill") {
		a.Backfill = Duration(DefaultArchiveBackfill)
	}
	if unset("archive.overlap") {
		a.Overlap = Duration(DefaultArchiveOverlap)
	}
	if unset("archive.page_size") {
		a.PageSize = DefaultArchivePageSize
	}
}

func (c *Config) validateArchive() error {
	a := c.Archive
	if a == nil {
		return nil
	}
	if a.OAuthApp != nil {
		for key, v := range map[string]string{"client_id": a.OAuthApp.ClientID, "client_secret": string(a.OAuthApp.ClientSecret), "refresh_token_file": a.OAuthApp.RefreshTokenFile} {
			if v == "" {
				return errorf("archive.oauth_app."+key, "required")
			}
		}
	}
	if a.AccountID == "" {
		return errorf("archive.account_id", "required with an OAuth app: the account id names the archive subject and keys (Zoom Marketplace, the app's Account ID)")
	}
	if !tokenRE.MatchString(a.AccountID) {
		return errorf("archive.account_id", "%q must match [A-Za-z0-9_-]+", a.AccountID)
	}
	if err := checkURL("archive.api_url", a.APIURL, "https", "http"); err != nil {
		return err
	}
	if d := a.PollInterval.D(); d < 10*time.Second || d > 24*time.Hour {
		return errorf("archive.poll_interval", "%s is out of range: 10s to 24h (the list endpoint is rate-limited Medium)", d)
	}
	if d := a.Backfill.D(); d < time.Minute || d > MaxArchiveBackfill {
		return errorf("archive.backfill", "%s is out of range: 1m to %s", d, MaxArchiveBackfill)
	}
	if d := a.Overlap.D(); d < time.Minute || d >= a.Backfill.D() {
		return errorf("archive.overlap", "%s is out of range: 1m (clocks differ, and Zoom lists late) to less than archive.backfill (%s)", d, a.Backfill.D())
	}
	if a.PageSize < 1 || a.PageSize > MaxArchivePageSize {
		return errorf("archive.page_size", "%d is out of range: 1 to %d", a.PageSize, MaxArchivePageSize)
	}
	for key, v := range map[string]string{"archive.bucket": a.Bucket, "archive.state_bucket": a.StateBucket} {
		if !tokenRE.MatchString(v) {
			return errorf(key, "%q must match [A-Za-z0-9_-]+", v)
		}
	}
	if a.Bucket == a.StateBucket {
		return errorf("archive.state_bucket", "%q is also archive.bucket; the two need their own names", a.StateBucket)
	}
	return nil
}
