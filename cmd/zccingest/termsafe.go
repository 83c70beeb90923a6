package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// termSafe returns s fit for a terminal: event data comes from outside, and
// an escape sequence in it (ESC ] 0; … BEL retitles the window, ESC [ 2 J
// clears it, U+009B is a CSI of its own) must be shown, not obeyed. Every
// control character, and every byte that is not UTF-8, is written escaped.
func termSafe(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || unicode.IsControl(r) || r == '\\' })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for s = s[i:]; s != ""; {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\\':
			b.WriteString(`\\`)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

// jsonLine returns a message body for 'tail --json': valid JSON is compacted
// onto one line, and the control characters JSON lets through raw (DEL and
// the C1 range) are escaped as \u00XX, so that the line is still the same
// JSON; anything else (an invalid frame's raw bytes) is escaped by termSafe.
func jsonLine(data []byte) string {
	var c bytes.Buffer
	if !utf8.Valid(data) || json.Compact(&c, data) != nil {
		return termSafe(string(data))
	}
	s := c.String()
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) { // only inside strings: Compact dropped the rest
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
