// Package wal is the ingester's write-ahead log: every frame that will be
// published is written here before it is buffered, and released once NATS
// has acknowledged its message. A process that dies (kill -9, OOM, a
// panic) leaves the unreleased frames on disk; the next one reads them back
// with Replay and publishes them again, under the same Nats-Msg-Id.
//
// The log is a directory of segment files, each named by the sequence
// number of its first record and written by one process only (O_EXCL), an
// "ack" file holding the lowest sequence not yet released (everything
// below it is done), and a lock file that keeps a second process out.
// Segments whose records are all released are deleted.
//
// A record is on disk, as far as a killed process is concerned, once
// write(2) returned: the page cache survives the process. A power loss
// can take what was not yet fsynced: with SyncAlways nothing, with
// SyncInterval up to the last interval.
package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// A SyncPolicy says when appended records are fsynced.
type SyncPolicy string

const (
	// SyncInterval fsyncs every Options.SyncInterval in the background:
	// the hot path pays write(2) only; a power loss can take the last
	// interval.
	SyncInterval SyncPolicy = "interval"
	// SyncAlways fsyncs every record before Append returns.
	SyncAlways SyncPolicy = "always"
)

// Defaults.
const (
	DefaultSyncInterval = 200 * time.Millisecond
	DefaultMaxBytes     = 1 << 30
	DefaultSegmentSize  = 16 << 20
	// MaxFrame bounds one record's frame: larger is refused, and a length
	// read back above it is damage, not an allocation to make.
	MaxFrame = 64 << 20
	maxSub   = 1 << 10
)

// ErrFull is Append's error when the log holds Options.MaxBytes.
var ErrFull = errors.New("wal: full")

// Options configure a Log.
type Options struct {
	Dir          string // required
	Sync         SyncPolicy
	SyncInterval time.Duration // for SyncInterval, and how often the ack position is saved; default 200 ms
	// MaxBytes bounds the segment files together; default 1 GiB.
	MaxBytes int64
	// SegmentSize is where a segment ends; default 16 MiB (at most MaxBytes/4).
	SegmentSize int64
	Logger      zerolog.Logger
	Registerer  prometheus.Registerer // nil: no metrics
}

// A Record is one frame as it was received.
type Record struct {
	Seq          uint64
	Received     time.Time
	Subscription string
	Frame        []byte
}

type segment struct {
	first uint64 // sequence of its first record
	path  string
	size  int64
}

// A Log is a write-ahead log, safe for concurrent use.
type Log struct {
	opts Options
	log  zerolog.Logger
	m    metrics
	lock *os.File

	mu     sync.Mutex // appends and segments
	f      *os.File   // segment being written; nil: open one at the next Append
	fsize  int64
	segs   []segment // oldest first; the last is f's when f != nil
	total  int64     // bytes of segs
	next   uint64    // sequence of the next record
	dirty  bool      // written since the last fsync
	buf    []byte
	err    error // the last Append's error; nil once one succeeds
	errLog logLimit

	amu       sync.Mutex // the acknowledged position
	base      uint64     // lowest sequence not released
	done      []bool     // done[i]: base+i released
	persisted uint64     // base as saved in the ack file

	recoverEnd uint64 // Replay delivers sequences below it
	stop       chan struct{}
	stopped    chan struct{}
	closeOnce  sync.Once
}

