package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/config"
)

// An archive-only file: no subscriptions, the archive app as zoom.oauth_app,
// every archive key defaulted.
func TestArchiveOnlyDefaults(t *testing.T) {
	c, err := config.Parse([]byte(`
zoom:
  oauth_app: {client_id: c, client_secret: s, refresh_token_file: /var/lib/zccingest/archive-refresh-token}
archive:
  account_id: Acct-1
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Archive
	for _, tc := range []struct{ got, want any }{
		{a.AccountID, "Acct-1"},
		{a.APIURL, config.DefaultArchiveAPIURL},
		{a.PollInterval.D(), 5 * time.Minute},
		{a.Backfill.D(), 7 * 24 * time.Hour},
		{a.Overlap.D(), time.Hour},
		{a.PageSize, 300},
		{a.Bucket, "ZOOM_ARCHIVE"},
		{a.StateBucket, "ZOOM_ARCHIVE_STATE"},
		{a.Fingerprint(), true},
	} {
		if tc.got != tc.want {
			t.Errorf("archive default %v, want %v", tc.got, tc.want)
		}
	}
}

// With a Server-to-Server app the account id comes from the zoom section;
// an explicit overlap is kept, not defaulted.
func TestArchiveAccountFromZoom(t *testing.T) {
	c, err := config.Parse([]byte(`
zoom: {account_id: acct-s2s, client_id: c, client_secret: s}
subscriptions: [{name: a, id: x}]
archive: {overlap: 1m, verify_fingerprint: false, api_url: "http://127.0.0.1:9000/v2"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Archive.AccountID != "acct-s2s" || c.Archive.Overlap.D() != time.Minute || c.Archive.Fingerprint() {
		t.Errorf("archive = %+v", c.Archive)
	}
}

func TestNoArchiveSection(t *testing.T) {
	c, err := config.Parse([]byte(`
zoom: {account_id: a, client_id: c, client_secret: s}
subscriptions: [{name: a, id: x}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Archive != nil {
		t.Errorf("archive = %+v without an archive section", c.Archive)
	}
}

// The archive-only example of README.md loads.
func TestReadmeArchiveExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "An archive-only file (`TestReadmeArchiveExample` loads it):\n\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no archive-only example")
	}
	t.Setenv("ZOOM_ARCHIVE_CLIENT_ID", "c")
	t.Setenv("ZOOM_ARCHIVE_CLIENT_SECRET", "s")
	t.Setenv("ZOOM_ACCOUNT_ID", "acct")
	c, err := config.Parse([]byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if c.Archive == nil || c.Archive.AccountID != "acct" || len(c.Subscriptions) != 0 {
		t.Errorf("archive = %+v", c.Archive)
	}
}
