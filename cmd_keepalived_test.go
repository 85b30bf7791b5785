package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The notify line keepalived-conf writes, with the arguments keepalived
// appends, must reach `hook notify` as its positional arguments, whatever the
// instance name looks like: the generated options end with "--".
func TestKeepalivedConfNotifyArgs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	must(t, os.WriteFile(cfg, []byte(`vip: 198.51.100.100/24
nodes:
  - {name: a, host: 198.51.100.11, keepalived: {priority: 150, interface: eth0}, config_path: `+cfg+`}
  - {name: b, host: 198.51.100.12, keepalived: {priority: 100, interface: eth0}}
keepalived: {virtual_router_id: 51}
hooks: {state_file: `+dir+`/state.json, state_log: `+dir+`/state.log, lock_file: `+dir+`/hook.lock}
`), 0o600))
	code, conf := execRoot("-c", cfg, "keepalived-conf", "--node", "a")
	if code != exitOK {
		t.Fatalf("keepalived-conf: exit %d\n%s", code, conf)
	}
	var script string
	for _, l := range strings.Split(conf, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "notify "); ok {
			script = strings.Trim(s, `"`)
		}
	}
	// keepalived's split: unquoted spaces separate, single quotes group.
	args := strings.Fields(strings.ReplaceAll(script, "'", ""))
	if len(args) < 2 || args[0] != "/usr/local/bin/redkeep" {
		t.Fatalf("notify line %q", script)
	}
	for _, name := range []string{"VI_REDIS", "--help", "-c"} {
		// An unknown state is refused by the argument parser before the hook
		// does anything, and the refusal quotes it: proof that all four
		// arguments arrived as arguments.
		code, out := execRoot(append(args[1:], "INSTANCE", name, "BOGUS", "100")...)
		if code != exitUsage || !strings.Contains(out, `state "BOGUS"`) {
			t.Errorf("instance %q: exit %d, want %d with the state refused:\n%s", name, code, exitUsage, out)
		}
	}
}
