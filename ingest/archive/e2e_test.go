package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/ingest/archive"
	"github.com/zccingest/zccingest/test/sim"
)

// addFiles lists n archived files over the last days days, two or three to
// a meeting, 1 to 48 KiB each; it returns each file's SHA-256 by id.
func addFiles(s *sim.Server, n int, days int) map[string]string {
	sums := map[string]string{}
	now := time.Now().UTC()
	span := time.Duration(days) * 24 * time.Hour
	for i, meeting := 0, 0; i < n; meeting++ {
		uuid := fmt.Sprintf("m%03d/Zx+%d==", meeting, meeting) // Zoom UUIDs hold / + =
		at := now.Add(-span + time.Duration(meeting)*span/time.Duration(n/2+1)).Truncate(time.Second)
		for k := 0; k < 2+meeting%2 && i < n; k, i = k+1, i+1 {
			id := fmt.Sprintf("file-%03d", i)
			sums[id] = s.AddArchiveFile(sim.ArchiveFile{
				MeetingUUID: uuid, MeetingID: int64(8e10) + int64(meeting), Topic: "Meeting " + uuid,
				ID: id, Size: int64(1<<10 + (i*7919)%(47<<10)), CompleteTime: at,
				FileType: []string{"MP4", "M4A", "CHAT"}[k], FileExtension: []string{"MP4", "M4A", "TXT"}[k],
				NoFingerprint: i%4 == 0, // then only the size is there to check
			})
		}
	}
	return sums
}

// TestEndToEnd: 200 files over 3 days, downloads broken and 429s injected,
// a page token expired, the poller stopped in the middle and started again:
// every file stored once and byte for byte, one notice each, and no file
// fetched again once it was done.
func TestEndToEnd(t *testing.T) {
	h := newHarness(t)
	const n = 200
	sums := addFiles(h.sim, n, 3)
	h.sim.SetArchiveFaults(sim.ArchiveFaults{BreakEvery: 7, TruncateEvery: 13, CorruptEvery: 17, RateLimitEvery: 11, RetryAfter: 0, ExpirePageTokens: 1})
	ctx := timeout(t, 60*time.Second)

	notices := make(chan string, 4*n)
	sub, err := h.nc.Subscribe("zoom."+acct+".archive.file", func(m *nats.Msg) { notices <- m.Header.Get("Zoom-Archive-File-Id") })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// First run: stopped after some files.
	run1, stop1 := context.WithCancel(ctx)
	p1 := h.poller(h.options())
	done1 := make(chan error, 1)
	go func() { done1 <- p1.Run(run1) }()
	for i := 0; i < n/3; i++ {
		select {
		case <-notices:
		case <-ctx.Done():
			t.Fatal("timed out waiting for the first notices")
		}
	}
	stop1()
	<-done1
	doneAtRestart := h.doneKeys(ctx)
	startedAtRestart, _ := h.sim.ArchiveDownloads()
	if len(doneAtRestart) == 0 || len(doneAtRestart) >= n {
		t.Fatalf("restart after %d of %d files: not in the middle", len(doneAtRestart), n)
	}

	// Second run, a new process as far as the poller knows.
	run2, stop2 := context.WithCancel(ctx)
	p2 := h.poller(h.options())
	done2 := make(chan error, 1)
	go func() { done2 <- p2.Run(run2) }()
	waitDone(t, ctx, h, n)
	stop2()
	<-done2

	// One more poll finds nothing to do and fetches nothing.
	before, _ := h.sim.ArchiveDownloads()
	if err := h.poller(h.options()).Poll(ctx); err != nil {
		t.Fatalf("final poll: %v", err)
	}
	started, completed := h.sim.ArchiveDownloads()
	for id := range sums {
		if started[id] != before[id] {
			t.Errorf("%s fetched again by a poll after everything was done", id)
		}
		if doneAtRestart[id] && started[id] != startedAtRestart[id] {
			t.Errorf("%s was done before the restart and fetched again after it", id)
		}
	}
	extra := 0
	for id := range sums {
		if completed[id] < 1 {
			t.Errorf("%s never downloaded whole", id)
		}
		extra += completed[id] - 1
	}
	// Downloads are sequential: at most the one in flight at the stop may
	// have been fetched whole and not stored.
	if extra > 1 {
		t.Errorf("%d whole downloads beyond one per file", extra)
	}

	c := h.sim.ArchiveCounts()
	if c.RateLimited == 0 || c.Broken == 0 || c.Truncated == 0 || c.Corrupted == 0 || c.ExpiredTokens == 0 {
		t.Errorf("faults not exercised: %+v", c)
	}

	t.Logf("faults: %+v", c)
	checkObjects(t, ctx, h, sums)
	checkNotices(t, ctx, h, sums)
}

// waitDone waits, on a KV watch, until n files are marked done.
func waitDone(t *testing.T, ctx context.Context, h *harness, n int) {
	t.Helper()
	kv, err := h.js.KeyValue(ctx, archive.DefaultStateBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(ctx, acct+".file.>")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case e := <-w.Updates():
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				seen[e.Key()] = true
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d files done", len(seen), n)
		}
	}
}

// checkObjects: one object per file, byte for byte.
func checkObjects(t *testing.T, ctx context.Context, h *harness, sums map[string]string) {
	t.Helper()
	obs, err := h.js.ObjectStore(ctx, archive.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := obs.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(sums) {
		t.Errorf("%d objects, want %d", len(infos), len(sums))
	}
	for _, info := range infos {
		id := info.Headers.Get("Zoom-Archive-File-Id")
		want, ok := sums[id]
		if !ok || !strings.HasPrefix(info.Name, acct+"/"+id+".") {
			t.Errorf("unexpected object %q (file %q)", info.Name, id)
			continue
		}
		r, err := obs.Get(ctx, info.Name)
		if err != nil {
			t.Fatal(err)
		}
		hs := sha256.New()
		_, err = io.Copy(hs, r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(hs.Sum(nil)); got != want {
			t.Errorf("object %s differs from the file Zoom served", info.Name)
		}
	}
}

// checkNotices: exactly one notice per file in the stream, naming its object.
func checkNotices(t *testing.T, ctx context.Context, h *harness, sums map[string]string) {
	t.Helper()
	cons, err := h.js.OrderedConsumer(ctx, "ZOOM_EVENTS", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"zoom." + acct + ".archive.file"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			var nb archive.Notice
			if err := json.Unmarshal(m.Data(), &nb); err != nil {
				t.Fatalf("notice body: %v", err)
			}
			seen[nb.FileID]++
			if nb.SHA256 != sums[nb.FileID] || nb.Bucket != archive.DefaultBucket || !strings.HasPrefix(nb.Object, acct+"/"+nb.FileID) || nb.MeetingUUID == "" {
				t.Errorf("notice %+v", nb)
			}
		}
		if got == 0 {
			break
		}
	}
	for id := range sums {
		if seen[id] != 1 {
			t.Errorf("%s: %d notices, want 1", id, seen[id])
		}
	}
	if len(seen) != len(sums) {
		t.Errorf("notices for %d files, want %d", len(seen), len(sums))
	}
}
