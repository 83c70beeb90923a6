package events

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// The decoder's hot path. gjson validates each input in one pass; these
// then walk the validated JSON without the eager unescaping of gjson's
// iterators, which cost more than all the rest of a decode. Both are only
// ever given input that gjson.ValidBytes accepted; FuzzScan checks them
// against gjson and encoding/json on arbitrary valid JSON.

// scanObject calls fn with each member of the JSON object in b: the key as
// its raw string literal and the value's raw bytes, until fn returns false.
func scanObject(b []byte, fn func(key, value []byte) bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return // '}' of an empty object
		}
		kEnd := endOfString(b, i)
		key := b[i:kEnd]
		i = skipSpace(b, kEnd) + 1 // the colon
		i = skipSpace(b, i)
		vEnd := endOfValue(b, i)
		if !fn(key, b[i:vEnd]) {
			return
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string literal starting at i.
// It jumps from quote to quote; a quote is the end unless an odd number of
// backslashes stands before it.
func endOfString(b []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// structural marks the bytes that matter when skipping a nested value.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// endOfValue returns the index after the value starting at i.
func endOfValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			c := b[i]
			if !structural[c] {
				continue
			}
			switch c {
			case '"':
				i = endOfString(b, i) - 1
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(b)
	}
}

// unquote decodes a valid JSON string literal into a new slice. Runs
// without escapes are copied whole; a lone surrogate becomes U+FFFD, as
// encoding/json does.
func unquote(lit []byte) []byte {
	s := lit[1 : len(lit)-1]
	out := make([]byte, 0, len(s))
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(out, s...)
		}
		out = append(out, s[:i]...)
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hex4(s))
			s = s[4:]
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if dec := utf16.DecodeRune(r, rune(hex4(s[2:]))); dec != utf8.RuneError {
						r2 = dec
						s = s[6:]
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, c)
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
