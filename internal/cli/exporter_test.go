package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/internal/configtest"
)

// Bad flags are usage errors (exit 2) naming the flag, before anything
// listens.
func TestExporterBadFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := configtest.Pair{}.Hooks(dir).Write(t, dir, "config.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", ":10121"}, "--listen"},
		{[]string{"--listen", "localhost:10121"}, "not an IP address"},
		{[]string{"--scrape-timeout", "0s"}, "--scrape-timeout"},
		{[]string{"--scrape-timeout", "30s"}, "at most 8s"},
		{[]string{"--node", "c"}, "--node"},
		{[]string{"--redis-password-file", filepath.Join(dir, "missing")}, "--redis-password-file"},
	} {
		args := append([]string{"-c", cfg, "exporter", "--node", "a"}, c.args...)
		code, out := execRoot(args...)
		if code != exitUsage || !strings.Contains(out, c.want) {
			t.Errorf("exporter %v: exit %d, want %d with %q:\n%s", c.args, code, exitUsage, c.want, out)
		}
	}
}
