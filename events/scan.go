package events

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
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
	// ids, when set, receives the string values of the members
	// engagement_id, user_id and id of objects at depth idsDepth.
	ids      *eventIDs
	idsDepth int
}

// eventIDs are the raw string literals of an object's engagement_id,
// user_id and id.
type eventIDs struct{ engagement, user, id []byte }

// note keeps the raw value v of member k if it is one of the ids.
func (ids *eventIDs) note(k, v []byte) {
	if len(v) < 2 || v[0] != '"' {
		return
	}
	switch {
	case keyIs(k, "engagement_id"):
		ids.engagement = v
	case keyIs(k, "user_id"):
		ids.user = v
	case keyIs(k, "id"):
		ids.id = v
	}
}

// topObject validates that s.b is one JSON object, white space aside,
// calling fn for each of its members (see object). After it, s.space tells
// whether the text had white space between tokens.
func (s *scanner) topObject(fn func(key []byte, at int) int) bool {
	i := s.skip(0)
	if i >= len(s.b) || s.b[i] != '{' {
		return false
	}
	i = s.object(i, fn)
	return i >= 0 && s.skip(i) == len(s.b)
}

// object scans the object starting at b[i]. For each member it calls fn
// with the key's raw literal and the index where the value starts; fn scans
// the value, usually with s.value, and returns where it ends. A nil fn
// just validates. (fn reaches the scanner through its closure: a scanner
// passed to it as an argument would escape to the heap.)
func (s *scanner) object(i int, fn func(key []byte, at int) int) int {
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
			j = fn(b[i:kEnd], j)
		} else if start := j; s.ids != nil && s.depth == s.idsDepth {
			// Only keys as long as the ids' are looked at: this runs for
			// every member of every event.
			if j = s.value(j); j >= 0 && b[start] == '"' {
				if n := kEnd - i; n == len(`"engagement_id"`) && b[i+1] == 'e' || n == len(`"user_id"`) && b[i+1] == 'u' || n == len(`"id"`) && b[i+1] == 'i' {
					s.ids.note(b[i:kEnd], b[start:j])
				}
			}
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
		for i+8 <= len(b) {
			if m := specials(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && !special(b[i]) {
			i++
		}
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

// special reports whether c ends a run of plain string bytes: a quote, a
// backslash or a control character.
func special(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }

// specials marks with its high bit each byte of the little-endian word x
// that is special, testing eight bytes at once: the borrow of a subtraction
// sets the high bit of every byte below the bound. Bytes above the lowest
// marked one may be marked wrongly; the lowest mark is always exact.
func specials(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return (((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)) & highs
}

// unquote decodes a valid JSON string literal into a new slice.
func unquote(lit []byte) []byte {
	out, _ := decodeString(nil, lit, 0)
	return out
}

// unquoteString is unquote for a string result: one allocation, not two,
// for a literal without escapes.
func unquoteString(lit []byte) string {
	inner := lit[1 : len(lit)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	return string(unquote(lit))
}

// decodeString scans the string literal starting at b[i] as stringEnd does
// and appends what it holds to dst, in the same pass. Zoom's content string
// has an escaped quote every few bytes, so the copy goes a word at a time
// with no call per run: each word is stored whole and the output advances
// to its first special byte. The output is never longer than the input,
// and dst gets room for that and a word more up front. A lone surrogate
// becomes U+FFFD, as in encoding/json.
func decodeString(dst, b []byte, i int) ([]byte, int) {
	n := len(dst)
	dst = slices.Grow(dst, len(b)-i+8)
	out := dst[:cap(dst)]
	for i++; ; {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(out[n:], x)
			if m := specials(x); m != 0 {
				k := bits.TrailingZeros64(m) / 8
				i, n = i+k, n+k
				if b[i] == '\\' && i+1 < len(b) && b[i+1] == '"' {
					// Zoom's content is mostly escaped quotes.
					out[n] = '"'
					i, n = i+2, n+1
					continue
				}
				break
			}
			i, n = i+8, n+8
		}
		for i < len(b) && !special(b[i]) {
			out[n] = b[i]
			i, n = i+1, n+1
		}
		if i >= len(b) || b[i] < 0x20 {
			return out[:n], -1
		}
		if b[i] == '"' {
			return out[:n], i + 1
		}
		e := escapeLen(b[i:])
		if e == 0 {
			return out[:n], -1
		}
		c := b[i+1]
		i += e
		switch c {
		case 'b':
			out[n] = '\b'
		case 'f':
			out[n] = '\f'
		case 'n':
			out[n] = '\n'
		case 'r':
			out[n] = '\r'
		case 't':
			out[n] = '\t'
		case 'u':
			r := rune(hex4(b[i-4:]))
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
			n += utf8.EncodeRune(out[n:], r)
			continue
		default: // '"', '\\', '/'
			out[n] = c
		}
		n++
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
