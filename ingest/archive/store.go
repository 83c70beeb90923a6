package archive

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	errProcessing = errors.New("Zoom is still processing the file")
	errSize       = errors.New("size differs from Zoom's file_size")
	errDigest     = errors.New("SHA-256 differs from Zoom's encryption_fingerprint")
)

// Notice is the body published on <prefix>.<account>.archive.file.
type Notice struct {
	AccountID     string    `json:"account_id"`
	MeetingUUID   string    `json:"meeting_uuid"`
	MeetingID     int64     `json:"meeting_id"`
	Topic         string    `json:"topic,omitempty"`
	HostID        string    `json:"host_id,omitempty"`
	MeetingType   string    `json:"meeting_type,omitempty"`
	StartTime     string    `json:"start_time,omitempty"`
	CompleteTime  string    `json:"complete_time,omitempty"`
	FileID        string    `json:"file_id"`
	FileType      string    `json:"file_type"`
	FileExtension string    `json:"file_extension"`
	RecordingType string    `json:"recording_type,omitempty"`
	Individual    bool      `json:"individual,omitempty"`
	Participant   string    `json:"participant_email,omitempty"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	Bucket        string    `json:"bucket"`
	Object        string    `json:"object"`
	StoredAt      time.Time `json:"stored_at"`
}

// store makes one file done: stored (unless a previous run stored it and
// stopped before the rest), its notice published, its done record written.
func (p *Poller) store(ctx context.Context, f pending) error {
	if f.problem != "" {
		return fmt.Errorf("archive: the list entry cannot be fetched: %s", f.problem)
	}
	if !f.file.Completed() {
		return fmt.Errorf("archive: status %q: %w", clip(f.file.Status), errProcessing)
	}
	name := p.objectName(&f.file, f.key)
	digest, err := p.storedDigest(ctx, name, &f.file)
	if err != nil {
		return err
	}
	if digest == "" {
		if digest, err = p.download(ctx, name, f); err != nil {
			return err
		}
	} else {
		p.opts.Logger.Info().Str("object", name).Msg("archived file already stored by an earlier run; completing it")
	}
	now := p.opts.Now().UTC()
	// Every string from Zoom is clipped: the notice must fit NATS's
	// max_payload whatever the list said.
	n := Notice{
		AccountID: p.opts.AccountID, MeetingUUID: f.meeting.UUID, MeetingID: f.meeting.ID, Topic: clip(f.meeting.Topic),
		HostID: clip(f.meeting.HostID), MeetingType: clip(f.meeting.MeetingType), StartTime: clip(f.meeting.StartTime),
		CompleteTime: clip(f.meeting.CompleteTime), FileID: f.file.ID, FileType: clip(f.file.FileType),
		FileExtension: f.file.FileExtension, RecordingType: clip(f.file.RecordingType),
		Individual: f.file.Individual, Participant: clip(f.file.ParticipantEmail),
		Size: f.file.FileSize, SHA256: digest, Bucket: p.opts.Bucket, Object: name, StoredAt: now,
	}
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("archive: encoding the notice: %w", err)
	}
	msg := nats.NewMsg(p.subject)
	msg.Data = body
	msg.Header.Set(nats.MsgIdHdr, "archive."+p.acct+"."+f.key)
	msg.Header.Set("Zoom-Account-Id", p.opts.AccountID)
	msg.Header.Set("Zoom-Archive-File-Id", headerValue(f.file.ID))
	msg.Header.Set("Content-Type", "application/json")
	if _, err := p.opts.JetStream.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("archive: publishing the notice on %s: %w", p.subject, err)
	}
	rec, _ := json.Marshal(doneRecord{Object: name, Size: f.file.FileSize, SHA256: digest, MeetingID: f.meeting.UUID, StoredAt: now})
	if _, err := p.kv.Create(ctx, p.doneKey(f.key), rec); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("archive: marking %s done in KV %s: %w", name, p.opts.StateBucket, err)
	}
	p.m.stored.Inc()
	p.opts.Logger.Info().Str("object", name).Int64("size", f.file.FileSize).Str("meeting_uuid", f.meeting.UUID).
		Str("file_type", f.file.FileType).Msg("archived file stored")
	return nil
}

// storedDigest returns the hex SHA-256 of the object if a complete, checked
// copy of f is already in the bucket, else "". Put commits an object only
// after the verifying reader has accepted every byte, so an object that
// exists with the right size is a good one.
func (p *Poller) storedDigest(ctx context.Context, name string, f *File) (string, error) {
	info, err := p.obs.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("archive: looking up object %s: %w", name, err)
	}
	if info.Deleted || int64(info.Size) != f.FileSize {
		return "", nil
	}
	sum, ok := strings.CutPrefix(info.Digest, "SHA-256=")
	raw, err := base64.URLEncoding.DecodeString(sum)
	if !ok || err != nil {
		return "", nil
	}
	digest := hex.EncodeToString(raw)
	if want := f.SHA256(); p.opts.VerifyFingerprint && want != "" && want != digest {
		return "", nil
	}
	return digest, nil
}

// download streams the file into the bucket, retrying a broken transfer up
// to MaxAttempts times. It returns the content's hex SHA-256.
func (p *Poller) download(ctx context.Context, name string, f pending) (string, error) {
	var last error
	for attempt := 1; attempt <= p.opts.MaxAttempts; attempt++ {
		digest, err := p.downloadOnce(ctx, name, f)
		if err == nil {
			return digest, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		last = err
		var herr *httpError
		if errors.As(err, &herr) && !herr.transient() {
			return "", err
		}
		p.opts.Logger.Warn().Err(err).Str("object", name).Int("attempt", attempt).Msg("archived file download failed; trying again")
		if err := sleep(ctx, retryAfter(nil, p.opts.Now(), attempt, p.opts.RetryWait)); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("archive: downloading %s: gave up after %d attempts: %w", name, p.opts.MaxAttempts, last)
}

func (p *Poller) downloadOnce(ctx context.Context, name string, f pending) (string, error) {
	u, _ := url.Parse(f.file.DownloadURL) // checked by Problem
	// The access token goes only where it belongs: Zoom's own hosts, or
	// the API's host (the simulator in tests).
	withToken := u.Hostname() == p.apiHost || u.Hostname() == "zoom.us" || strings.HasSuffix(u.Hostname(), ".zoom.us") ||
		u.Hostname() == "zoomgov.com" || strings.HasSuffix(u.Hostname(), ".zoomgov.com")
	if u.Scheme != "https" && !isLoopbackHost(u.Hostname()) {
		return "", &httpError{Status: 0, What: "downloading " + safeURL(f.file.DownloadURL), Body: "plain http:// is accepted only on loopback"}
	}
	resp, err := p.get(ctx, f.file.DownloadURL, "downloading "+safeURL(f.file.DownloadURL), withToken)
	if err != nil {
		p.m.downloadFailures.WithLabelValues("http").Inc()
		return "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength >= 0 && resp.ContentLength != f.file.FileSize {
		p.m.downloadFailures.WithLabelValues("size").Inc()
		return "", fmt.Errorf("archive: %s: Content-Length %d: %w (%d)", name, resp.ContentLength, errSize, f.file.FileSize)
	}
	want := ""
	if p.opts.VerifyFingerprint {
		want = f.file.SHA256()
	}
	// A stall closes the body rather than cancelling ctx: Put then fails
	// on the read and still has a live context to purge its chunks with.
	idle := time.AfterFunc(p.opts.ReadTimeout, func() { resp.Body.Close() })
	defer idle.Stop()
	body := &idleReader{r: resp.Body, timer: idle, d: p.opts.ReadTimeout}
	v := &verifier{r: io.LimitReader(body, f.file.FileSize+1), h: sha256.New(), want: f.file.FileSize, wantSHA: want}
	meta := jetstream.ObjectMeta{
		Name:        name,
		Description: headerValue(f.file.FileType + " " + f.file.RecordingType),
		Headers: nats.Header{
			"Zoom-Meeting-Uuid":    []string{headerValue(f.meeting.UUID)},
			"Zoom-Archive-File-Id": []string{headerValue(f.file.ID)},
			"Zoom-File-Type":       []string{headerValue(f.file.FileType)},
			"Zoom-File-Size":       []string{strconv.FormatInt(f.file.FileSize, 10)},
		},
	}
	if _, err := p.obs.Put(ctx, meta, v); err != nil {
		reason := "network"
		switch {
		case errors.Is(err, errSize):
			reason = "size"
		case errors.Is(err, errDigest):
			reason = "digest"
		case v.n == f.file.FileSize && v.err == nil:
			reason = "store"
		case body.stalled():
			reason = "stalled"
			err = fmt.Errorf("nothing received for %s: %w", p.opts.ReadTimeout, err)
		}
		p.m.downloadFailures.WithLabelValues(reason).Inc()
		return "", fmt.Errorf("archive: storing %s (%d of %d bytes read): %s", name, v.n, f.file.FileSize, p.redact(err))
	}
	p.m.bytes.Add(float64(v.n))
	return hex.EncodeToString(v.h.Sum(nil)), nil
}

// A verifier passes the download through and, at its end, fails the read
// unless the size and digest are Zoom's: Object Store commits an object
// only when its reader ends cleanly, so a short, long or corrupt file is
// never stored.
type verifier struct {
	r       io.Reader
	h       hash.Hash
	n, want int64
	wantSHA string
	err     error
}

func (v *verifier) Read(b []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(b)
	v.n += int64(n)
	v.h.Write(b[:n])
	switch {
	case v.n > v.want:
		v.err = fmt.Errorf("more than %d bytes: %w", v.want, errSize)
		return 0, v.err
	case errors.Is(err, io.EOF):
		if v.n != v.want {
			v.err = fmt.Errorf("%d bytes, not %d: %w", v.n, v.want, errSize)
			return 0, v.err
		}
		if v.wantSHA != "" && hex.EncodeToString(v.h.Sum(nil)) != v.wantSHA {
			v.err = errDigest
			return 0, v.err
		}
	case err != nil:
		v.err = err
	}
	return n, err
}

// An idleReader pushes back its timer, which ends the download, at
// every read that brings data: a connection that stalls without closing
// would otherwise hold the poller for ever.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
	fired bool
}

func (ir *idleReader) Read(b []byte) (int, error) {
	n, err := ir.r.Read(b)
	if n > 0 && !ir.timer.Reset(ir.d) {
		ir.fired = true
	}
	return n, err
}

func (ir *idleReader) stalled() bool { return ir.fired || !ir.timer.Stop() }

// headerValue makes s safe as a NATS header value: a control character
// (CR, LF) from outside would end the header early and corrupt the message.
func headerValue(s string) string {
	if len(s) > 256 {
		s = s[:256]
	}
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c == 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}
