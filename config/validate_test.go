package config

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestNamePatterns: each pattern accepts exactly what the regexp it
// replaced does.
func TestNamePatterns(t *testing.T) {
	for _, c := range []struct {
		p  *pattern
		re string
	}{
		{nameRE, `^[a-z0-9][a-z0-9-]{0,30}$`},
		{ifNameRE, `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$`},
		{userRE, `^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}$`},
		{instanceRE, `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$`},
		{hostRE, `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$`},
		{envRE, `^[A-Za-z_][A-Za-z0-9_]{0,254}$`},
		{unitRE, `^[A-Za-z0-9:_.@-]{1,255}$`},
	} {
		re := regexp.MustCompile(c.re)
		alphabet := "aZ09_.-:@/ \n\x00é$-"
		rng := rand.New(rand.NewPCG(1, 2))
		check := func(s string) {
			if got, want := c.p.MatchString(s), re.MatchString(s); got != want {
				t.Errorf("%s: %q: pattern says %v, regexp %v", c.re, s, got, want)
			}
		}
		check("")
		for _, n := range []int{1, 2, 14, 15, 16, 30, 31, 32, 33, 252, 253, 254, 255, 256} {
			check(strings.Repeat("a", n))
			check("-" + strings.Repeat("a", n))
			check(strings.Repeat("a", n) + "-")
		}
		for range 20000 {
			b := make([]byte, rng.IntN(20))
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			check(string(b))
		}
	}
}
