package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/internal/configtest"
)

// The notify line keepalived-conf writes, with the arguments keepalived
// appends, must reach `hook notify` as its positional arguments, whatever the
// instance name looks like: the generated options end with "--".
func TestKeepalivedConfNotifyArgs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	configtest.Pair{Nodes: [2]configtest.Node{{ConfigPath: cfg}}, StateFile: dir + "/state.json", StateLog: dir + "/state.log", LockFile: dir + "/hook.lock"}.Write(t, dir, "config.yaml")
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

// Config warnings reach the operator: on stderr from every command, and in
// the hook log from the hooks, whose stderr keepalived drops.
func TestConfigWarnings(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "redis.pass")
	must(t, os.WriteFile(pw, []byte("s3cret\n"), 0o644))
	cfg := filepath.Join(dir, "config.yaml")
	stateLog := filepath.Join(dir, "state.log")
	must(t, os.WriteFile(cfg, []byte(`vip: 198.51.100.100/24
nodes:
  - {name: a, host: 198.51.100.11, keepalived: {priority: 150, interface: eth0}}
  - {name: b, host: 198.51.100.12, keepalived: {priority: 100, interface: eth0}}
keepalived: {virtual_router_id: 51, track_file: `+dir+`/drain}
redis: {password_file: `+pw+`}
hooks: {state_file: `+dir+`/state.json, state_log: `+stateLog+`, lock_file: `+dir+`/hook.lock}
`), 0o600))
	want := cfg + ":6: redis.password_file: " + strconv.Quote(pw) + " is readable by group or others (mode 0644)"

	code, out := execRoot("-c", cfg, "keepalived-conf", "--node", "a")
	if code != exitOK || !strings.Contains(out, "redkeep: warning: "+want) {
		t.Errorf("keepalived-conf: exit %d, want 0 and the warning %q:\n%s", code, want, out)
	}
	code, out = execRoot("-c", cfg, "hook", "drain", "--node", "a")
	if code != exitOK {
		t.Fatalf("hook drain: exit %d\n%s", code, out)
	}
	log, err := os.ReadFile(stateLog)
	must(t, err)
	if !strings.Contains(string(log), "state:[config] warning: "+want) {
		t.Errorf("hook log lacks the warning %q:\n%s", want, log)
	}
	// The console runs `hook state` at every poll: it would flood the log.
	if code, out = execRoot("-c", cfg, "hook", "state", "--json", "--node", "a"); code != exitOK {
		t.Fatalf("hook state: exit %d\n%s", code, out)
	}
	after, err := os.ReadFile(stateLog)
	must(t, err)
	if len(after) != len(log) {
		t.Errorf("hook state logged:\n%s", after[len(log):])
	}
}
