package sim

import (
	"math/rand/v2"
	"slices"
	"sync"
)

// Shuffled is a Source that delivers another's events out of order, as
// Zoom, which promises no order, may: it holds a window of events and
// hands out a random one of them each time, so that an event comes up to
// window-1 places early or late, its event_ts as its source stamped it.
type Shuffled struct {
	src    Source
	window int
	rnd    *rand.Rand

	mu      sync.Mutex
	held    []shuffled
	seq     int
	emitted []shuffled
}

type shuffled struct {
	seq int
	ev  []byte
}

// Shuffle wraps src with a window of window events (at least 1: in order);
// seed makes the order repeatable.
func Shuffle(src Source, window int, seed uint64) *Shuffled {
	return &Shuffled{src: src, window: max(window, 1), rnd: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))}
}

// Next returns a random one of the held events, after topping the window
// up from the source. At the source's end the held events drain, then
// io.EOF.
func (s *Shuffled) Next() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.held) < s.window {
		ev, err := s.src.Next()
		if err != nil {
			if len(s.held) == 0 {
				return nil, err
			}
			break
		}
		s.held = append(s.held, shuffled{s.seq, ev})
		s.seq++
	}
	i := s.rnd.IntN(len(s.held))
	e := s.held[i]
	s.held[i] = s.held[len(s.held)-1]
	s.held = s.held[:len(s.held)-1]
	s.emitted = append(s.emitted, e)
	return e.ev, nil
}

// Emitted returns the events handed out so far in the order the source
// made them: what a test folds to know the state they lead to.
func (s *Shuffled) Emitted() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	byGen := slices.Clone(s.emitted)
	slices.SortFunc(byGen, func(a, b shuffled) int { return a.seq - b.seq })
	out := make([][]byte, len(byGen))
	for i, e := range byGen {
		out[i] = e.ev
	}
	return out
}

// OutOfOrder counts the events handed out before one the source made
// earlier.
func (s *Shuffled) OutOfOrder() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, highest := 0, -1
	for _, e := range s.emitted {
		if e.seq < highest {
			n++
		}
		highest = max(highest, e.seq)
	}
	return n
}