const (
	headerLen  = 16 // length uint32, crc32c uint32, seq uint64
	segPrefix  = "seg-"
	segSuffix  = ".wal"
	ackFile    = "ack"
	lockFile   = "lock"
	ackFileLen = 12

	// maxSeq bounds a segment name this log will read: a name beyond it
	// is no segment of ours, and its number would overflow.
	maxSeq = 1 << 62
	// maxPending bounds the records between the ack position and the end:
	// wal.max_bytes holds far fewer. More means the numbers are not ours,
	// and allocating a flag for each would exhaust memory.
	maxPending = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Open opens the log in opts.Dir, creating it, and takes its lock: one
// process at a time. Records a previous process left unreleased wait for
// Replay; new ones go to a segment of their own.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("wal: Options need a Dir")
	}
	switch opts.Sync {
	case "":
		opts.Sync = SyncInterval
	case SyncInterval, SyncAlways:
	default:
		return nil, fmt.Errorf("wal: sync policy %q is not %q or %q", opts.Sync, SyncInterval, SyncAlways)
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = min(DefaultSegmentSize, max(opts.MaxBytes/4, 1<<10))
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: creating the directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(opts.Dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("wal: opening the lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("wal: %s is in use by another process (%w): each ingester needs a wal.dir of its own", opts.Dir, err)
	}
	l := &Log{opts: opts, log: opts.Logger, lock: lock, stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := l.load(); err != nil {
		lock.Close()
		return nil, err
	}
	l.m = newMetrics(opts.Registerer, l)
	go l.background()
	return l, nil
}

// load reads the ack position and finds the segments and the next sequence.
func (l *Log) load() error {
	b, err := os.ReadFile(filepath.Join(l.opts.Dir, ackFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("wal: reading the ack position: %w", err)
	case len(b) != ackFileLen || crc32.Checksum(b[:8], crcTable) != binary.LittleEndian.Uint32(b[8:]):
		// Safe to start from the beginning: what is published again is
		// dropped by the stream's duplicate window.
		l.log.Warn().Msg("wal: ack position damaged; publishing every record in the log again")
	default:
		l.base = binary.LittleEndian.Uint64(b)
	}
	l.base = max(l.base, 1) // 0 is no sequence: a failed Append's
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return fmt.Errorf("wal: listing the directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil || first >= maxSeq {
			l.log.Warn().Str("file", name).Msg("wal: not a segment this log wrote; left alone")
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		if info.Size() == 0 {
			// Created by a process that died before its first record: its
			// name is the next segment's.
			if err := os.Remove(filepath.Join(l.opts.Dir, name)); err != nil {
				return fmt.Errorf("wal: removing an empty segment: %w", err)
			}
			continue
		}
		l.segs = append(l.segs, segment{first: first, path: filepath.Join(l.opts.Dir, name), size: info.Size()})
		l.total += info.Size()
	}
	slices.SortFunc(l.segs, func(a, b segment) int { return cmpUint(a.first, b.first) })
	l.next = l.base
	if n := len(l.segs); n > 0 {
		// Nothing before the oldest segment is left to publish, whatever
		// a damaged ack file said.
		l.base = max(l.base, l.segs[0].first)
		// The last segment's last whole record says where to go on. Its
		// first number is used up even when that record was torn (a kill
		// mid-write): a new segment may not take its name.
		last := l.segs[n-1].first
		l.next = max(l.base, last+1)
		_, err := scan(l.segs[n-1].path, func(r Record) error { l.next = max(l.next, r.Seq+1); return nil })
		if err != nil {
			return err
		}
	}
	if l.next-l.base > maxPending {
		return fmt.Errorf("wal: %s holds records %d to %d, more than any log holds unacknowledged: files another program wrote? (wal.dir)", l.opts.Dir, l.base, l.next)
	}
	l.recoverEnd = l.next
	l.done = make([]bool, l.next-l.base)
	l.persisted = l.base
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Pending returns how many records are not released.
func (l *Log) Pending() int {
	l.amu.Lock()
	defer l.amu.Unlock()
	n := 0
	for _, d := range l.done {
		if !d {
			n++
		}
	}
	return n
}

// Replay calls fn, in order, with every record a previous process left
// unreleased. A record fn takes is released by the caller (Release), as
// any other; a record damaged on disk (the torn tail of a power loss) is
// skipped, released and counted. Replay's error is fn's or the disk's.
func (l *Log) Replay(fn func(Record) error) error {
	l.mu.Lock()
	segs := slices.Clone(l.segs)
	l.mu.Unlock()
	l.amu.Lock()
	want := l.base
	l.amu.Unlock()
	end := l.recoverEnd
	for _, s := range segs {
		if s.first >= end {
			break
		}
		torn, err := scan(s.path, func(r Record) error {
			if r.Seq < want || r.Seq >= end {
				return nil
			}
			for ; want < r.Seq; want++ { // lost to damage
				l.m.damaged.Inc()
				l.Release(want)
			}
			want = r.Seq + 1
			l.m.recovered.Inc()
			return fn(r)
		})
		if err != nil {
			return err
		}
		if torn {
			// Whatever followed the damage is lost: counted here, and by
			// sequence below where a later record shows the gap.
			l.m.damaged.Inc()
			l.log.Error().Str("segment", s.path).Msg("wal: damaged record skipped (a torn write, or the disk); what followed it in the segment is lost")
		}
	}
	for ; want < end; want++ {
		l.m.damaged.Inc()
		l.Release(want)
	}
	return nil
}

// scan reads a segment's records up to its end or its first damaged one;
// torn says it stopped before the end.
func scan(path string, fn func(Record) error) (torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("wal: reading a segment: %w", err)
	}
	defer f.Close()
	var h [headerLen]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(f, h[:]); err != nil {
			return err != io.EOF, nil // the end, or a torn header
		}
		n := binary.LittleEndian.Uint32(h[0:])
		if n < 10 || n > MaxFrame+maxSub+10 {
			return true, nil
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(f, buf); err != nil {
			return true, nil
		}
		crc := crc32.Update(crc32.Checksum(h[8:16], crcTable), crcTable, buf)
		if crc != binary.LittleEndian.Uint32(h[4:]) {
			return true, nil
		}
		r, ok := decode(buf)
		if !ok {
			return true, nil
		}
		r.Seq = binary.LittleEndian.Uint64(h[8:])
		if err := fn(r); err != nil {
			return false, err
		}
	}
}

// A record's body: received (Unix ns, int64), the subscription's length
// (uint16) and name, the frame.
func decode(b []byte) (Record, bool) {
	ns := int64(binary.LittleEndian.Uint64(b))
	sl := int(binary.LittleEndian.Uint16(b[8:]))
	if 10+sl > len(b) {
		return Record{}, false
	}
	return Record{
		Received: time.Unix(0, ns), Subscription: string(b[10 : 10+sl]),
		Frame: slices.Clone(b[10+sl:]),
	}, true
}

// Append writes one frame and returns its sequence, for Release. With
// SyncAlways the record is fsynced first. A failure (ErrFull, a disk
// error) is counted and logged, rate-limited, and the caller keeps the
// frame in memory only: Err says so until an Append succeeds again.
func (l *Log) Append(received time.Time, sub string, frame []byte) (uint64, error) {
	seq, err := l.append(received, sub, frame)
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
	if err != nil {
		reason := "write"
		if errors.Is(err, ErrFull) {
			reason = "full"
		}
		l.m.errors.WithLabelValues(reason).Inc()
		if n, ok := l.errLog.allow(time.Now()); ok {
			l.log.Error().Err(err).Int("events", n).Msg("wal: events not written to the write-ahead log: held in memory only, lost if the process dies before NATS has them")
		}
		return 0, err
	}
	return seq, nil
}

func (l *Log) append(received time.Time, sub string, frame []byte) (uint64, error) {
	if len(frame) > MaxFrame || len(sub) > maxSub {
		return 0, fmt.Errorf("wal: a frame of %d bytes is over the %d-byte record limit", len(frame), MaxFrame)
	}
	size := int64(headerLen + 10 + len(sub) + len(frame))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total+size > l.opts.MaxBytes {
		return 0, fmt.Errorf("%w: %d bytes of unacknowledged frames, wal.max_bytes is %d", ErrFull, l.total, l.opts.MaxBytes)
	}
	if l.f != nil && l.fsize > 0 && l.fsize+size > l.opts.SegmentSize {
		if err := l.closeSegment(); err != nil {
			return 0, err
		}
	}
	if l.f == nil {
		if err := l.openSegment(); err != nil {
			return 0, err
		}
	}
	seq := l.next
	b := l.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(size-headerLen))
	b = binary.LittleEndian.AppendUint32(b, 0) // crc, below
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint64(b, uint64(received.UnixNano()))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(sub)))
	b = append(b, sub...)
	b = append(b, frame...)
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
	if cap(b) <= 1<<20 {
		l.buf = b
	}
	// One write(2) at the segment's end: a partial one is overwritten by
	// the next record, or read back as a torn tail.
	if _, err := l.f.WriteAt(b, l.fsize); err != nil {
		l.abandonSegment()
		return 0, fmt.Errorf("wal: writing a record: %w", err)
	}
	if l.opts.Sync == SyncAlways {
		if err := l.f.Sync(); err != nil {
			// After a failed fsync the page cache cannot be trusted to
			// reach the disk: the record counts as not written, and the
			// caller holds the frame in memory. Its number is used up all
			// the same (released at once): the record may reach the disk
			// after all, and a later record with the same number would be
			// skipped when the log is read back.
			l.abandonSegment()
			l.next++
			l.amu.Lock()
			l.done = append(l.done, true)
			l.amu.Unlock()
			return 0, fmt.Errorf("wal: fsync: %w", err)
		}
	} else {
		l.dirty = true
	}
	l.fsize += size
	l.total += size
	l.segs[len(l.segs)-1].size = l.fsize
	l.next++
	l.amu.Lock()
	l.done = append(l.done, false)
	l.amu.Unlock()
	return seq, nil
}

