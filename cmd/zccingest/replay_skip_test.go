package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/test/sim"
	"github.com/zccingest/zccingest/test/testnats"
)

// captureLines returns n journal lines of generated events.
func captureLines(t *testing.T, seed uint64, n int) []string {
	t.Helper()
	g := sim.NewGenerator(seed, "SimAccount0000000000000", 3)
	var lines []string
	for i := range n {
		ev, _ := g.Next()
		b, err := json.Marshal(capture.Record{At: time.Unix(1_800_000_000, int64(i)), Subscription: "ris-a", Frame: string(sim.MessageFrame(ev))})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	return lines
}

// A writer killed mid-line leaves half a last line: replay publishes the
// rest and exits 0, saying what it passed over. A damaged line elsewhere
// is passed over too, but makes the exit status 1 unless --skip-bad said
// it may.
func TestReplayDamagedLines(t *testing.T) {
	dir := t.TempDir()
	lines := captureLines(t, 7, 10)
	killed := filepath.Join(dir, "killed.ndjson")
	os.WriteFile(killed, []byte(strings.Join(lines[:5], "\n")+"\n"+lines[5][:40]), 0o640)
	middle := filepath.Join(dir, "middle.ndjson")
	os.WriteFile(middle, []byte(strings.Join(lines[6:8], "\n")+"\n{broken\n"+strings.Join(lines[8:], "\n")+"\n"), 0o640)

	for _, tc := range []struct {
		name  string
		args  []string
		files []string
		code  int
		want  []string
	}{
		{"half last line", nil, []string{killed}, exitOK, []string{"skipped    1 damaged lines"}},
		{"damaged middle line", nil, []string{killed, middle}, exitFail, []string{"skipped    2 damaged lines", "rerun with --skip-bad"}},
		{"damaged middle line, --skip-bad", []string{"--skip-bad"}, []string{killed, middle}, exitOK, []string{"skipped    2 damaged lines"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testnats.Start(t, testnats.Options{})
			var out, errs bytes.Buffer
			args := append(append([]string{"replay", "--nats", ns.ClientURL()}, tc.args...), tc.files...)
			code := run(t.Context(), args, &out, &errs)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errs.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String()+errs.String(), w) {
					t.Errorf("output lacks %q:\n%s%s", w, out.String(), errs.String())
				}
			}
			published := 5
			if len(tc.files) == 2 {
				published = 9
			}
			if !strings.Contains(out.String(), fmt.Sprintf("frames     %d ", published)) {
				t.Errorf("want %d frames replayed:\n%s", published, out.String())
			}
		})
	}
}
