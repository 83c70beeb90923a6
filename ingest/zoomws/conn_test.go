package zoomws

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for n := 1; n <= 20; n++ {
		d := backoff(n)
		ceiling := min(100*time.Millisecond<<min(n-1, 12), 30*time.Second)
		if d < ceiling/2 || d > ceiling {
			t.Errorf("backoff(%d) = %s, want within [%s, %s]", n, d, ceiling/2, ceiling)
		}
	}
}
