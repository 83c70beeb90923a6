package archive

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Scopes lists the scopes any one of which lets an app list and download
// archived files: the classic name, and the granular names of the
// account-level and master-account endpoints.
var Scopes = []string{
	"recording:read:admin",
	"archiving:read:list_archived_files:admin",
	"recording:master",
	"archiving:read:list_archived_files:master",
}

// MissingScope reports whether none of the granted scopes allows the poller.
func MissingScope(granted []string) bool {
	for _, g := range granted {
		for _, s := range Scopes {
			if strings.TrimSpace(g) == s {
				return false
			}
		}
	}
	return true
}

// Probe lists the last hour of archived files once, page size 1: for a
// check that the app may read them, without NATS.
func Probe(ctx context.Context, tokens TokenSource, client *http.Client, apiURL string) error {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: refuseForeignRedirect}
	}
	m, _ := newMetrics(nil)
	p := &Poller{opts: Options{Tokens: tokens, HTTPClient: client, MaxAttempts: 2, MaxRetryAfter: 5 * time.Second, RetryWait: time.Second, Now: time.Now}, m: m}
	now := time.Now().UTC().Truncate(time.Second)
	q := url.Values{"from": {zoomTime(now.Add(-time.Hour))}, "to": {zoomTime(now)}, "page_size": {"1"}}
	resp, err := p.get(ctx, strings.TrimRight(apiURL, "/")+"/archive_files?"+q.Encode(), "listing archived files", true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxListBody+1))
	if err != nil {
		return fmt.Errorf("reading the archive_files list: %s", p.redact(err))
	}
	_, err = DecodeList(data)
	return err
}
