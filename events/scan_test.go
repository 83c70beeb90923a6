package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScan checks the hot path's scanner against encoding/json on whatever
// input the fuzzer finds: the same verdict on validity, and for a valid
// object the same members, raw values and decoded strings.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"f":null,"g":true}`,
		`{ "k\u00e9y" : "\ud83d\ude00 \ud800 \\ \/ \b\f\n\r\t" , "n":-1.5e3 }`,
		`{}`, `{"a":[]}`, `{"a":[ ]}`, `[1]`, `"x"`, `{"a":01}`, `{"a":1.}`, `{"a":-}`,
		`{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12g4"}`, "{\"a\":\"\t\"}", `{"a":1,}`,
		`{"a" 1}`, `{"a":1}}`, `{"a":[1,]}`, `{"a":1.5E+3}`, `{"a":"12345678\"12345678"}`,
		" {\"content\":\"{\\\"event\\\":\\\"x\\\"}\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // the decoder checks UTF-8 before it scans
		}
		type member struct{ key, raw string }
		var got []member
		s := scanner{b: b}
		ok := s.topObject(func(k []byte, at int) int {
			end := s.value(at)
			if end >= 0 {
				got = append(got, member{string(k), string(b[at:end])})
			}
			if at < len(b) && b[at] == '"' {
				// As ParseFrame calls it: in the middle of the input,
				// appending to what dst holds.
				out, dEnd := decodeString([]byte("dst"), b, at)
				if dEnd != end || end >= 0 && string(out) != "dst"+string(unquote(b[at:end])) {
					t.Fatalf("decodeString at %d = %q, %d; scanning says it ends at %d: %q", at, out, dEnd, end, b)
				}
			}
			return end
		})
		trimmed := bytes.TrimLeft(b, " \t\r\n")
		want := json.Valid(b) && len(trimmed) > 0 && trimmed[0] == '{'
		if ok != want {
			t.Fatalf("topObject says valid object %v, encoding/json %v: %q", ok, want, b)
		}
		if !ok {
			return
		}
		var c bytes.Buffer
		json.Compact(&c, b)
		if isCompact := bytes.Equal(c.Bytes(), b); s.space == isCompact {
			t.Fatalf("topObject says white space %v, json.Compact compact %v: %q", s.space, isCompact, b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.Token() // '{'
		for i := 0; dec.More(); i++ {
			k, _ := dec.Token()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if i >= len(got) {
				t.Fatalf("topObject found %d members, encoding/json more: %q", len(got), b)
			}
			if u := string(unquote([]byte(got[i].key))); u != k {
				t.Fatalf("unquote(%s) = %q, encoding/json says %q", got[i].key, u, k)
			}
			if got[i].raw != string(raw) {
				t.Fatalf("member %d = %q, encoding/json says %q", i, got[i].raw, raw)
			}
			if raw[0] == '"' {
				var s string
				json.Unmarshal(raw, &s)
				u, end := decodeString(nil, raw, 0)
				if string(u) != s || end != len(raw) || unquoteString(raw) != s {
					t.Fatalf("decodeString(%s) = %q, %d, unquoteString %q; encoding/json says %q, %d", raw, u, end, unquoteString(raw), s, len(raw))
				}
			}
		}
	})
}

func TestScanDepth(t *testing.T) {
	for _, tc := range []struct {
		depth int
		ok    bool
	}{{maxDepth, true}, {maxDepth + 1, false}} {
		// The object itself is one level.
		inner := tc.depth - 1
		b := []byte(`{"a":` + strings.Repeat("[", inner) + strings.Repeat("]", inner) + `}`)
		if ok := (&scanner{b: b}).topObject(nil); ok != tc.ok {
			t.Errorf("depth %d: valid %v, want %v", tc.depth, ok, tc.ok)
		}
		if ok := json.Valid(b); ok != tc.ok {
			t.Errorf("depth %d: encoding/json says %v; maxDepth no longer matches it", tc.depth, ok)
		}
	}
	// A frame of nothing but '[' fails cleanly instead of exhausting the stack.
	if (&scanner{b: []byte(`{"a":` + strings.Repeat("[", 16<<20))}).topObject(nil) {
		t.Error("16 MiB of '[' accepted")
	}
}

func TestSpecials(t *testing.T) {
	// Every position of every special byte, among the bytes around the
	// bounds that a word-at-a-time test could confuse with them, before
	// and after other special bytes.
	fill := []byte{0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 'a', 0x22, 0x5c, 0x00, 0x1f}
	for _, c := range []byte{'"', '\\', 0x00, 0x1f} {
		for off := range fill {
			for pos := range 8 {
				var w [8]byte
				for i := range w {
					w[i] = fill[(off+i)%len(fill)]
				}
				w[pos] = c
				want := pos
				for i := range pos {
					if special(w[i]) {
						want = i
						break
					}
				}
				x := binary.LittleEndian.Uint64(w[:])
				if got := bits.TrailingZeros64(specials(x)) / 8; got != want {
					t.Fatalf("specials(% x): first at %d, want %d", w, got, want)
				}
			}
		}
	}
	// Every byte value in every position of a plain word.
	for c := range 256 {
		for pos := range 8 {
			w := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
			w[pos] = byte(c)
			m := specials(binary.LittleEndian.Uint64(w[:]))
			want := uint64(0)
			if special(byte(c)) {
				want = 0x80 << (8 * pos)
			}
			if m != want {
				t.Fatalf("specials(% x) = %#x, want %#x", w, m, want)
			}
		}
	}
}
