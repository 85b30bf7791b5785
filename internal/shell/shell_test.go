package shell

import (
	"os/exec"
	"testing"
)

// TestQuote: whatever the word, sh gets it back unchanged.
func TestQuote(t *testing.T) {
	words := []string{"", "plain", "--ttl=40s", "root@vm:123", `"double"`, "a;b|c&d", "/usr/local/bin/redkeep", "with space", "it's", "$(reboot)", "`id`", "a\nb", "semi;colon", "*", "~root", "-n", "'", "\\", "é"}
	for _, w := range words {
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(w)).Output()
		if err != nil {
			t.Fatalf("sh -c printf %s: %v", Quote(w), err)
		}
		if string(out) != w {
			t.Errorf("Quote(%q) = %s: sh read back %q", w, Quote(w), out)
		}
	}
	if got := Quote("plain-word_1.2"); got != "plain-word_1.2" {
		t.Errorf("a plain word is quoted: %s", got)
	}
}
