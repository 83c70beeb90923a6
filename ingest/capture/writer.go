package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Options configure a Writer.
type Options struct {
	Dir         string
	MaxFileSize int64 // a new file once the current one reaches it
	// MaxAge and MaxTotalSize bound the journal: at every new file the
	// oldest of the writer's files are removed while older than MaxAge or
	// while all of them together are larger than MaxTotalSize. 0: no bound.
	MaxAge       time.Duration
	MaxTotalSize int64
	// QueueBytes bounds the frames waiting for the disk (default 64 MiB):
	// a disk that stalls loses journal lines, never blocks the sockets.
	QueueBytes int64
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // nil registers nothing
}

// retryOpen is how long a writer whose file failed waits before it opens
// a new one: a full disk must not cost an open per frame.
const retryOpen = time.Second

// A file is what the writer writes to: an *os.File, or a test's fault.
type file interface {
	io.Writer
	io.Closer
}

func createExclusive(name string) (file, error) {
	return os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
}

// Writer journals frames to files in a directory. Write never waits for
// the disk: a goroutine of the writer's own encodes and writes, in the
// order of the Write calls. A write error (a full disk) loses that file's
// unflushed lines, counted; the next frame goes to a new file, so the
// journal recovers by itself once the disk does. It is safe for concurrent
// use.
type Writer struct {
	opts      Options
	m         *metrics
	create    func(name string) (file, error)
	retryOpen time.Duration
	queue     chan Record
	flush     chan chan error
	done      chan struct{}
	queued    atomic.Int64 // bytes in queue

	mu     sync.Mutex
	failed error // the last failure, until a file is written again
	closed bool

	// Owned by the loop goroutine.
	f        file
	w        *bufio.Writer
	size     int64
	pending  int // lines in w not yet handed to the OS
	seq      int
	retryAt  time.Time
	lostLog  rateLog
	line     bytes.Buffer
	fileName string
}

// NewWriter creates the directory if needed and starts the writer. Files
// are named capture-<UTC start time>-<pid>-<n>.ndjson and created
// exclusively: a writer never appends to a file it did not create.
func NewWriter(opts Options) (*Writer, error) {
	w, err := newWriter(opts)
	if err != nil {
		return nil, err
	}
	go w.loop()
	return w, nil
}

// newWriter is NewWriter without its goroutine: a test sets its seams first.
func newWriter(opts Options) (*Writer, error) {
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = 64 << 20
	}
	w := &Writer{
		opts:      opts,
		m:         newMetrics(opts.Registerer),
		create:    createExclusive,
		retryOpen: retryOpen,
		queue:     make(chan Record, 1<<16),
		flush:     make(chan chan error),
		done:      make(chan struct{}),
	}
	w.lostLog.log = opts.Logger
	return w, nil
}

// Write journals one frame; it copies frame. It does not wait for the
// disk: when the queue is full the frame is not journaled, and counted.
func (w *Writer) Write(at time.Time, subscription string, frame []byte) {
	n := int64(len(frame))
	if w.queued.Add(n) > w.opts.QueueBytes {
		w.queued.Add(-n)
		w.lost(1, errors.New("the disk is not keeping up (capture queue full)"))
		return
	}
	select {
	case w.queue <- Record{At: at, Subscription: subscription, Frame: string(frame)}:
	default:
		w.queued.Add(-n)
		w.lost(1, errors.New("the disk is not keeping up (capture queue full)"))
	}
}

// Flush waits until every frame written before it has been handed to the
// OS, and returns the error that kept any of them from it.
func (w *Writer) Flush() error {
	ch := make(chan error, 1)
	select {
	case w.flush <- ch:
		return <-ch
	case <-w.done:
		return errors.New("capture: writer closed")
	}
}

// Close writes what is queued, closes the current file and stops the
// writer. Write must not be called after Close.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.queue)
	<-w.done
	return w.Err()
}

// Err returns the journal's failure while it lasts: nil once a file has
// been written again. A failing journal loses no event, only its copy on
// disk: a readiness check reports it as degraded.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(time.Second) // a crash loses at most a second
	defer t.Stop()
	for {
		select {
		case rec, ok := <-w.queue:
			if !ok {
				w.flushFile()
				w.closeFile()
				return
			}
			w.queued.Add(-int64(len(rec.Frame)))
			w.write(rec)
		case <-t.C:
			w.flushFile()
		case ch := <-w.flush:
			for n := len(w.queue); n > 0; n-- { // what was written before
				rec := <-w.queue
				w.queued.Add(-int64(len(rec.Frame)))
				w.write(rec)
			}
			err := w.flushFile()
			if err == nil {
				err = w.Err() // nothing to flush, but the journal is failing
			}
			ch <- err
		}
	}
}

func (w *Writer) write(rec Record) {
	w.line.Reset()
	if err := rec.encode(&w.line); err != nil {
		w.lost(1, err) // cannot happen for a string, but never silently
		return
	}
	if w.f != nil && w.size+int64(w.line.Len()) > w.opts.MaxFileSize && w.size > 0 {
		if w.flushFile() == nil {
			w.closeFile()
		}
	}
	if w.f == nil {
		if time.Now().Before(w.retryAt) {
			w.lost(1, w.Err())
			return
		}
		if err := w.open(); err != nil {
			w.fail(err, 1)
			return
		}
	}
	n, err := w.w.Write(w.line.Bytes())
	w.size += int64(n)
	w.pending++
	if err != nil {
		w.fail(fmt.Errorf("capture: writing %s: %w", w.fileName, err), w.pending)
	}
}

