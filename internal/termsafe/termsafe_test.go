package termsafe

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                                   "plain",
		"":                                        "",
		"tab\tand\nnewline\r":                     "tab and newline ",
		"\x1b[2Jcleared":                          "\uFFFD[2Jcleared",
		"\x1b]52;c;SGVsbG8=\x07":                  "\uFFFD]52;c;SGVsbG8=\uFFFD",
		"bell\x07 del\x7f":                        "bell\uFFFD del\uFFFD",
		"c1 \u009b31m \u0085":                     "c1 \uFFFD31m \uFFFD",
		"bad utf8 \xff":                           "bad utf8 \uFFFD",
		"cut rune \xe2\x80":                       "cut rune \uFFFD\uFFFD",
		"ünïcode ✓ 中文":                            "ünïcode ✓ 中文",
		"literal \uFFFD stays":                    "literal \uFFFD stays",
		"10.0.0.1\u202e1.0.0.01":                  "10.0.0.1\uFFFD1.0.0.01", // RIGHT-TO-LEFT OVERRIDE
		"a\u202ab\u202bc\u202cd\u202d":            "a\uFFFDb\uFFFDc\uFFFDd\uFFFD",
		"\u2066iso\u2067\u2068\u2069":             "\uFFFDiso\uFFFD\uFFFD\uFFFD",
		"zero\u200bwidth\u200c\u200d\u200e\u200f": "zero\uFFFDwidth\uFFFD\uFFFD\uFFFD\uFFFD",
		"\ufeffbom":                               "\uFFFDbom",
		"arabic mark \u061c":                      "arabic mark \uFFFD",
		"soft\u00adhyphen":                        "soft\uFFFDhyphen",
		"tag \U000E0041\U000E007F":                "tag \uFFFD\uFFFD",
		"line\u2028para\u2029end":                 "line para end",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCleanEveryFormatCharacter: no rune of category Cf, and no control
// character, survives.
func TestCleanEveryFormatCharacter(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !unicode.Is(unicode.Cf, r) && !unicode.IsControl(r) {
			continue
		}
		if got := Clean("x" + string(r) + "y"); strings.ContainsRune(got, r) {
			t.Errorf("Clean kept U+%04X: %q", r, got)
		}
	}
}

// FuzzClean: whatever goes in, what comes out is valid UTF-8 with no
// control or format character, and plain printable ASCII is untouched.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;t\x07", "\xff\xfe", "a\u202eb", "\u200b\u0301", "\U000E0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Clean(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Clean(%q) = %q: invalid UTF-8", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("Clean(%q) = %q: kept U+%04X", s, got, r)
			}
		}
		printable := true
		for i := 0; i < len(s); i++ {
			printable = printable && s[i] >= 0x20 && s[i] < 0x7f
		}
		if printable && got != s {
			t.Fatalf("Clean(%q) = %q: changed plain ASCII", s, got)
		}
	})
}

func TestCleanLines(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                        "plain",
		"one\ntwo\n":                   "one\ntwo\n",
		"a\x1b[2J\r\nb\u202e\tc\u2028": "a\uFFFD[2J \nb\uFFFD c ",
	} {
		if got := CleanLines(in); got != want {
			t.Errorf("CleanLines(%q) = %q, want %q", in, got, want)
		}
	}
}
