// Package human formats numbers and cuts strings for people to read: one
// byte formatter, so a lag reads the same in the preflight, `status` and
// the console, and truncation that never splits a UTF-8 sequence.
package human

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Bytes is n exact below 1 KiB, else in KiB, MiB, GiB or TiB with one
// decimal: "512 B", "1.5 KiB", "5.0 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		f /= unit
		if f < unit && f > -unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f TiB", f/unit)
}

// Truncate cuts s to at most n bytes without splitting a rune.
func Truncate(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Abbrev keeps messages about garbage short: s with invalid UTF-8 replaced
// by '?', cut to at most n bytes, with "..." when something was cut.
func Abbrev(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= n {
		return s
	}
	return Truncate(s, n) + "..."
}

// Duration is d to the second for a person, in its two largest units:
// "42s", "5m07s", "3h05m", "2d". Negative durations read as 0s.
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
