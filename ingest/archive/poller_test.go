package archive_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/archive"
	"github.com/zccingest/zccingest/test/sim"
)

func position(t *testing.T, ctx context.Context, h *harness) time.Time {
	t.Helper()
	kv, err := h.js.KeyValue(ctx, archive.DefaultStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, acct+".position")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ From time.Time }
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		t.Fatal(err)
	}
	return p.From
}

// A file Zoom is still processing is not stored, and the position stays
// before it until it is; then it is stored.
func TestProcessingFileHoldsPosition(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	now := time.Now().UTC().Truncate(time.Second)
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "old", ID: "a", Size: 100, CompleteTime: now.Add(-48 * time.Hour)})
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "busy", ID: "b", Size: 100, CompleteTime: now.Add(-30 * time.Hour), Status: "processing"})
	p := h.poller(h.options())
	if err := p.Poll(ctx); err != nil {
		t.Errorf("a file still processing made the poll fail: %v", err)
	}
	if pos := position(t, ctx, h); pos.After(now.Add(-30 * time.Hour)) {
		t.Errorf("position %s passed the file still processing (%s)", pos, now.Add(-30*time.Hour))
	}
	if done := h.doneKeys(ctx); !done["a"] || done["b"] {
		t.Errorf("done = %v, want a only", done)
	}
	h.sim.SetArchiveFileStatus("b", "completed")
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if done := h.doneKeys(ctx); !done["b"] {
		t.Errorf("done = %v after processing finished", done)
	}
	if pos := position(t, ctx, h); pos.Before(now.Add(-2 * time.Hour)) {
		t.Errorf("position %s did not move on once the file was stored", pos)
	}
}

// A list entry the poller cannot use is held with an error naming it; the
// others are stored.
func TestBadEntryHeldAndNamed(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	now := time.Now().UTC()
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m1", ID: "bad", Size: -5, CompleteTime: now.Add(-5 * time.Hour)})
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m2", ID: "good", Size: 10, CompleteTime: now.Add(-4 * time.Hour)})
	p := h.poller(h.options())
	if err := p.Poll(ctx); err == nil {
		t.Error("no error for a bad entry")
	}
	if !strings.Contains(h.logs.String(), "file_size -5 out of range") || !strings.Contains(h.logs.String(), `"file_id":"bad"`) {
		t.Errorf("the log does not name the bad entry and why:\n%s", h.logs.String())
	}
	if done := h.doneKeys(ctx); !done["good"] || done["bad"] {
		t.Errorf("done = %v", done)
	}
	if pos := position(t, ctx, h); pos.After(now.Add(-5 * time.Hour)) {
		t.Errorf("position %s passed the bad entry", pos)
	}
}

// Trigger polls at once, whatever the interval.
func TestTriggerPollsNow(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	p := h.poller(h.options()) // PollInterval: 1h
	run, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- p.Run(run) }()
	// The first poll, at start, finds nothing; wait for it to end.
	waitFor(t, 10*time.Second, "the first poll", func() bool { return h.sim.ArchiveCounts().ListRequests >= 1 })
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "late", Size: 10, CompleteTime: time.Now().UTC()})
	p.Trigger("m")
	waitDone(t, ctx, h, 1)
	stop()
	<-done
}

// An expired page token restarts the window from its first page, a bounded
// number of times, then fails the poll without moving the position.
func TestPageTokenAlwaysExpired(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	now := time.Now().UTC()
	for _, id := range []string{"x", "y"} {
		h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: id, ID: id, Size: 10, CompleteTime: now.Add(-time.Hour)})
	}
	h.sim.SetArchiveFaults(sim.ArchiveFaults{PageTokenTTL: time.Nanosecond})
	opts := h.options()
	opts.PageSize = 1
	err := h.poller(opts).Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "next page token") {
		t.Fatalf("err = %v", err)
	}
	if c := h.sim.ArchiveCounts(); c.ExpiredTokens != 4 {
		t.Errorf("%d expired tokens presented, want 4 (the first listing and 3 restarts)", c.ExpiredTokens)
	}
	if len(h.doneKeys(ctx)) != 0 {
		t.Error("files stored from a listing that never completed")
	}
}

