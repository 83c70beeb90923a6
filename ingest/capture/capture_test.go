package capture

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteRotateRead(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, 300)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	frames := []string{`{"module":"heartbeat","success":true,"content":"live"}`, "not json \x00 \"quoted\"\n", strings.Repeat("x", 200)}
	for i := range 6 {
		if err := w.Write(at, "ris-a", []byte(frames[i%3])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(files) < 2 {
		t.Fatalf("%d files, want rotation at 300 bytes", len(files))
	}
	var got []Record
	for _, name := range files {
		f, _ := os.Open(name)
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
	if len(got) != 6 {
		t.Fatalf("read %d records, want 6", len(got))
	}
	for i, rec := range got {
		if rec.Frame != frames[i%3] || rec.Subscription != "ris-a" || !rec.At.Equal(at) {
			t.Errorf("record %d = %+v", i, rec)
		}
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

// FuzzReader reads arbitrary capture files: records or errors naming the
// line, never a panic, and a record read back is what was written.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"at\":\"2026-11-22T10:00:00Z\",\"subscription\":\"a\",\"frame\":\"{}\"}\n"))
	f.Add([]byte("\n\n{\"at\":1}\nnot json\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(strings.NewReader(string(data)), "fuzz")
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
			var buf strings.Builder
			line, _ := json.Marshal(rec)
			buf.Write(line)
			again, err := NewReader(strings.NewReader(buf.String()), "again").Next()
			if err != nil || again.Frame != rec.Frame || !again.At.Equal(rec.At) {
				t.Fatalf("record did not survive a round trip: %+v %+v %v", rec, again, err)
			}
		}
	})
}
