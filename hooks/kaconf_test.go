package hooks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
)

func loadExample(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestKeepalivedConfShape(t *testing.T) {
	cfg := loadExample(t)
	cfg.Keepalived.Unicast = true
	conf, err := KeepalivedConf(cfg, "b")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"state BACKUP", "nopreempt", "priority 100", "virtual_router_id 51",
		"enable_script_security", "weight 0",
		`script "/usr/local/bin/redkeep hook check --config /etc/redkeep/config.yaml --node b"`,
		`notify "/usr/local/bin/redkeep hook notify --config /etc/redkeep/config.yaml --node b"`,
		"unicast_src_ip 198.51.100.12", "198.51.100.11\n",
		"198.51.100.100/24 dev eth0",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("keepalived.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "weight -") {
		t.Errorf("negative weight breaks failover with nopreempt:\n%s", conf)
	}
	if _, err := KeepalivedConf(cfg, "zz"); err == nil {
		t.Error("unknown node accepted")
	}
}

// keepalived itself must accept what we generate: `keepalived -t` parses the
// file and checks that the hook binary exists and is safe to run.
func TestKeepalivedConfPassesKeepalivedCheck(t *testing.T) {
	ka, err := exec.LookPath("keepalived")
	if err != nil {
		ka = "/usr/sbin/keepalived"
		if _, err := os.Stat(ka); err != nil {
			t.Skip("keepalived is not installed (apt-get install keepalived)")
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, redkeep string) (string, error) {
		cfg := loadExample(t)
		for i := range cfg.Nodes {
			cfg.Nodes[i].Redkeep = redkeep
		}
		conf, err := KeepalivedConf(cfg, "a")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "keepalived.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ka, "-t", "-f", path).CombinedOutput()
		return string(out), err
	}
	t.Run("valid", func(t *testing.T) {
		if out, err := check(t, self); err != nil {
			t.Fatalf("keepalived -t rejected the generated config: %v\n%s", err, out)
		}
	})
	// The same check must fail when the hook cannot run, or it proves nothing.
	t.Run("missing hook binary", func(t *testing.T) {
		if _, err := check(t, filepath.Join(t.TempDir(), "no-such-redkeep")); err == nil {
			t.Fatal("keepalived -t accepted a config whose hook binary does not exist")
		}
	})
}