func (l *Log) openSegment() error {
	path := filepath.Join(l.opts.Dir, fmt.Sprintf("%s%020d%s", segPrefix, l.next, segSuffix))
	// Never write to a file this process did not create.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wal: creating a segment: %w", err)
	}
	if err := syncDir(l.opts.Dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	l.f, l.fsize = f, 0
	l.segs = append(l.segs, segment{first: l.next, path: path})
	return nil
}

func (l *Log) closeSegment() error {
	f := l.f
	l.f = nil
	err := f.Sync()
	l.dirty = false
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: closing a segment: %w", err)
	}
	return nil
}

// abandonSegment gives up on the segment after a write or fsync error:
// the next Append starts a new one (a disk that was full may have room
// by then). An empty segment is removed.
func (l *Log) abandonSegment() {
	f := l.f
	l.f = nil
	f.Close()
	if l.fsize == 0 {
		os.Remove(f.Name())
		l.segs = l.segs[:len(l.segs)-1]
		return
	}
	// The partial write after the last record is damage past the end.
	l.segs[len(l.segs)-1].size = l.fsize
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: fsync of the directory: %w", err)
	}
	return nil
}

// Release marks seq done: acknowledged by NATS, or settled otherwise (a
// refusal counted as dropped). Sequence 0, a failed Append's, is
// ignored, as is one already released.
func (l *Log) Release(seq uint64) {
	l.amu.Lock()
	defer l.amu.Unlock()
	if seq < l.base || seq-l.base >= uint64(len(l.done)) {
		return
	}
	l.done[seq-l.base] = true
	k := 0
	for k < len(l.done) && l.done[k] {
		k++
	}
	if k > 0 {
		l.base += uint64(k)
		l.done = l.done[k:]
		if len(l.done) == 0 {
			l.done = l.done[:0:0]
		}
	}
}

