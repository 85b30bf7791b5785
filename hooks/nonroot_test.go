package hooks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/redkeep/redkeep/internal/vrrptest"
)

// TestKeepalivedSeenByAnUnprivilegedUser: the console logs in as an
// unprivileged user, who cannot read root's /proc/PID/ns/net. A keepalived
// in this network namespace must still count as running, and one in
// another namespace (the other lab node's, on one machine) must not.
func TestKeepalivedSeenByAnUnprivilegedUser(t *testing.T) {
	vrrptest.Skip(t)
	dir := vrrptest.Dir(t)
	bin := vrrptest.Copy(t, redkeepBin, dir)
	cfg := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`vip: 198.51.100.100/24
nodes:
  - name: a
    host: 198.51.100.11
    redis: {addr: "127.0.0.1:1"}
    keepalived: {priority: 150, interface: rk-test-none}
  - name: b
    host: 198.51.100.12
    redis: {addr: "127.0.0.1:2"}
    keepalived: {priority: 100, interface: rk-test-none}
keepalived:
  virtual_router_id: 51
  track_file: %[1]s/drain
hooks:
  state_file: %[1]s/state.json
  state_log: %[1]s/redis-state.log
  lock_file: %[1]s/hook.lock
`, dir)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ka := vrrptest.Start(t, dir)
	state := []string{bin, "hook", "state", "--json", "--config", cfg, "--node", "a"}
	running := func(argv []string) bool {
		t.Helper()
		var ns struct {
			Running *bool `json:"keepalived_running"`
		}
		out := vrrptest.Output(t, argv...)
		if err := json.Unmarshal(out, &ns); err != nil || ns.Running == nil {
			t.Fatalf("unreadable hook state: %v\n%s", err, out)
		}
		return *ns.Running
	}
	for _, c := range []struct {
		name string
		argv []string
		want bool
	}{
		{"root, keepalived's namespace", ka.InItsNamespace(state...), true},
		{"nobody, keepalived's namespace", ka.InItsNamespace(vrrptest.AsNobody(state...)...), true},
		{"root, another namespace", vrrptest.InNewNamespace(state...), false},
		{"nobody, another namespace", vrrptest.InNewNamespace(vrrptest.AsNobody(state...)...), false},
	} {
		if got := running(c.argv); got != c.want {
			t.Errorf("%s: keepalived_running = %v, want %v", c.name, got, c.want)
		}
	}
	// Once it is gone (its namespace with it), nobody sees no keepalived.
	ka.Stop()
	if running(vrrptest.InNewNamespace(vrrptest.AsNobody(state...)...)) {
		t.Error("nobody, after keepalived stopped: keepalived_running = true")
	}
}
