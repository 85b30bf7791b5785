package hooks_test

import (
	"encoding/json"
	"testing"

	"github.com/redkeep/redkeep/internal/configtest"
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
	cfg := configtest.Pair{Nodes: [2]configtest.Node{
		{RedisAddr: "127.0.0.1:1", Interface: "rk-test-none"},
		{RedisAddr: "127.0.0.1:2", Interface: "rk-test-none"},
	}}.Hooks(dir).Write(t, dir, "config.yaml")
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