// Err returns the last Append's error, nil once one succeeds again: for
// a readiness check.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Bytes returns the size of the segment files.
func (l *Log) Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// background fsyncs (SyncInterval), saves the ack position and deletes
// released segments, every SyncInterval.
func (l *Log) background() {
	defer close(l.stopped)
	t := time.NewTicker(l.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.checkpoint()
		}
	}
}

// checkpoint makes what was written durable, then saves the ack position
// and deletes the segments wholly below it.
func (l *Log) checkpoint() {
	l.mu.Lock()
	f, dirty := l.f, l.dirty
	l.dirty = false
	l.mu.Unlock()
	if dirty && f != nil {
		start := time.Now()
		// Outside the lock: a slow disk must not hold up Append. A segment
		// closed meanwhile was fsynced by closeSegment.
		if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			l.m.errors.WithLabelValues("sync").Inc()
			l.log.Error().Err(err).Msg("wal: fsync failed; a power loss could take the records since the last one")
		}
		l.m.syncSeconds.Observe(time.Since(start).Seconds())
	}
	l.amu.Lock()
	base := l.base
	l.amu.Unlock()
	if base == l.persisted {
		return
	}
	if err := l.saveAck(base); err != nil {
		l.m.errors.WithLabelValues("ack").Inc()
		l.log.Error().Err(err).Msg("wal: saving the acknowledged position failed; a restart would publish more again")
		return
	}
	l.persisted = base
	l.trim(base)
}

func (l *Log) saveAck(base uint64) error {
	var b [ackFileLen]byte
	binary.LittleEndian.PutUint64(b[:], base)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], crcTable))
	tmp := filepath.Join(l.opts.Dir, ackFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	_, err = f.Write(b[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(l.opts.Dir, ackFile))
	}
	if err != nil {
		return fmt.Errorf("wal: saving the ack position: %w", err)
	}
	return nil
}

// trim deletes the segments whose records are all below base: every
// segment but the one being written, up to the first that reaches base.
func (l *Log) trim(base uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.segs) > 0 {
		s := l.segs[0]
		var end uint64 // first sequence after s
		switch {
		case len(l.segs) > 1:
			end = l.segs[1].first
		case l.f == nil:
			end = l.next
		default:
			return // being written
		}
		if end > base {
			return
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Error().Err(err).Str("segment", s.path).Msg("wal: removing a released segment failed")
			return
		}
		l.total -= s.size
		l.segs = l.segs[1:]
	}
}

// Close fsyncs, saves the ack position, removes released segments and
// gives up the lock. What is not released stays for the next Open.
func (l *Log) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.stop)
		<-l.stopped
		l.mu.Lock()
		if l.f != nil {
			err = l.closeSegment()
		}
		l.mu.Unlock()
		l.checkpoint()
		l.lock.Close()
	})
	return err
}

// logLimit lets one log line a second through, with the count since the
// last one.
type logLimit struct {
	mu     sync.Mutex
	last   time.Time
	unsaid int
}

func (g *logLimit) allow(now time.Time) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unsaid++
	if now.Sub(g.last) < time.Second {
		return 0, false
	}
	n := g.unsaid
	g.last, g.unsaid = now, 0
	return n, true
}
