package human

import (
	"testing"
	"time"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0:                "0 B",
		1023:             "1023 B",
		1024:             "1.0 KiB",
		1536:             "1.5 KiB",
		5 << 20:          "5.0 MiB",
		5 << 30:          "5.0 GiB",
		3 << 40:          "3.0 TiB",
		-2048:            "-2.0 KiB",
		1<<63 - 1:        "8388608.0 TiB",
		-(1<<63 - 1) - 1: "-8388608.0 TiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"}, // é is two bytes: not split
		{"日本", 4, "日"},
		{"x", -1, ""},
	} {
		got := Truncate(c.s, c.n)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestAbbrev(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"a long message", 6, "a long..."},
		{"ab\xffcd", 10, "ab?cd"},
		{"日本語", 5, "日..."},
	} {
		if got := Abbrev(c.s, c.n); got != c.want {
			t.Errorf("Abbrev(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 1500 * time.Millisecond: "1s", 59 * time.Second: "59s",
		5*time.Minute + 7*time.Second: "5m07s", 3*time.Hour + 5*time.Minute + 59*time.Second: "3h05m",
		47 * time.Hour: "47h00m", 49 * time.Hour: "2d",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}
