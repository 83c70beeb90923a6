package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

func open(t testing.TB, o Options) *Log {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t testing.TB, l *Log, from, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < from+n; i++ {
		seq, err := l.Append(time.Unix(0, int64(i)), "sub", fmt.Appendf(nil, "frame %d", i))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func replay(t testing.TB, l *Log) []Record {
	t.Helper()
	var rs []Record
	if err := l.Replay(func(r Record) error { rs = append(rs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return rs
}

// What is not released comes back, in order, byte for byte, to the next
// process; what was released does not.
func TestReplayUnreleased(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, SegmentSize: 200})
	seqs := appendN(t, l, 0, 20)
	for i, s := range seqs {
		if i < 5 || i%3 == 0 { // a prefix, and some out of order
			l.Release(s)
		}
	}
	// A killed process does not Close: only write(2) has happened. The
	// lock goes with the process; here, with the file.
	l.lock.Close()

	l2 := open(t, Options{Dir: dir})
	rs := replay(t, l2)
	// Nothing was saved as acknowledged (no checkpoint ran): everything
	// from the first record comes back, the released included; the
	// stream's duplicate window drops the repeats.
	if len(rs) != 20 {
		t.Fatalf("replayed %d records; want all 20 (no ack position saved)", len(rs))
	}
	for i, r := range rs {
		if got := string(r.Frame); got != fmt.Sprintf("frame %d", i) || r.Subscription != "sub" || r.Received.UnixNano() != int64(i) {
			t.Fatalf("record %d: %q %q %v", i, got, r.Subscription, r.Received)
		}
	}
	for _, r := range rs {
		l2.Release(r.Seq)
	}
	l2.Close()

	// Now with a checkpoint: only the unreleased come back.
	l3 := open(t, Options{Dir: dir, SegmentSize: 200})
	if n := len(replay(t, l3)); n != 0 {
		t.Fatalf("replayed %d records after all were released and closed", n)
	}
	seqs = appendN(t, l3, 0, 20)
	for i, s := range seqs {
		if i < 5 || i%3 == 0 {
			l3.Release(s)
		}
	}
	l3.checkpoint()
	l3.lock.Close()
	l4 := open(t, Options{Dir: dir})
	var got []int
	for _, r := range replay(t, l4) {
		var i int
		fmt.Sscanf(string(r.Frame), "frame %d", &i)
		got = append(got, i)
	}
	// The ack position is the first unreleased (5): 6 and 9 come back too.
	if fmt.Sprint(got) != fmt.Sprint([]int{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}) {
		t.Fatalf("replayed %v", got)
	}
}

// Released segments are deleted; the disk holds only what is pending.
func TestTrim(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, SegmentSize: 100})
	seqs := appendN(t, l, 0, 50)
	segs := func() int { m, _ := filepath.Glob(filepath.Join(dir, "seg-*")); return len(m) }
	before := segs()
	if before < 5 {
		t.Fatalf("%d segments for 50 records of ~35 bytes in 100-byte segments", before)
	}
	for _, s := range seqs[:40] {
		l.Release(s)
	}
	l.checkpoint()
	if after := segs(); after >= before || after > 5 {
		t.Fatalf("%d segments left of %d after releasing 40 of 50", after, before)
	}
	for _, s := range seqs[40:] {
		l.Release(s)
	}
	l.Close()
	if n := segs(); n != 0 {
		t.Fatalf("%d segments left after everything was released", n)
	}
}

// Full: a clear error, counted, Err says so; room again: appends work.
func TestFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	l := open(t, Options{MaxBytes: 2000, SegmentSize: 500, Registerer: reg, Logger: zerolog.New(&logs)})
	var seqs []uint64
	var err error
	for range 1000 {
		var s uint64
		s, err = l.Append(time.Now(), "sub", make([]byte, 100))
		if err != nil {
			break
		}
		seqs = append(seqs, s)
	}
	if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "wal.max_bytes is 2000") {
		t.Fatalf("append past max_bytes: %v", err)
	}
	if l.Err() == nil {
		t.Fatal("Err is nil while full")
	}
	if n := testutil.ToFloat64(l.m.errors.WithLabelValues("full")); n != 1 {
		t.Fatalf("zccingest_wal_errors_total{reason=full} = %v", n)
	}
	if strings.Count(logs.String(), "held in memory only") != 1 {
		t.Fatalf("log:\n%s", logs.String())
	}
	for _, s := range seqs {
		l.Release(s)
	}
	l.checkpoint()
	if _, err := l.Append(time.Now(), "sub", make([]byte, 100)); err != nil {
		t.Fatalf("append after the log emptied: %v", err)
	}
	if l.Err() != nil {
		t.Fatal("Err still set after a good append")
	}
}

