// Package capture journals received frames as newline-delimited JSON, one
// frame a line, kept byte for byte, and reads such journals back for replay:
//
//	{"at":"2026-11-22T10:00:00.123456789Z","subscription":"ris-a","frame":"<the frame text>"}
package capture

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A Record is one received frame.
type Record struct {
	At           time.Time `json:"at"`
	Subscription string    `json:"subscription"`
	Frame        string    `json:"frame"`
}

// Writer appends records to files in a directory, starting a new file when
// the current one reaches MaxSize. It is safe for concurrent use.
type Writer struct {
	dir     string
	maxSize int64

	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	size int64
	seq  int
}

// NewWriter creates dir if needed. Files are named
// capture-<UTC start time>-<n>.ndjson.
func NewWriter(dir string, maxSize int64) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return &Writer{dir: dir, maxSize: maxSize}, nil
}

// Write journals one frame. The record reaches the OS at the next Flush.
func (w *Writer) Write(at time.Time, subscription string, frame []byte) error {
	line, err := json.Marshal(Record{At: at.UTC(), Subscription: subscription, Frame: string(frame)})
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.size+int64(len(line)) > w.maxSize && w.size > 0 {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.w.Write(line)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("capture: writing %s: %w", w.f.Name(), err)
	}
	return nil
}

func (w *Writer) rotate() error {
	if err := w.closeFile(); err != nil {
		return err
	}
	w.seq++
	name := filepath.Join(w.dir, fmt.Sprintf("capture-%s-%d.ndjson", time.Now().UTC().Format("20060102T150405Z"), w.seq))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	w.f, w.w, w.size = f, bufio.NewWriterSize(f, 64<<10), 0
	return nil
}

// Flush hands buffered records to the OS.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return nil
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

func (w *Writer) closeFile() error {
	if w.f == nil {
		return nil
	}
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.w = nil, nil
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

// Close flushes and closes the current file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeFile()
}

// Reader reads records from a capture file.
type Reader struct {
	sc   *bufio.Scanner
	line int
	name string
}

// NewReader reads from r; name is used in errors.
func NewReader(r io.Reader, name string) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	return &Reader{sc: sc, name: name}
}

// Next returns the next record, io.EOF at the end. A line that is not a
// record is an error naming the file and line; reading may go on after it.
func (r *Reader) Next() (Record, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return Record{}, fmt.Errorf("capture: %s:%d: %w", r.name, r.line, err)
		}
		if rec.Frame == "" || rec.At.IsZero() {
			return Record{}, fmt.Errorf("capture: %s:%d: not a capture record (needs at and frame)", r.name, r.line)
		}
		return rec, nil
	}
	if err := r.sc.Err(); err != nil {
		return Record{}, fmt.Errorf("capture: %s: %w", r.name, err)
	}
	return Record{}, io.EOF
}
