package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest"
	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsauth"
	"github.com/zccingest/zccingest/ingest/natsout"
)

// cmdReplay publishes captured frames through the decode and publish path
// of run: same subjects, headers, keys and bodies (received_at is the
// capture's time).
func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	cf := addClientFlags(fs, natsauth.Publisher)
	stream := fs.String("stream", config.DefaultStream, "JetStream `stream` when no --config is given (\"\" for core NATS)")
	account := fs.String("account", "", "Zoom `account` id for events that carry none (voice_rtms_*), as run takes it from zoom.account_id;\nwith --config, that key's value is the default")
	speed := fs.Float64("speed", 0, "pace: 0 as fast as possible, 1 as recorded, 10 ten times faster")
	skipBad := fs.Bool("skip-bad", false, "pass over every damaged line (counted); without it only a damaged last line,\nwhich a killed writer leaves, is passed over, and any other makes the exit status 1")
	stall := fs.Duration("stall-timeout", 30*time.Second, "give up when NATS acknowledges nothing for this `long` while events wait")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: zccingest replay [flags] FILE...\n\nPublishes captured frames (capture.dir journals) to NATS as run would.")
		fs.PrintDefaults()
	}
	if done, rc := parseFlags(fs, args, stderr); done {
		return rc
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return exitConfig
	}
	section, fileCfg, rc := cf.natsSection(natsauth.Publisher, stderr)
	if rc != exitOK {
		return rc
	}
	cfg := &config.Config{NATS: section, Log: config.Log{Level: "warn", Format: "console"}}
	if fileCfg != nil {
		cfg = fileCfg
		cfg.NATS = section
		cfg.Capture.Dir = "" // replay journals nothing
	} else {
		cfg.NATS.Stream = stream
	}
	if *account != "" {
		cfg.Zoom.AccountID = *account
	}
	skips := &skipped{all: *skipBad, w: stderr}
	subs, total, err := scanCaptures(files)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest replay: %v\n", err)
		return exitFail
	}
	// The subscriptions the frames arrived on: with two or more, a 1+1
	// pair's copies are de-duplicated as run does.
	cfg.Subscriptions = nil
	for _, s := range subs {
		cfg.Subscriptions = append(cfg.Subscriptions, config.Subscription{Name: s})
	}
	log := newLogger(cfg.Log, stderr)
	nopts := natsOptions(cfg.NATS, "zccingest-replay", log)
	nopts.FailFast = true // no live socket to hold events for: NATS must answer
	n, err := natsout.Connect(ctx, nopts)
	if err != nil {
		fmt.Fprintf(stderr, "zccingest replay: %v; none of %d frames published\n", err, total)
		return exitFail
	}
	defer n.Close()
	in, err := ingest.New(ingestOptions(cfg, n, log))
	if err != nil {
		fmt.Fprintf(stderr, "zccingest replay: %v\n", err)
		return exitFail
	}
	in.Start()
	// Backpressure waits for NATS, but not for ever: with nothing
	// acknowledged for --stall-timeout, the hand-off and the drain give up.
	stallCtx, stalled := context.WithCancelCause(context.Background())
	defer stalled(nil)
	go watchStall(stallCtx, in, *stall, stalled)
	handCtx, cancelHand := context.WithCancel(ctx)
	defer cancelHand()
	defer context.AfterFunc(stallCtx, cancelHand)()
	sum := replaySummary{families: map[events.Family]int{}}
	progress := newProgress(stderr, total)
	start := time.Now()
	err = replayFiles(handCtx, files, *speed, skips, func(rec capture.Record) error {
		frame := []byte(rec.Frame)
		// Backpressure: a full buffer waits for NATS, it does not drop.
		out, err := in.HandleWait(handCtx, rec.Subscription, frame, rec.At)
		if err != nil {
			return err
		}
		sum.add(out, frame)
		progress.update(sum.frames)
		return nil
	})
	progress.done()
	derr := in.Drain(stallCtx)
	if err == nil || derr != nil {
		err = derr
	}
	sum.elapsed = time.Since(start)
	sum.dropped = int(in.Dropped())
	sum.print(stdout)
	fmt.Fprintf(stdout, "skipped    %d damaged lines\n", skips.n)
	if err == nil && skips.unasked > 0 {
		err = fmt.Errorf("%d damaged lines that are not a file's last were passed over; rerun with --skip-bad to accept that", skips.unasked)
	}
	if cause := context.Cause(stallCtx); cause != context.Canceled && cause != nil {
		fmt.Fprintf(stderr, "zccingest replay: %v; %d of %d frames read\n", cause, sum.frames, total)
	}
	if err != nil {
		fmt.Fprintf(stderr, "zccingest replay: %v\n", err)
		return exitFail
	}
	if sum.dropped > 0 {
		fmt.Fprintf(stderr, "zccingest replay: %d events dropped (zccingest_dropped_total); see the log for why\n", sum.dropped)
		return exitFail
	}
	return exitOK
}

