package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/actions"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestSwitchoverExitCodes runs the command through run(), as main does:
// usage errors exit 2, a pair it cannot reach is refused with 3 and
// nothing is attempted.
func TestSwitchoverExitCodes(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`vip: 127.0.0.100/8
nodes:
  - name: a
    host: 127.0.0.11
    ssh: {host: 127.0.0.1, port: %d, user: nobody, known_hosts: %s/known_hosts, identity_files: [%s/none]}
    keepalived: {priority: 150, interface: lo}
  - name: b
    host: 127.0.0.12
    ssh: {host: 127.0.0.1, port: %d, user: nobody, known_hosts: %s/known_hosts, identity_files: [%s/none]}
    keepalived: {priority: 100, interface: lo}
keepalived: {virtual_router_id: 51}
`, closedPort(t), dir, dir, closedPort(t), dir, dir)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"bad method", []string{"switchover", "-c", cfg, "--method", "bogus", "--dry-run"}, exitUsage},
		{"unknown target", []string{"switchover", "-c", cfg, "--to", "c", "--dry-run"}, exitUsage},
		{"negative lag", []string{"switchover", "-c", cfg, "--max-lag", "-1", "--dry-run"}, exitUsage},
		{"missing config", []string{"switchover", "-c", filepath.Join(dir, "nope.yaml"), "--dry-run"}, exitUsage},
		{"unreachable pair, dry run", []string{"switchover", "-c", cfg, "--dry-run"}, exitRefused},
		{"unreachable pair", []string{"switchover", "-c", cfg, "--yes"}, exitRefused},
		{"node-local run without its flags", []string{"hook", "switchover-run", "-c", cfg, "--node", "a"}, exitUsage},
		{"node-local lock without an owner", []string{"hook", "switchover-lock", "acquire", "-c", cfg, "--node", "a"}, exitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("redkeep %v exited %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

func TestConfirmTarget(t *testing.T) {
	plan := actions.Plan{From: "a", To: "b"}
	for in, ok := range map[string]bool{"b\n": true, "  b \n": true, "b": true, "a\n": false, "yes\n": false, "\n": false, "": false} {
		var out strings.Builder
		err := confirmTarget(strings.NewReader(in), &out, plan)
		if (err == nil) != ok {
			t.Errorf("typed %q: err = %v, want ok %v", in, err, ok)
		}
		if !strings.Contains(out.String(), "Type the target's name (b)") {
			t.Errorf("prompt = %q", out.String())
		}
	}
}
