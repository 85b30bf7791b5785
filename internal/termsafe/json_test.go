package termsafe

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
)

// TestWriteJSON: the exact strings come back from the JSON, and no control
// or format character is written raw.
func TestWriteJSON(t *testing.T) {
	in := map[string]any{
		"host":  "\x1b]52;c;SGVsbG8=\x07evil\u202e1.0.0.01\u009b31m\x7f",
		"other": "zw\u200b bom\ufeff iso\u2066\u2069 tag\U000E0041 ls\u2028 nl\n 中文 ✓ <&>",
		"list":  []string{"plain", "\u0085"},
	}
	for _, indent := range []string{"", "  "} {
		var b bytes.Buffer
		if err := WriteJSON(&b, in, indent); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for i, r := range out {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
				t.Errorf("indent %q: U+%04X raw at %d: %q", indent, r, i, out)
			}
		}
		if !strings.HasSuffix(out, "}\n") || (indent == "") != (strings.Count(out, "\n") == 1) {
			t.Errorf("indent %q: not one value and a newline: %q", indent, out)
		}
		if !strings.Contains(out, "中文 ✓") {
			t.Errorf("indent %q: printable text escaped: %q", indent, out)
		}
		var back map[string]any
		if err := json.Unmarshal(b.Bytes(), &back); err != nil {
			t.Fatalf("indent %q: %v\n%s", indent, err, out)
		}
		for _, k := range []string{"host", "other"} {
			if back[k] != in[k] {
				t.Errorf("indent %q: %s = %q, want %q", indent, k, back[k], in[k])
			}
		}
		if l := back["list"].([]any); l[1] != "\u0085" {
			t.Errorf("indent %q: list = %q", indent, l)
		}
	}
}

// FuzzWriteJSON: any string round-trips as encoding/json would carry it,
// and the output has no raw control or format character.
func FuzzWriteJSON(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;t\x07", "\xff", "a\u202eb\U000E0001", "\u009b\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		if err := WriteJSON(&b, []string{s}, " "); err != nil {
			t.Fatal(err)
		}
		for _, r := range b.String() {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("U+%04X raw in %q", r, b.String())
			}
		}
		var back, want []string
		plain, _ := json.Marshal([]string{s})
		if err := json.Unmarshal(plain, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 || back[0] != want[0] {
			t.Fatalf("%q came back as %q (%v), want %q", s, back, err, want)
		}
	})
}
