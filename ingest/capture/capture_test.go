package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

var at = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

// readDir reads every record of every capture file in dir, in name order,
// failing on any damaged line.
func readDir(t *testing.T, dir string) []Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "capture-*.ndjson"))
	var got []Record
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(f, name)
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rec)
		}
		f.Close()
	}
	return got
}

func TestWriteRotateRead(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(Options{Dir: dir, MaxFileSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	frames := []string{`{"module":"heartbeat","success":true,"content":"live"}`, "not json \x00 \"quoted\"\n", strings.Repeat("x", 200)}
	for i := range 6 {
		w.Write(at, "ris-a", []byte(frames[i%3]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(files) < 2 {
		t.Fatalf("%d files, want rotation at 300 bytes", len(files))
	}
	got := readDir(t, dir)
	if len(got) != 6 {
		t.Fatalf("read %d records, want 6", len(got))
	}
	for i, rec := range got {
		if rec.Frame != frames[i%3] || rec.Subscription != "ris-a" || !rec.At.Equal(at) {
			t.Errorf("record %d = %+v", i, rec)
		}
	}
}

// Every frame comes back byte for byte: invalid UTF-8 (which JSON would
// turn into U+FFFD, and an invalid frame would replay as a valid event),
// the empty frame, and a frame of control characters, whose JSON escaping
// would grow it sixfold past what a reader takes.
func TestByteForByte(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(Options{Dir: dir, MaxFileSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	frames := []string{
		"{\"module\":\"message\",\"content\":\"caf\xe9\"}", // Latin-1, not UTF-8
		"",
		strings.Repeat("\x01", 1<<20),
		"<html> & \\ \"quoted\" \u2028",
	}
	for _, f := range frames {
		w.Write(at, "ris-a", []byte(f))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readDir(t, dir)
	if len(got) != len(frames) {
		t.Fatalf("read %d records, want %d", len(got), len(frames))
	}
	for i, rec := range got {
		if rec.Frame != frames[i] {
			t.Errorf("frame %d came back as %q (%d bytes), want %d bytes", i, trunc(rec.Frame), len(rec.Frame), len(frames[i]))
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	st, _ := os.Stat(files[0])
	if max := int64(2<<20) * 3 / 2; st.Size() > max {
		t.Errorf("a 1 MiB frame of control characters took a %d-byte file; want under %d", st.Size(), max)
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Lines written before frame_b64 existed still read, and so does a line
// as long as the old writer could make one (a 16 MiB frame escaped sixfold).
func TestOldJournalsRead(t *testing.T) {
	old := `{"at":"2026-11-22T10:00:00Z","subscription":"a","frame":"{\"x\":\"\u003c\"}"}` + "\n"
	r := NewReader(strings.NewReader(old), "old.ndjson")
	rec, err := r.Next()
	if err != nil || rec.Frame != `{"x":"<"}` {
		t.Fatalf("old line: %+v, %v", rec, err)
	}
	// The old reader stopped at 64 MiB; the old writer went to 6 x 16 MiB.
	if MaxLine < 6*16<<20+1<<10 {
		t.Errorf("MaxLine %d is shorter than the longest line a writer wrote", MaxLine)
	}
	long := `{"at":"2026-11-22T10:00:00Z","subscription":"a","frame":"` + strings.Repeat("x", 65<<20) + "\"}\n"
	rec, err = NewReader(strings.NewReader(long), "long.ndjson").Next()
	if err != nil || len(rec.Frame) != 65<<20 {
		t.Fatalf("a 65 MiB line: %d bytes, %v", len(rec.Frame), err)
	}
}

// A process killed mid-write leaves half a last line: the reader says so
// (LineError.Last), so replay can pass over it rather than refuse the file.
func TestHalfLastLine(t *testing.T) {
	good := `{"at":"2026-11-22T10:00:00Z","subscription":"a","frame":"{}"}` + "\n"
	r := NewReader(strings.NewReader(good+good+`{"at":"2026-11-22T10:00:00Z","subscr`), "killed.ndjson")
	for range 2 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := r.Next()
	var le *LineError
	if !errors.As(err, &le) || !le.Last || le.Line != 3 {
		t.Fatalf("half last line: %v, want a LineError with Last on line 3", err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after it: %v, want EOF", err)
	}
	// A damaged line in the middle is not a "last line".
	r = NewReader(strings.NewReader(good+"{broken\n"+good), "middle.ndjson")
	r.Next()
	if _, err := r.Next(); !errors.As(err, &le) || le.Last {
		t.Errorf("damaged middle line: %v, want a LineError without Last", err)
	}
}

func TestReaderErrors(t *testing.T) {
	r := NewReader(strings.NewReader("\n{\"x\":1}\nnope\n"), "f.ndjson")
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "f.ndjson:2: not a capture record") {
		t.Errorf("err = %v", err)
	}
	if _, err := r.Next(); err == nil || !strings.Contains(err.Error(), "f.ndjson:3:") {
		t.Errorf("err = %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("err = %v, want EOF", err)
	}
}

// Two writers on one directory, started in the same instant, never share
// a file: names are created exclusively.
func TestWritersNeverShareAFile(t *testing.T) {
	dir := t.TempDir()
	var ws []*Writer
	for range 2 {
		w, err := NewWriter(Options{Dir: dir, MaxFileSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			for j := range 500 {
				w.Write(at, fmt.Sprint("w", i), fmt.Appendf(nil, `{"n":%d}`, j))
			}
		})
	}
	wg.Wait()
	for _, w := range ws {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(files) != 2 {
		t.Errorf("%d files for two writers, want 2: %v", len(files), files)
	}
	if got := len(readDir(t, dir)); got != 1000 {
		t.Errorf("read %d records, want 1000 (interleaved lines would not parse)", got)
	}
}

// fullDisk fails every write with ENOSPC while full is set.
type fullDisk struct {
	mu    sync.Mutex
	full  bool
	opens int
}

type diskFile struct {
	d *fullDisk
	f *os.File
}

func (f diskFile) Write(p []byte) (int, error) {
	f.d.mu.Lock()
	full := f.d.full
	f.d.mu.Unlock()
	if full {
		return 0, &os.PathError{Op: "write", Path: f.f.Name(), Err: syscall.ENOSPC}
	}
	return f.f.Write(p)
}

func (f diskFile) Close() error { return f.f.Close() }

func (d *fullDisk) create(name string) (file, error) {
	d.mu.Lock()
	d.opens++
	d.mu.Unlock()
	f, err := createExclusive(name)
	if err != nil {
		return nil, err
	}
	return diskFile{d, f.(*os.File)}, nil
}

func (d *fullDisk) set(full bool) { d.mu.Lock(); d.full = full; d.mu.Unlock() }

// One ENOSPC used to kill the journal for good (bufio.Writer keeps its
// first error, and rotation flushed first). Now the failure is counted,
// logged a few times rather than once a frame, reported by Err, and once
// the disk has room the journal writes again, to a new file.
func TestDiskFullRecovers(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	w, err := newWriter(Options{Dir: dir, MaxFileSize: 1 << 20, Logger: zerolog.New(&logs), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	disk := &fullDisk{}
	w.create, w.retryOpen = disk.create, 10*time.Millisecond
	go w.loop()
	defer w.Close()

	w.Write(at, "a", []byte(`{"before":1}`))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	disk.set(true)
	for range 2000 {
		w.Write(at, "a", []byte(`{"lost":1}`))
	}
	if err := w.Flush(); err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Flush on a full disk: %v, want ENOSPC", err)
	}
	if w.Err() == nil {
		t.Error("Err() is nil while the journal fails")
	}
	disk.set(false)
	// Frames keep arriving; within a few retry intervals one reaches a new
	// file and the journal is healthy again.
	deadline := time.Now().Add(10 * time.Second)
	for w.Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the journal did not recover: %v", w.Err())
		}
		w.Write(at, "a", []byte(`{"after":1}`))
		w.Flush()
	}
	w.Write(at, "a", []byte(`{"last":1}`))
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush after recovery: %v", err)
	}
	recs := readDir(t, dir)
	if recs[0].Frame != `{"before":1}` || recs[len(recs)-1].Frame != `{"last":1}` {
		t.Errorf("journal holds %d records, first %q last %q", len(recs), recs[0].Frame, recs[len(recs)-1].Frame)
	}
	if n := value(w.m.errors); n < 1 {
		t.Errorf("capture_errors_total = %v", n)
	}
	lost := int(value(w.m.lost))
	if lost+len(recs) < 2002 {
		t.Errorf("%d lost + %d journaled < the 2002 written: some went uncounted", lost, len(recs))
	}
	if lines := strings.Count(logs.String(), "capture journal failing"); lines < 1 || lines > 5 {
		t.Errorf("%d log lines for %d lost frames; want a few, rate-limited:\n%s", lines, lost, logs.String())
	}
	if !strings.Contains(logs.String(), "capture journal writing again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// A disk that stalls never blocks Write: what the queue cannot hold is
// counted as not journaled, and the sockets read on.
func TestStalledDiskDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	w, err := newWriter(Options{Dir: t.TempDir(), MaxFileSize: 1 << 20, QueueBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w.create = func(name string) (file, error) {
		<-release // the disk hangs on the first open
		return createExclusive(name)
	}
	go w.loop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10_000 {
			w.Write(at, "a", make([]byte, 1024))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Write blocked on a stalled disk")
	}
	if lost := value(w.m.lost); lost < 10_000-100 {
		t.Errorf("lost = %v; a 64 KiB queue holds about 64 of 10,000 1 KiB frames", lost)
	}
	close(release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Retention: files beyond capture.max_total_size, and older than
// capture.max_age, are removed as new files start; the current one never.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "capture-20200101T000000.000Z-1-1.ndjson")
	os.WriteFile(stale, []byte("{}\n"), 0o640)
	old := time.Now().Add(-30 * 24 * time.Hour)
	os.Chtimes(stale, old, old)
	other := filepath.Join(dir, "notes.txt") // not ours: never touched
	os.WriteFile(other, []byte("keep"), 0o640)

	w, err := NewWriter(Options{Dir: dir, MaxFileSize: 2 << 10, MaxTotalSize: 8 << 10, MaxAge: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 200 {
		w.Write(at, "a", make([]byte, 500))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a file older than max_age is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file not named as a capture was touched: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "capture-*.ndjson"))
	var total int64
	for _, f := range files {
		st, _ := os.Stat(f)
		total += st.Size()
	}
	// The bound holds at every new file; the one being written since may
	// add up to max_file_size.
	if total > 8<<10+2<<10 {
		t.Errorf("%d bytes in %d files; max_total_size is 8 KiB", total, len(files))
	}
	if len(files) < 3 {
		t.Errorf("%d files left; retention removed too much", len(files))
	}
}

// FuzzRecord: any frame, any subscription, survives the journal byte for
// byte, in a line not much longer than the frame.
func FuzzRecord(f *testing.F) {
	f.Add("ris-a", []byte(`{"module":"heartbeat"}`))
	f.Add("", []byte("caf\xe9 \x00 \u2028"))
	f.Add("x\ny", []byte{})
	f.Fuzz(func(t *testing.T, sub string, frame []byte) {
		var b bytes.Buffer
		rec := Record{At: at, Subscription: sub, Frame: string(frame)}
		if err := rec.encode(&b); err != nil {
			t.Fatal(err)
		}
		if b.Len() > len(frame)*3/2+512+6*len(sub) {
			t.Errorf("%d-byte frame took a %d-byte line", len(frame), b.Len())
		}
		got, err := NewReader(&b, "fuzz").Next()
		if err != nil {
			t.Fatal(err)
		}
		if got.Frame != string(frame) || !got.At.Equal(at) {
			t.Fatalf("frame %q came back as %q", frame, got.Frame)
		}
		if utf8Valid(sub) && got.Subscription != sub {
			t.Fatalf("subscription %q came back as %q", sub, got.Subscription)
		}
	})
}

func utf8Valid(s string) bool {
	return json.Valid([]byte(fmt.Sprintf("%q", s))) && strings.ToValidUTF8(s, "\uFFFD") == s
}

// FuzzReader reads arbitrary capture files: records or errors naming the
// line, never a panic, and a record read back is what was written.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"at\":\"2026-11-22T10:00:00Z\",\"subscription\":\"a\",\"frame\":\"{}\"}\n"))
	f.Add([]byte("{\"at\":\"2026-11-22T10:00:00Z\",\"subscription\":\"a\",\"frame_b64\":\"6Q==\"}\n"))
	f.Add([]byte("\n\n{\"at\":1}\nnot json\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), "fuzz")
		for range 1000 {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "capture: fuzz") {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			line, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			again, err := NewReader(bytes.NewReader(line), "again").Next()
			if err != nil || again.Frame != rec.Frame || !again.At.Equal(rec.At) {
				t.Fatalf("record did not survive a round trip: %+v %+v %v", rec, again, err)
			}
		}
	})
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}
