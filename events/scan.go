package events

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder's hot path: one pass over the input that both validates the
// JSON and hands its members to the caller. It accepts exactly what
// encoding/json accepts (FuzzScan checks), except that it leaves UTF-8 to
// the caller, who checks a whole frame at once with utf8.Valid. Separate
// validate-then-walk passes cost more than all the rest of a decode.

// maxDepth is encoding/json's nesting limit. Without one, a 16 MiB frame of
// '[' would recurse until the stack gave out.
const maxDepth = 10000

// A scanner walks one JSON text. Its methods take the index where a value
// starts and return the index after it, or -1 if the input is not valid
// JSON there.
type scanner struct {
	b     []byte
	depth int
	space bool // white space seen between tokens
}

// topObject validates that b is one JSON object, white space aside, calling
// fn for each of its members (see object). It reports whether b was valid
// and whether it was compact (no white space between tokens).
func topObject(b []byte, fn func(s *scanner, key []byte, at int) int) (ok, compact bool) {
	s := scanner{b: b}
	i := s.skip(0)
	if i >= len(b) || b[i] != '{' {
		return false, false
	}
	i = s.object(i, fn)
	if i < 0 || s.skip(i) != len(b) {
		return false, false
	}
	return true, !s.space
}

// object scans the object starting at b[i]. For each member it calls fn
// with the key's raw literal and the index where the value starts; fn scans
// the value, usually with s.value, and returns where it ends. A nil fn
// just validates.
func (s *scanner) object(i int, fn func(s *scanner, key []byte, at int) int) int {
	if s.depth++; s.depth > maxDepth {
		return -1
	}
	b := s.b
	i = s.skip(i + 1)
	if i < len(b) && b[i] == '}' {
		s.depth--
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		kEnd := stringEnd(b, i)
		if kEnd < 0 {
			return -1
		}
		j := s.skip(kEnd)
		if j >= len(b) || b[j] != ':' {
			return -1
		}
		j = s.skip(j + 1)
		if fn != nil {
			j = fn(s, b[i:kEnd], j)
		} else {
			j = s.value(j)
		}
		if j < 0 {
			return -1
		}
		i = s.skip(j)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = s.skip(i + 1)
		case '}':
			s.depth--
			return i + 1
		default:
			return -1
		}
	}
}

func (s *scanner) array(i int) int {
	if s.depth++; s.depth > maxDepth {
		return -1
	}
	b := s.b
	i = s.skip(i + 1)
	if i < len(b) && b[i] == ']' {
		s.depth--
		return i + 1
	}
	for {
		if i = s.value(i); i < 0 {
			return -1
		}
		i = s.skip(i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = s.skip(i + 1)
		case ']':
			s.depth--
			return i + 1
		default:
			return -1
		}
	}
}

// value scans any JSON value starting at b[i].
func (s *scanner) value(i int) int {
	b := s.b
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		return stringEnd(b, i)
	case '{':
		return s.object(i, nil)
	case '[':
		return s.array(i)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return number(b, i)
		}
		return -1
	}
}

// skip returns the index of the first byte at or after i that is not
// white space. Compact JSON, Zoom's, takes only the inlined first test.
func (s *scanner) skip(i int) int {
	if i < len(s.b) && s.b[i] > ' ' {
		return i
	}
	return s.skipSlow(i)
}

func (s *scanner) skipSlow(i int) int {
	for ; i < len(s.b); i++ {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			s.space = true
		default:
			return i
		}
	}
	return i
}

func literal(b []byte, i int, lit string) int {
	if !bytes.HasPrefix(b[i:], []byte(lit)) {
		return -1
	}
	return i + len(lit)
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// stringEnd scans the string literal starting at b[i] and returns the index
// after its closing quote, or -1: a control character or a bad escape.
func stringEnd(b []byte, i int) int {
	for i++; ; {
		i = nextSpecial(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return -1
			}
			i += n
		default:
			return -1
		}
	}
}

// escapeLen returns the length of the escape sequence at the start of e,
// or 0 if it is not one JSON allows.
func escapeLen(e []byte) int {
	if len(e) < 2 {
		return 0
	}
	switch e[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(e) < 6 {
			return 0
		}
		for _, c := range e[2:6] {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// nextSpecial returns the index of the first byte at or after i that ends
// a run of plain string bytes: a quote, a backslash or a control character.
// It tests eight bytes at a time: in each 64-bit word, the borrow of a
// subtraction sets the high bit of every byte below the bound, and the
// lowest such bit is always exact.
func nextSpecial(b []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		m := ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)
		if m &= highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

// unquote decodes a valid JSON string literal into a new slice.
func unquote(lit []byte) []byte {
	out, _ := decodeString(make([]byte, 0, len(lit)-2), lit, 0)
	return out
}

// decodeString scans the string literal starting at b[i] as stringEnd does
// and appends what it holds to dst, in the same pass. Runs without escapes
// are copied whole; a lone surrogate becomes U+FFFD, as in encoding/json.
func decodeString(dst, b []byte, i int) ([]byte, int) {
	for i++; ; {
		j := nextSpecial(b, i)
		dst = append(dst, b[i:j]...)
		if j >= len(b) || b[j] < 0x20 {
			return dst, -1
		}
		if b[j] == '"' {
			return dst, j + 1
		}
		n := escapeLen(b[j:])
		if n == 0 {
			return dst, -1
		}
		i = j + n
		switch c := b[j+1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(b[j+2:]))
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if escapeLen(b[i:]) == 6 && b[i] == '\\' { // a \u escape: 6 is no other's length
					if dec := utf16.DecodeRune(r, rune(hex4(b[i+2:]))); dec != utf8.RuneError {
						r2 = dec
						i += 6
					}
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		v = v<<4 | int(c)
	}
	return v
}

// keyIs reports whether the raw key literal names name.
func keyIs(key []byte, name string) bool {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	return string(unquote(key)) == name
}