// A token Zoom stops accepting is replaced and the request repeated.
func TestRefusedTokenRenewed(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "f", Size: 10, CompleteTime: time.Now().UTC().Add(-time.Hour)})
	p := h.poller(h.options())
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	h.sim.ExpireTokens()
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m2", ID: "g", Size: 10, CompleteTime: time.Now().UTC().Add(-time.Minute)})
	if err := p.Poll(ctx); err != nil {
		t.Fatalf("poll after the token was refused: %v", err)
	}
	if !h.doneKeys(ctx)["g"] {
		t.Error("file not stored after the token was renewed")
	}
}

// A download that stalls without closing is given up after ReadTimeout and
// tried again; the file is stored whole.
func TestStalledDownload(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "s", Size: 200 << 10, CompleteTime: time.Now().UTC().Add(-time.Hour)})
	h.sim.SetArchiveFaults(sim.ArchiveFaults{StallNext: 1})
	opts := h.options()
	opts.ReadTimeout = 300 * time.Millisecond
	p := h.poller(opts)
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if h.sim.ArchiveCounts().Stalled != 1 || !h.doneKeys(ctx)["s"] || !strings.Contains(h.logs.String(), "nothing received for 300ms") {
		t.Errorf("stalled download not retried and stored; logs:\n%s", h.logs.String())
	}
}

// A 429 is waited out for as long as its Retry-After says, then the request
// is repeated.
func TestRateLimitWaitsRetryAfter(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "r", Size: 10, CompleteTime: time.Now().UTC().Add(-time.Hour)})
	h.sim.SetArchiveFaults(sim.ArchiveFaults{RateLimitEvery: 2, RetryAfter: 1}) // every second request
	if err := h.poller(h.options()).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if h.sim.ArchiveCounts().RateLimited == 0 || !h.doneKeys(ctx)["r"] {
		t.Errorf("counts %+v, done %v", h.sim.ArchiveCounts(), h.doneKeys(ctx))
	}
	if !strings.Contains(h.logs.String(), `"retry_in":1000,"category":"Medium"`) {
		t.Errorf("the wait is not Retry-After's second:\n%s", h.logs.String())
	}
}

// A poller stopped in the middle of a download leaves no object and no done
// key behind; the next one stores the file whole.
func TestStoppedMidDownload(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	sum := h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "half", Size: 1 << 20, CompleteTime: time.Now().UTC().Add(-time.Hour)})
	h.sim.SetArchiveFaults(sim.ArchiveFaults{StallNext: 1}) // half the file, then nothing
	run, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.poller(h.options()).Poll(run) }()
	waitFor(t, 10*time.Second, "the download to start", func() bool { return h.sim.ArchiveCounts().Stalled == 1 })
	stop()
	if err := <-done; err == nil {
		t.Fatal("a poll stopped mid-download reported success")
	}
	obs, err := h.js.ObjectStore(ctx, archive.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.GetInfo(ctx, acct+"/half.mp4"); err == nil {
		t.Error("an object half put is in the bucket")
	}
	if len(h.doneKeys(ctx)) != 0 {
		t.Error("a file half downloaded is marked done")
	}
	if err := h.poller(h.options()).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, ctx, h, map[string]string{"half": sum})
}

