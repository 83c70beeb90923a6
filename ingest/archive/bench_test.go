package archive_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/test/sim"
)

// peakRSS is the process's peak resident set (VmHWM), in MiB.
func peakRSS(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Skip("no VmHWM")
	return 0
}

// BenchmarkStoreLargeFile streams one file of ZCC_ARCHIVE_BENCH_SIZE bytes
// (default 64 MiB; set 1073741824 for the 1 GiB figure) from the simulator
// into the Object Store and reports the process's peak RSS, simulator and
// NATS server included: it must not grow with the file.
//
//	ZCC_ARCHIVE_BENCH_SIZE=1073741824 go test -run '^$' -bench StoreLargeFile -benchtime 1x ./ingest/archive/
func BenchmarkStoreLargeFile(b *testing.B) {
	size := int64(64 << 20)
	if v := os.Getenv("ZCC_ARCHIVE_BENCH_SIZE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		h := newHarness(b)
		h.sim.AddArchiveFile(sim.ArchiveFile{MeetingUUID: "big", ID: "big-" + strconv.Itoa(i), Size: size, CompleteTime: time.Now().UTC().Add(-time.Hour)})
		p := h.poller(h.options())
		ctx := timeout(b, 30*time.Minute)
		b.StartTimer()
		if err := p.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(size)
	b.ReportMetric(peakRSS(b), "peak_rss_MiB")
}