// A power loss can leave a torn last record: it is skipped, the others
// come back.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	appendN(t, l, 0, 10)
	l.lock.Close()
	l.f.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	st, _ := os.Stat(segs[0])
	os.Truncate(segs[0], st.Size()-3)

	l2 := open(t, Options{Dir: dir})
	rs := replay(t, l2)
	if len(rs) != 9 {
		t.Fatalf("replayed %d of 10 with the last torn", len(rs))
	}
	if n := testutil.ToFloat64(l2.m.damaged); n != 1 {
		t.Fatalf("damaged = %v", n)
	}
	// The torn record's sequence is released: the log can empty.
	for _, r := range rs {
		l2.Release(r.Seq)
	}
	if n := l2.Pending(); n != 0 {
		t.Fatalf("%d pending after releasing all that came back", n)
	}
	// New records after the old: sequences go on.
	s, _ := l2.Append(time.Now(), "sub", []byte("x"))
	if s <= rs[len(rs)-1].Seq {
		t.Fatalf("new sequence %d not after %d", s, rs[len(rs)-1].Seq)
	}
}

// A second process on the same directory is refused.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	open(t, Options{Dir: dir})
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second Open: %v", err)
	}
}

// Every record is fsynced before Append returns with SyncAlways; the
// interval policy leaves it to the background.
func TestSyncPolicy(t *testing.T) {
	if _, err := Open(Options{Dir: t.TempDir(), Sync: "sometimes"}); err == nil {
		t.Fatal("an unknown sync policy was accepted")
	}
	l := open(t, Options{Sync: SyncAlways})
	appendN(t, l, 0, 3)
	if l.dirty {
		t.Fatal("SyncAlways left the segment dirty")
	}
	l2 := open(t, Options{Sync: SyncInterval, SyncInterval: time.Hour})
	appendN(t, l2, 0, 3)
	if !l2.dirty {
		t.Fatal("SyncInterval fsynced on the hot path")
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, pol := range []SyncPolicy{SyncInterval, SyncAlways} {
		b.Run(string(pol), func(b *testing.B) {
			l := open(b, Options{Sync: pol, MaxBytes: 1 << 40})
			frame := bytes.Repeat([]byte("x"), 1500) // a typical event frame
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				s, err := l.Append(time.Now(), "ris-a", frame)
				if err != nil {
					b.Fatal(err)
				}
				l.Release(s)
			}
		})
	}
}

// A write that fails (a disk full, an I/O error) is counted and said by
// Err; the next append starts a new segment by itself, and every record
// that was written comes back.
func TestWriteErrorStartsNewSegment(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, Registerer: prometheus.NewRegistry()})
	appendN(t, l, 0, 3)
	l.f.Close() // the disk fails under the segment
	if _, err := l.Append(time.Now(), "sub", []byte("lost")); err == nil || l.Err() == nil {
		t.Fatalf("append on a failed segment: %v, Err %v", err, l.Err())
	}
	if n := testutil.ToFloat64(l.m.errors.WithLabelValues("write")); n != 1 {
		t.Fatalf("zccingest_wal_errors_total{reason=write} = %v", n)
	}
	appendN(t, l, 3, 2)
	if l.Err() != nil {
		t.Fatalf("Err after a good append: %v", l.Err())
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "seg-*")); len(segs) != 2 {
		t.Fatalf("%d segments, want the failed one and a new one", len(segs))
	}
	l.lock.Close()
	l2 := open(t, Options{Dir: dir})
	var got []string
	for _, r := range replay(t, l2) {
		got = append(got, string(r.Frame))
	}
	if fmt.Sprint(got) != "[frame 0 frame 1 frame 2 frame 3 frame 4]" {
		t.Fatalf("replayed %q", got)
	}
}

// A kill in the middle of a new segment's first record leaves a segment
// with no whole record. Its number is used up: the next process must not
// try to create a segment of the same name (O_EXCL would refuse it on
// every Append, for good), and the torn record is released.
func TestTornFirstRecordOfNewSegment(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, SegmentSize: 100})
	seqs := appendN(t, l, 0, 5)
	for _, s := range seqs {
		l.Release(s)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	next := seqs[len(seqs)-1] + 1
	torn := filepath.Join(dir, fmt.Sprintf("%s%020d%s", segPrefix, next, segSuffix))
	if err := os.WriteFile(torn, []byte{9, 0, 0, 0, 1}, 0o600); err != nil {
		t.Fatal(err)
	}

	l2 := open(t, Options{Dir: dir, SegmentSize: 100})
	if rs := replay(t, l2); len(rs) != 0 {
		t.Fatalf("replayed %d records; the torn one holds none", len(rs))
	}
	s, err := l2.Append(time.Now(), "sub", []byte("after"))
	if err != nil || l2.Err() != nil {
		t.Fatalf("Append after a torn first record: %v (Err %v)", err, l2.Err())
	}
	if s <= next {
		t.Errorf("new sequence %d reuses the torn record's %d", s, next)
	}
	l2.Release(s)
	if n := l2.Pending(); n != 0 {
		t.Errorf("%d pending after releasing everything", n)
	}
}

// A file in wal.dir named like a segment but with a number no log of ours
// reaches is left alone: start-up neither panics nor allocates for it.
func TestForeignSegmentName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, segPrefix+"18446744073709551615"+segSuffix), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := open(t, Options{Dir: dir})
	seqs := appendN(t, l, 0, 3)
	if len(seqs) != 3 || l.Err() != nil {
		t.Fatalf("appends beside a foreign file: %v %v", seqs, l.Err())
	}
}
