package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHookStateHostileText: `hook state` prints the state file's last
// action, which quotes what Redis said (a master_host, an error), as text.
func TestHookStateHostileText(t *testing.T) {
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	must(t, os.WriteFile(stateFile, []byte(`{"node":"a","state":"BACKUP","priority":100,"since":"2026-11-26T01:02:03Z","generation":3,`+
		`"last_action":"staying a replica of \u001b]52;c;SGVsbG8=\u0007evil\u202e1.0.0.01:6379","last_result":"ok"}`), 0o600))
	cfg := filepath.Join(dir, "config.yaml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`vip: 127.0.0.100/8
nodes:
  - {name: a, host: 127.0.0.11, keepalived: {priority: 150, interface: lo}}
  - {name: b, host: 127.0.0.12, keepalived: {priority: 100, interface: lo}}
keepalived: {virtual_router_id: 51, track_file: %[1]s/track}
hooks: {state_file: %[1]s, state_log: %[2]s/state.log, lock_file: %[2]s/lock}
`, stateFile, dir)), 0o600))

	code, out := execRoot("hook", "state", "-c", cfg, "--node", "a")
	if code != exitOK || !strings.Contains(out, "BACKUP since") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if what, bad := termUnsafe(out); bad {
		t.Errorf("hook state printed %s", what)
	}
	if !strings.Contains(out, "staying a replica of \uFFFD]52;c;SGVsbG8=\uFFFDevil\uFFFD1.0.0.01:6379") {
		t.Errorf("the last action is not shown as text:\n%s", out)
	}
}
