package sim_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/zccingest/zccingest/test/sim"
)

type counter struct{ i, n int }

func (c *counter) Next() ([]byte, error) {
	if c.i == c.n {
		return nil, io.EOF
	}
	c.i++
	return fmt.Appendf(nil, "%d", c.i), nil
}

func TestShuffle(t *testing.T) {
	s := sim.Shuffle(&counter{n: 200}, 8, 1)
	var got []string
	for {
		ev, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(ev))
	}
	if len(got) != 200 {
		t.Fatalf("%d events, want 200", len(got))
	}
	var want []string
	for i := 1; i <= 200; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if slices.Equal(got, want) || s.OutOfOrder() == 0 {
		t.Fatal("not shuffled")
	}
	var emitted []string
	for _, ev := range s.Emitted() {
		emitted = append(emitted, string(ev))
	}
	if !slices.Equal(emitted, want) {
		t.Fatalf("Emitted not in the source's order: %v", emitted[:10])
	}
	// Never more than window-1 places early.
	for i, ev := range got {
		var n int
		fmt.Sscan(ev, &n)
		if n-1 > i+7 {
			t.Fatalf("event %d handed out at %d: more than the window early", n, i)
		}
	}
	in := sim.Shuffle(&counter{n: 20}, 1, 1)
	for i := 1; i <= 20; i++ {
		if ev, _ := in.Next(); string(ev) != fmt.Sprint(i) {
			t.Fatalf("a window of 1 reordered: %s at %d", ev, i)
		}
	}
}