// watchStall calls stalled when events wait and the ingester's
// acknowledged count has not moved for d.
func watchStall(ctx context.Context, in *ingest.Ingester, d time.Duration, stalled context.CancelCauseFunc) {
	t := time.NewTicker(max(d/10, 10*time.Millisecond))
	defer t.Stop()
	last, since := in.Published(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p := in.Published(); p != last || in.Pending() == 0 {
			last, since = p, time.Now()
			continue
		}
		if time.Since(since) >= d {
			stalled(fmt.Errorf("NATS acknowledged nothing for %s (--stall-timeout)", d))
			return
		}
	}
}

// scanCaptures counts the records and names the subscriptions, so that the
// progress bar knows the total before the first frame is published.
func scanCaptures(files []string) (subs []string, total int, err error) {
	for _, name := range files {
		err := eachRecord(name, nil, func(rec capture.Record) {
			total++
			if !slices.Contains(subs, rec.Subscription) {
				subs = append(subs, rec.Subscription)
			}
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return subs, total, nil
}

// skipped decides about damaged lines and counts them.
type skipped struct {
	all        bool // --skip-bad
	w          io.Writer
	n, unasked int
}

// skip passes over le with a warning; a damaged line that is not a file's
// last is counted as unasked unless --skip-bad was given.
func (s *skipped) skip(le *capture.LineError) {
	s.n++
	if !le.Last && !s.all {
		s.unasked++
	}
	fmt.Fprintf(s.w, "zccingest replay: warning: %v; passed over\n", le)
}

// eachRecord calls fn for every record of the file. A damaged line goes to
// skips (nil: passed over without a word, for a first counting pass).
func eachRecord(name string, skips *skipped, fn func(capture.Record)) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	r := capture.NewReader(bufio.NewReaderSize(f, 1<<20), name)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *capture.LineError
		if errors.As(err, &le) {
			if skips != nil {
				skips.skip(le)
			}
			continue
		}
		if err != nil {
			return err
		}
		fn(rec)
	}
}

// replayFiles calls fn for every record, at the recorded pace divided by
// speed (0: no waiting).
func replayFiles(ctx context.Context, files []string, speed float64, skips *skipped, fn func(capture.Record) error) error {
	var first time.Time
	start := time.Now()
	for _, name := range files {
		var werr error
		err := eachRecord(name, skips, func(rec capture.Record) {
			if werr != nil {
				return
			}
			if first.IsZero() {
				first = rec.At
			}
			if speed > 0 {
				if d := time.Until(start.Add(time.Duration(float64(rec.At.Sub(first)) / speed))); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						werr = ctx.Err()
						return
					}
				}
			}
			if ctx.Err() != nil {
				werr = ctx.Err()
				return
			}
			werr = fn(rec)
		})
		if err == nil {
			err = werr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type replaySummary struct {
	frames, invalid, unknown, control, duplicates, dropped int
	families                                               map[events.Family]int
	elapsed                                                time.Duration
}

func (s *replaySummary) add(out ingest.Outcome, frame []byte) {
	s.frames++
	switch out {
	case ingest.Invalid:
		s.invalid++
	case ingest.Control:
		s.control++
	case ingest.Duplicate:
		s.duplicates++
	case ingest.Published:
		f, _ := events.ParseFrame(frame)
		if ev, err := f.Event(); err == nil {
			s.families[ev.Family()]++
			if !ev.Known() {
				s.unknown++
			}
		}
	}
}

func (s *replaySummary) print(w io.Writer) {
	fmt.Fprintf(w, "frames     %d in %s (%.0f/s)\n", s.frames, s.elapsed.Round(time.Millisecond), float64(s.frames)/max(s.elapsed.Seconds(), 1e-9))
	fams := make([]string, 0, len(s.families))
	for f := range s.families {
		fams = append(fams, string(f))
	}
	slices.Sort(fams)
	for _, f := range fams {
		fmt.Fprintf(w, "  %-12s %d\n", f, s.families[events.Family(f)])
	}
	fmt.Fprintf(w, "unknown    %d\ninvalid    %d\ncontrol    %d (build_connection, heartbeat)\nduplicates %d\ndropped    %d\n",
		s.unknown, s.invalid, s.control, s.duplicates, s.dropped)
}

// progress draws a bar on a terminal, and nothing otherwise.
type progress struct {
	w     io.Writer
	total int
	on    bool
	last  time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, on: isTerminal(w)}
}

func (p *progress) update(n int) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond && n < p.total {
		return
	}
	p.last = time.Now()
	const width = 40
	done := width * n / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d frames", strings.Repeat("#", done), strings.Repeat(" ", width-done), n, p.total)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
