package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// MaxLine is the longest line a Reader takes: more than any writer ever
// wrote. Older versions escaped a 16 MiB frame up to sixfold.
const MaxLine = 100 << 20

// A LineError is a line that holds no record.
type LineError struct {
	File string
	Line int
	// Last is set for a final line without its newline: what a process
	// killed in the middle of a write leaves. Replay passes over it.
	Last bool
	Err  error
}

func (e *LineError) Error() string {
	if e.Last {
		return fmt.Sprintf("capture: %s:%d: damaged last line (the writer was stopped mid-line): %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("capture: %s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Reader reads records from a capture file.
type Reader struct {
	sc           *bufio.Scanner
	line         int
	name         string
	unterminated bool // the last token read ended at EOF without a newline
}

// NewReader reads from r; name is used in errors.
func NewReader(r io.Reader, name string) *Reader {
	rd := &Reader{name: name}
	rd.sc = bufio.NewScanner(r)
	rd.sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	rd.sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			rd.unterminated = false
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			rd.unterminated = true
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	return rd
}

// Next returns the next record, io.EOF at the end. A line that holds no
// record is a *LineError; reading may go on after it.
func (r *Reader) Next() (Record, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return Record{}, &LineError{File: r.name, Line: r.line, Last: r.unterminated, Err: err}
		}
		return rec, nil
	}
	if err := r.sc.Err(); err != nil {
		return Record{}, fmt.Errorf("capture: %s: line %d: %w", r.name, r.line+1, err)
	}
	return Record{}, io.EOF
}
