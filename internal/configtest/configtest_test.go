package configtest

import (
	"testing"

	"github.com/redkeep/redkeep/config"
)

// TestYAMLLoads: the defaults and every field make a config that loads.
func TestYAMLLoads(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []Pair{
		{},
		Pair{VIP: "127.0.0.100/8", RouterID: 7, Nodes: [2]Node{
			{Name: "x", Host: "127.0.0.11", Priority: 200, Interface: "lo", SSH: "{host: 127.0.0.1, port: 2222, user: redkeep}",
				RedisAddr: "127.0.0.1:6379", PeerAddr: "127.0.0.11:6379", Redkeep: "/usr/local/bin/redkeep", ConfigPath: "/etc/redkeep/config.yaml"},
			{Name: "y", Host: "127.0.0.12", Interface: "lo"},
		}, InKeepalived: "  check: {deadline: 500ms}\n", InHooks: "  redis_timeout: 250ms\n", Extra: "console: {lag_warn: 2048}\n"}.Hooks(dir),
	} {
		cfg, err := config.Parse([]byte(p.YAML()), "test.yaml")
		if err != nil {
			t.Fatalf("%v\n%s", err, p.YAML())
		}
		if len(cfg.Nodes) != 2 || cfg.Keepalived.VirtualRouterID == 0 {
			t.Fatalf("loaded %+v from\n%s", cfg, p.YAML())
		}
	}
}
