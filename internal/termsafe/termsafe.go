// Package termsafe makes text that other machines wrote safe to print on an
// operator's terminal. The console shows what nodes send it: log lines,
// error messages, INFO fields such as master_host (which anyone with
// CONFIG/REPLICAOF rights sets to any bytes). An escape sequence in them
// must reach the screen as text, never as a command to the terminal.
package termsafe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean returns s as one line of inert text. Line breaks (also U+2028 and
// U+2029) and tabs become spaces. Other control characters (C0, DEL, C1),
// invalid UTF-8 and Unicode format characters (category Cf: bidi
// overrides and isolates, which make "10.0.0.1" display as another
// address, zero-width characters, BOM, tag characters) become a visible
// U+FFFD, so that what was hidden shows.
func Clean(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			ok = false
			break
		}
	}
	if ok {
		return s // plain ASCII, the common case
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				b.WriteRune(utf8.RuneError)
				continue
			}
			b.WriteRune(r)
		case r == '\n' || r == '\r' || r == '\t' || r == '\u2028' || r == '\u2029':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CleanLines is Clean for text of several lines, such as an error that
// joins several: each line is cleaned, the newlines between them stay.
func CleanLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Clean(l)
	}
	return strings.Join(lines, "\n")
}
