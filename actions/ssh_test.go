package actions

import (
	"os/exec"
	"testing"
)

// shellQuote must survive the remote login shell: each argument comes out
// exactly as it went in.
func TestShellQuote(t *testing.T) {
	for _, arg := range []string{"plain", "/usr/local/bin/redkeep", "--ttl=40s", "root@vm:123", "", "with space", "it's", `"double"`, "$(rm -rf /)", "a;b|c&d", "`x`", "new\nline", "*", "~"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(arg)).Output()
		if err != nil {
			t.Fatalf("sh with %q: %v", arg, err)
		}
		if string(out) != arg {
			t.Errorf("shellQuote(%q) came out of sh as %q", arg, out)
		}
	}
}