// A run that stopped after the object was committed but before the file was
// marked done: the next finds the object, does not fetch it again, and
// completes it; the notice it publishes again is de-duplicated.
func TestStoredButNotMarkedDone(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	sum := h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "o", Size: 5000, CompleteTime: time.Now().UTC().Add(-30 * time.Minute)})
	if err := h.poller(h.options()).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	kv, _ := h.js.KeyValue(ctx, archive.DefaultStateBucket)
	if err := kv.Purge(ctx, acct+".file.o"); err != nil {
		t.Fatal(err)
	}
	before, _ := h.sim.ArchiveDownloads()
	if err := h.poller(h.options()).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := h.sim.ArchiveDownloads()
	if h.sim.ArchiveCounts().ListRequests < 3 {
		t.Fatal("the second poll did not list the file's window")
	}
	if after["o"] != before["o"] {
		t.Error("a stored object was fetched again")
	}
	if !h.doneKeys(ctx)["o"] {
		t.Error("not marked done")
	}
	checkObjects(t, ctx, h, map[string]string{"o": sum})
	checkNotices(t, ctx, h, map[string]string{"o": sum})
}

// Two pollers of one account (a 1+1 pair) polling at once take turns on
// the lease: every file is downloaded once, not once by each.
func TestPairDownloadsOnce(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 30*time.Second)
	sums := addFiles(h.sim, 60, 2)
	h.sim.SetArchiveFaults(sim.ArchiveFaults{BytesPerSecond: 4 << 20}) // polls last long enough to collide
	run, stop := context.WithCancel(ctx)
	defer stop()
	var pollers []*archive.Poller
	for _, name := range []string{"ris-a", "ris-b"} {
		opts := h.options()
		opts.Instance = name
		opts.PollInterval = 50 * time.Millisecond
		pollers = append(pollers, h.poller(opts))
	}
	done := make(chan error, 2)
	for _, p := range pollers {
		go func() { done <- p.Run(run) }()
	}
	waitDone(t, ctx, h, len(sums))
	stop()
	<-done
	<-done
	started, _ := h.sim.ArchiveDownloads()
	for id := range sums {
		if started[id] != 1 {
			t.Errorf("%s downloaded %d times", id, started[id])
		}
	}
	if !strings.Contains(h.logs.String(), "another poller of this account holds the poll lease") {
		t.Log("the two pollers never collided; the test proved little")
	}
	checkObjects(t, ctx, h, sums)
	checkNotices(t, ctx, h, sums)
}

// A poll that outlasts several renewals still leaves the lease free at its
// end: the other poller of a pair need not wait for it to lapse.
func TestLeaseReleasedAfterRenewals(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "slow", Size: 64 << 10, CompleteTime: time.Now().UTC().Add(-time.Hour)})
	h.sim.SetArchiveFaults(sim.ArchiveFaults{BytesPerSecond: 128 << 10}) // half a second
	opts := h.options()
	opts.LeaseTTL = 150 * time.Millisecond // renewed every 50ms
	if err := h.poller(opts).Poll(ctx); err != nil {
		t.Fatal(err)
	}
	kv, _ := h.js.KeyValue(ctx, archive.DefaultStateBucket)
	e, err := kv.Get(ctx, acct+".lease")
	if err == nil {
		t.Errorf("lease still held after the poll: %s (revision %d)", e.Value(), e.Revision())
	}
}

// Chunks a killed process left behind (a Put that never committed) are
// removed; the chunks of stored objects are not.
func TestCleanOrphans(t *testing.T) {
	h := newHarness(t)
	ctx := timeout(t, 20*time.Second)
	sum := h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "m", ID: "kept", Size: 300 << 10, CompleteTime: time.Now().UTC().Add(-time.Hour)})
	p := h.poller(h.options())
	if err := p.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	orphan := "$O." + archive.DefaultBucket + ".C.OrphanNuid0000000000"
	for range 3 {
		if _, err := h.js.Publish(ctx, orphan, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := p.CleanOrphans(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("recent chunks removed: %d, %v", n, err)
	}
	if n, err := p.CleanOrphans(ctx, 0); err != nil || n != 1 {
		t.Fatalf("CleanOrphans = %d, %v; want 1", n, err)
	}
	st, _ := h.js.Stream(ctx, "OBJ_"+archive.DefaultBucket)
	if _, err := st.GetLastMsgForSubject(ctx, orphan); err == nil {
		t.Error("orphaned chunks still there")
	}
	checkObjects(t, ctx, h, map[string]string{"kept": sum})
}
