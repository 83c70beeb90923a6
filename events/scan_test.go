package events

import (
	"bytes"
	"encoding/json"
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
		ok, compact := topObject(b, func(s *scanner, k []byte, at int) int {
			end := s.value(at)
			if end >= 0 {
				got = append(got, member{string(k), string(b[at:end])})
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
		if isCompact := bytes.Equal(c.Bytes(), b); compact != isCompact {
			t.Fatalf("topObject says compact %v, json.Compact %v: %q", compact, isCompact, b)
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
				if string(u) != s || end != len(raw) {
					t.Fatalf("decodeString(%s) = %q, %d; encoding/json says %q, %d", raw, u, end, s, len(raw))
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
		if ok, _ := topObject(b, nil); ok != tc.ok {
			t.Errorf("depth %d: valid %v, want %v", tc.depth, ok, tc.ok)
		}
		if ok := json.Valid(b); ok != tc.ok {
			t.Errorf("depth %d: encoding/json says %v; maxDepth no longer matches it", tc.depth, ok)
		}
	}
	// A frame of nothing but '[' fails cleanly instead of exhausting the stack.
	if ok, _ := topObject([]byte(`{"a":`+strings.Repeat("[", 16<<20)), nil); ok {
		t.Error("16 MiB of '[' accepted")
	}
}

func TestNextSpecial(t *testing.T) {
	// Every position, every special byte, and the bytes around the bounds
	// that a word-at-a-time test could confuse with them.
	for _, c := range []byte{'"', '\\', 0x00, 0x1f} {
		for n := range 20 {
			for pos := 0; pos <= n; pos++ {
				b := bytes.Repeat([]byte{' '}, n)
				for i := range b {
					b[i] = []byte{0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff, 'a'}[i%8]
				}
				want := n
				if pos < n {
					b[pos] = c
					want = pos
				}
				if got := nextSpecial(b, 0); got != want {
					t.Fatalf("nextSpecial(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}
