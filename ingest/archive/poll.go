package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// position is the KV record of where the next poll starts.
type position struct {
	From time.Time `json:"from"`
}

// doneRecord is the KV record of a stored file: its presence is what makes
// a file "done". It is written only after the object is complete and its
// notice acknowledged.
type doneRecord struct {
	Object    string    `json:"object"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	MeetingID string    `json:"meeting_uuid"`
	StoredAt  time.Time `json:"stored_at"`
}

// pending is a file of a window that is not done yet.
type pending struct {
	meeting *Meeting
	file    File
	key     string
	at      time.Time // the meeting's place in the window, for the position
	problem string    // why the entry cannot be fetched, "" if it can
}

func (p *Poller) positionKey() string { return p.acct + ".position" }

var keySafe = regexp.MustCompile(`^[A-Za-z0-9_=-]{1,128}$`)

// fileKey turns a Zoom file id into a KV key token and object name part:
// the id itself when it is plain, else a digest of it.
func fileKey(id string) string {
	if keySafe.MatchString(id) {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:16])
}

func (p *Poller) doneKey(key string) string { return p.acct + ".file." + key }

// objectName is <account>/<file key>.<extension>.
func (p *Poller) objectName(f *File, key string) string {
	name := p.acct + "/" + key
	if f.FileExtension != "" {
		name += "." + lower(f.FileExtension)
	}
	return name
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Poll lists every window from the stored position to now and stores each
// file not yet done. The position moves past a window only as far as its
// earliest file that is still pending (processing at Zoom, or failed here),
// so that no file is skipped.
func (p *Poller) Poll(ctx context.Context) (err error) {
	rev, ok, err := p.acquire(ctx)
	if err != nil {
		p.m.polls.WithLabelValues("error").Inc()
		return err
	}
	if !ok {
		p.m.polls.WithLabelValues("skipped").Inc()
		p.opts.Logger.Debug().Msg("another poller of this account holds the poll lease; leaving this poll to it")
		return nil
	}
	pctx, cancel := context.WithCancel(ctx)
	held := make(chan uint64, 1)
	go func() { held <- p.hold(pctx, rev, cancel) }()
	err = p.poll(pctx)
	cancel()
	p.release(<-held) // the revision of the last renewal
	return err
}

func (p *Poller) poll(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			p.m.polls.WithLabelValues("error").Inc()
		} else {
			p.m.polls.WithLabelValues("ok").Inc()
			p.m.lastSuccess.Set(float64(p.opts.Now().Unix()))
		}
	}()
	pos, rev, err := p.loadPosition(ctx)
	if err != nil {
		return err
	}
	// Zoom takes whole seconds: round up, or a file completed in this
	// second would fall after "to" now and before "from" next time.
	now := p.opts.Now().UTC().Truncate(time.Second).Add(time.Second)
	var hold time.Time // earliest pending file's time; zero when none
	held, failed := 0, 0
	for from := pos; from.Before(now); {
		to := from.Add(MaxWindow)
		if to.After(now) {
			to = now
		}
		files, err := p.listWindow(ctx, from, to)
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := p.store(ctx, f); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				held++
				ev := p.opts.Logger.Info()
				if !errors.Is(err, errProcessing) {
					failed++
					ev = p.opts.Logger.Error()
				}
				ev.Err(err).Str("file_id", clip(f.file.ID)).Str("meeting_uuid", f.meeting.UUID).
					Msg("archived file not stored yet; it is tried again at the next poll")
				if hold.IsZero() || f.at.Before(hold) {
					hold = f.at
				}
			}
		}
		next := to.Add(-p.opts.Overlap)
		if !hold.IsZero() && hold.Before(next) {
			next = hold
		}
		if next.After(pos) {
			if rev, err = p.savePosition(ctx, next, rev); err != nil {
				return err
			}
			pos = next
		}
		from = to
	}
	p.m.pending.Set(float64(held))
	p.m.position.Set(float64(pos.Unix()))
	// A file Zoom is still processing is no failure: it is simply not
	// there yet, and the position waits for it.
	if failed > 0 {
		return fmt.Errorf("archive: %d file(s) could not be stored; see the errors logged for each", failed)
	}
	return nil
}

func (p *Poller) loadPosition(ctx context.Context) (time.Time, uint64, error) {
	e, err := p.kv.Get(ctx, p.positionKey())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return p.opts.Now().UTC().Add(-p.opts.Backfill).Truncate(time.Second), 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("archive: reading the position from KV %s: %w", p.opts.StateBucket, err)
	}
	var pos position
	if err := json.Unmarshal(e.Value(), &pos); err != nil || pos.From.IsZero() {
		return time.Time{}, 0, fmt.Errorf("archive: the position in KV %s key %s is unreadable (%q); delete the key to start again from archive.backfill", p.opts.StateBucket, p.positionKey(), clip(string(e.Value())))
	}
	return pos.From, e.Revision(), nil
}

// savePosition writes the position only over the revision read, so that
// two pollers of one account never move it backwards over each other.
func (p *Poller) savePosition(ctx context.Context, t time.Time, rev uint64) (uint64, error) {
	data, _ := json.Marshal(position{From: t})
	var err error
	if rev == 0 {
		rev, err = p.kv.Create(ctx, p.positionKey(), data)
	} else {
		rev, err = p.kv.Update(ctx, p.positionKey(), data, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("archive: saving the position in KV %s: %w", p.opts.StateBucket, err)
	}
	return rev, nil
}

// listWindow lists every page of [from, to] and returns the files not done
// yet. Listing comes first, downloading after, so that a page token is used
// within seconds of its issue rather than after a page of large downloads.
func (p *Poller) listWindow(ctx context.Context, from, to time.Time) ([]pending, error) {
	for restart := 0; ; restart++ {
		files, err := p.listPages(ctx, from, to)
		var herr *httpError
		if errors.As(err, &herr) && herr.pageTokenExpired() && restart < maxPageRestarts {
			p.m.pageRestarts.Inc()
			p.opts.Logger.Warn().Time("from", from).Time("to", to).Msg("Zoom's next_page_token expired; listing the window again from its first page")
			continue
		}
		return files, err
	}
}

func (p *Poller) listPages(ctx context.Context, from, to time.Time) ([]pending, error) {
	var out []pending
	token := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		q := url.Values{}
		q.Set("from", zoomTime(from))
		q.Set("to", zoomTime(to))
		q.Set("query_date_type", "archive_complete_time")
		q.Set("page_size", strconv.Itoa(p.opts.PageSize))
		if token != "" {
			q.Set("next_page_token", token)
		}
		resp, err := p.get(ctx, p.opts.APIURL+"/archive_files?"+q.Encode(), "listing archived files", true)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, MaxListBody+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("archive: reading the archive_files list: %s", p.redact(err))
		}
		list, err := DecodeList(data)
		if err != nil {
			return nil, err
		}
		for i := range list.Meetings {
			m := &list.Meetings[i]
			at := meetingTime(m, from)
			for _, f := range m.Files {
				key := fileKey(f.ID)
				if why := f.Problem(); why != "" {
					// Held, not dropped: the position stays before it
					// and the error names it at every poll.
					p.m.skipped.WithLabelValues("bad_entry").Inc()
					out = append(out, pending{meeting: m, file: f, key: key, at: at, problem: why})
					continue
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				if !f.Completed() {
					if f.Status == "failed" {
						p.m.skipped.WithLabelValues("zoom_failed").Inc()
						p.opts.Logger.Error().Str("file_id", f.ID).Str("meeting_uuid", m.UUID).Msg("Zoom reports this archived file failed processing; it cannot be fetched")
						continue
					}
					// Still processing: hold the position before it.
					out = append(out, pending{meeting: m, file: f, key: key, at: at})
					continue
				}
				done, err := p.isDone(ctx, key)
				if err != nil {
					return nil, err
				}
				if done {
					continue
				}
				out = append(out, pending{meeting: m, file: f, key: key, at: at})
			}
		}
		token = list.NextPageToken
		if token == "" {
			return out, nil
		}
		// Guard against a listing that repeats its pages for ever.
		if page > 100000 {
			return nil, errors.New("archive: the archive_files list did not end after 100000 pages")
		}
	}
}

// meetingTime is where a meeting sits in the window: its archive complete
// time, else the window's start (conservative: the position never passes a
// meeting whose time it cannot read).
func meetingTime(m *Meeting, from time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339, m.CompleteTime); err == nil && t.After(from) {
		return t.UTC().Truncate(time.Second)
	}
	return from
}

func (p *Poller) isDone(ctx context.Context, key string) (bool, error) {
	_, err := p.kv.Get(ctx, p.doneKey(key))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("archive: reading KV %s: %w", p.opts.StateBucket, err)
}
