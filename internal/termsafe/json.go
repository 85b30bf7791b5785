package termsafe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// WriteJSON writes v as encoding/json does (one value and a newline,
// indented by indent unless it is ""), with the nodes' text kept exact but
// never raw on a terminal. encoding/json escapes C0 controls (ESC, BEL) and
// U+2028/U+2029 but writes DEL, C1 controls (U+009B is an 8-bit CSI) and
// format characters such as bidi overrides as they are; WriteJSON writes
// those as \uXXXX escapes too. Scripts decode the same strings either way.
func WriteJSON(w io.Writer, v any, indent string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// escapeJSON rewrites the runes of an encoded JSON document that a
// terminal would act on as \u escapes. Outside strings JSON is ASCII
// (punctuation, literals, the newlines and spaces of indentation), so every
// such rune is inside a string, where an escape means the same rune.
func escapeJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf && b[i] != 0x7f {
		i++
	}
	if i == len(b) {
		return b // plain ASCII, the common case
	}
	out := bytes.NewBuffer(make([]byte, 0, len(b)+32))
	out.Write(b[:i])
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out.WriteString(`\ufffd`) // encoding/json writes none; be safe anyway
		case r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r):
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(out, `\u%04x`, r)
			}
		default:
			out.Write(b[i : i+size])
		}
		i += size
	}
	return out.Bytes()
}
