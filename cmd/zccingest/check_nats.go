package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/ingest/zoomws"
)

// checkNATS connects once to an outside NATS server and reports what would
// stop run or lose events there; it returns the number of problems. Limits
// below the largest frame are warnings: such an event is still counted and
// its headers published, and most deployments never see one.
func checkNATS(ctx context.Context, c config.NATS, stdout io.Writer) int {
	if c.URL == "" {
		if err := writableDir(c.Embedded.StoreDir); err != nil {
			fmt.Fprintf(stdout, "nats: FAIL: nats.embedded.store_dir: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "nats: embedded server on %s, started by run; store_dir %s writable\n", c.Embedded.Listen, c.Embedded.StoreDir)
		return 0
	}
	nc, err := natsout.DialOnce(natsOptions(c, "zccingest check", zerolog.Nop()))
	if err != nil {
		fmt.Fprintf(stdout, "nats: FAIL: %v\n", err)
		return 1
	}
	defer nc.Close()
	fmt.Fprintf(stdout, "nats: ok, %s (server %s)\n", nc.ConnectedUrlRedacted(), nc.ConnectedServerVersion())
	if mp := nc.MaxPayload(); mp < natsout.MaxFrameMessage {
		fmt.Fprintf(stdout, "nats: warning: max_payload is %s; an event larger than that is published as headers only (Zoom frames are read up to %s)\n",
			size(mp), size(zoomws.ReadLimit))
	}
	name := c.StreamName()
	if name == "" {
		fmt.Fprintln(stdout, "nats: core NATS (no stream configured)")
		return 0
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(stdout, "nats: FAIL: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		fmt.Fprintf(stdout, "nats: FAIL: JetStream, which nats.stream needs: %v\n", err)
		return 1
	}
	st, err := js.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		fmt.Fprintf(stdout, "stream %s: missing; run creates it\n", name)
		return 0
	case err != nil:
		fmt.Fprintf(stdout, "stream %s: FAIL: %v\n", name, err)
		return 1
	}
	have := st.CachedInfo().Config
	if _, changes := natsout.StreamUpdate(have, natsOptions(c, "", zerolog.Nop())); len(changes) > 0 {
		fmt.Fprintf(stdout, "stream %s: ok; run will %s\n", name, strings.Join(changes, " and "))
	} else {
		fmt.Fprintf(stdout, "stream %s: ok\n", name)
	}
	if have.MaxMsgSize > 0 && int64(have.MaxMsgSize) < natsout.MaxFrameMessage {
		fmt.Fprintf(stdout, "stream %s: warning: max_msg_size is %s; a larger event is published as headers only\n", name, size(int64(have.MaxMsgSize)))
	}
	if natsout.Unbounded(have) {
		fmt.Fprintf(stdout, "stream %s: warning: no max_age, max_bytes or max_msgs: it keeps everything until the disk is full, and then NATS refuses every event\n", name)
	}
	return 0
}

// writableDir makes dir if need be and writes a file in it, as JetStream's
// file store will.
func writableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".zccingest-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