// flushFile hands the buffered lines to the OS.
func (w *Writer) flushFile() error {
	if w.w == nil || w.pending == 0 {
		return nil
	}
	if err := w.w.Flush(); err != nil {
		err = fmt.Errorf("capture: writing %s: %w", w.fileName, err)
		w.fail(err, w.pending)
		return err
	}
	w.pending = 0
	w.recovered()
	return nil
}

// fail gives up the current file, whose buffer holds an error for good
// (bufio.Writer keeps its first error), losing its unflushed lines: the
// next frame, after retryOpen, opens a new file.
func (w *Writer) fail(err error, lines int) {
	w.m.errors.Inc()
	if w.f != nil {
		w.f.Close()
		w.f, w.w = nil, nil
	}
	w.pending = 0
	w.retryAt = time.Now().Add(w.retryOpen)
	w.mu.Lock()
	w.failed = err
	w.mu.Unlock()
	w.lost(lines, err)
}

func (w *Writer) lost(lines int, err error) {
	w.m.lost.Add(float64(lines))
	w.lostLog.add(lines, err)
}

func (w *Writer) recovered() {
	w.mu.Lock()
	was := w.failed
	w.failed = nil
	w.mu.Unlock()
	if was != nil {
		n := w.lostLog.reset()
		w.opts.Logger.Info().Int("frames_not_journaled", n).Str("file", w.fileName).Msg("capture journal writing again")
	}
}

func (w *Writer) open() error {
	start := time.Now().UTC().Format("20060102T150405.000Z")
	for range 100 {
		w.seq++
		name := filepath.Join(w.opts.Dir, fmt.Sprintf("capture-%s-%d-%d.ndjson", start, os.Getpid(), w.seq))
		f, err := w.create(name)
		if errors.Is(err, os.ErrExist) {
			continue // another writer's, or ours from before a restart
		}
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		w.f, w.w, w.size, w.fileName = f, bufio.NewWriterSize(f, 64<<10), 0, name
		w.prune()
		return nil
	}
	return fmt.Errorf("capture: no free file name in %s", w.opts.Dir)
}

func (w *Writer) closeFile() {
	if w.f == nil {
		return
	}
	if err := w.f.Close(); err != nil {
		w.m.errors.Inc()
		w.opts.Logger.Error().Err(err).Str("file", w.fileName).Msg("capture file close failed")
	}
	w.f, w.w = nil, nil
}

// prune removes the oldest capture files beyond MaxAge and MaxTotalSize,
// never the current one. Only files named as a writer names them are
// touched.
func (w *Writer) prune() {
	if w.opts.MaxAge <= 0 && w.opts.MaxTotalSize <= 0 {
		return
	}
	names, err := filepath.Glob(filepath.Join(w.opts.Dir, "capture-*.ndjson"))
	if err != nil {
		return
	}
	type file struct {
		name string
		size int64
		mod  time.Time
	}
	var files []file
	var total int64
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		files = append(files, file{n, st.Size(), st.ModTime()})
		total += st.Size()
	}
	slices.SortFunc(files, func(a, b file) int { return a.mod.Compare(b.mod) })
	for _, f := range files {
		if f.name == w.fileName {
			continue
		}
		old := w.opts.MaxAge > 0 && time.Since(f.mod) > w.opts.MaxAge
		over := w.opts.MaxTotalSize > 0 && total > w.opts.MaxTotalSize
		if !old && !over {
			continue
		}
		if err := os.Remove(f.name); err != nil {
			w.opts.Logger.Warn().Err(err).Str("file", f.name).Msg("capture retention: cannot remove an old file")
			continue
		}
		total -= f.size
		w.m.pruned.Inc()
	}
}

// rateLog logs the first loss of a failure at once, then at most one line
// every 10 s with the count since: a full disk must not flood the log with
// a line per frame.
type rateLog struct {
	log   zerolog.Logger
	mu    sync.Mutex
	n     int // lost since the failure began
	since int // lost since the last line
	last  time.Time
}

func (r *rateLog) add(lines int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += lines
	r.since += lines
	if !r.last.IsZero() && time.Since(r.last) < 10*time.Second {
		return
	}
	msg := "capture journal failing: frames are published but not journaled"
	if err != nil && strings.Contains(err.Error(), "queue full") {
		msg = "capture journal behind: frames are published but not journaled"
	}
	r.log.Error().Err(err).Int("frames_not_journaled", r.since).Int("total", r.n).Msg(msg)
	r.since, r.last = 0, time.Now()
}

func (r *rateLog) reset() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n
	r.n, r.since, r.last = 0, 0, time.Time{}
	return n
}

type metrics struct {
	errors prometheus.Counter
	lost   prometheus.Counter
	pruned prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_capture_errors_total", Help: "Capture journal writes, flushes and opens that failed."}),
		lost:   prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_capture_lost_total", Help: "Frames published but not journaled: the disk failed or did not keep up."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "zccingest_capture_files_removed_total", Help: "Capture files removed by retention (capture.max_age, capture.max_total_size)."}),
	}
	if reg != nil {
		reg.MustRegister(m.errors, m.lost, m.pruned)
	}
	return m
}
