package hooks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

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
		"state BACKUP", "nopreempt", "priority 253", "virtual_router_id 51",
		"enable_script_security", "weight 0",
		`script "'/usr/local/bin/redkeep' hook check --config '/etc/redkeep/config.yaml' --node b"`,
		// "--" ends the options: keepalived appends INSTANCE <name> <STATE>
		// <priority>, and no instance name may read as a flag.
		`notify "'/usr/local/bin/redkeep' hook notify --config '/etc/redkeep/config.yaml' --node b --"`,
		"unicast_src_ip 198.51.100.12", "198.51.100.11\n",
		"198.51.100.100/24 dev eth0",
		// The watcher's health file, tracked with weight 0 beside the drain.
		"track_file redkeep_health {\n    file \"/run/redkeep/health\"\n    weight 0\n    init_file 0\n}",
		"        redkeep_drain\n        redkeep_health\n    }",
		"vrrp_version 2", "advert_int 1\n",
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
	// VRRPv3: the advert interval in centiseconds.
	cfg.Keepalived.VRRPVersion, cfg.Keepalived.AdvertInt = 3, 100*time.Millisecond
	if conf, err := KeepalivedConf(cfg, "b"); err != nil || !strings.Contains(conf, "vrrp_version 3\n") || !strings.Contains(conf, "advert_int 0.1\n") {
		t.Errorf("VRRPv3 with advert_int 100ms (%v):\n%s", err, conf)
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
	check := func(t *testing.T, redkeep string, edit ...func(*config.Config)) (string, error) {
		cfg := loadExample(t)
		for i := range cfg.Nodes {
			cfg.Nodes[i].Redkeep = redkeep
		}
		for _, e := range edit {
			e(cfg)
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
	// The longest instance name and characters keepalived treats specially
	// elsewhere ('#', '!', braces) in a quoted path are still one token.
	t.Run("valid extremes", func(t *testing.T) {
		out, err := check(t, self, func(c *config.Config) {
			c.Keepalived.Instance = strings.Repeat("V", 250) + "_.-a1"
			c.Nodes[0].ConfigPath = "/etc/red#keep!/{x};y.yaml"
			c.Keepalived.TrackFile = "/run/red#keep!/drain"
			c.Keepalived.Watch.HealthFile = "/run/red#keep!/{health}"
		})
		if err != nil {
			t.Fatalf("keepalived -t rejected the generated config: %v\n%s", err, out)
		}
	})
	t.Run("watcher off", func(t *testing.T) {
		off := false
		out, err := check(t, self, func(c *config.Config) { c.Keepalived.Watch.Enabled = &off })
		if err != nil {
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

// kaTokens splits one keepalived.conf line the way keepalived's parser does:
// whitespace separates tokens, " and ' quote (the quotes are dropped), a
// backslash inside quotes escapes the next character, and an unquoted '#' or
// '!' starts a comment.
func kaTokens(line string) []string {
	var toks []string
	var cur strings.Builder
	in, quote, esc := false, rune(0), false
	flush := func() {
		if in {
			toks = append(toks, cur.String())
		}
		cur.Reset()
		in = false
	}
	for _, r := range line {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0 && r == '\\':
			esc = true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == '#' || r == '!':
			flush()
			return toks
		case r == ' ' || r == '\t':
			flush()
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	flush()
	return toks
}

// scriptArgs splits a script string into its argv the way keepalived does:
// unquoted spaces separate, single quotes group.
func scriptArgs(s string) []string {
	var args []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				args = append(args, cur.String())
			}
			cur.Reset()
			in = false
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args
}

// confShape renders the first node's keepalived.conf and returns its lines'
// tokens.
func confShape(t testing.TB, cfg *config.Config) [][]string {
	t.Helper()
	conf, err := KeepalivedConf(cfg, cfg.Nodes[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]string
	for _, l := range strings.Split(conf, "\n") {
		lines = append(lines, kaTokens(l))
	}
	return lines
}

// fuzzConfig is the example config with the values that keepalived.conf
// carries replaced; unicast is on so the hosts are rendered too.
func fuzzConfig(iface, user, redkeep, cfgPath, track, instance, name, host string) []byte {
	node := func(name, host string, prio int, iface, redkeep, cfgPath string) map[string]any {
		return map[string]any{"name": name, "host": host, "redkeep": redkeep, "config_path": cfgPath,
			"keepalived": map[string]any{"priority": prio, "interface": iface}}
	}
	doc := map[string]any{
		"vip": "198.51.100.100/24",
		"nodes": []any{
			node(name, host, 150, iface, redkeep, cfgPath),
			node("b", "198.51.100.12", 100, "eth0", "/usr/local/bin/redkeep", "/etc/redkeep/config.yaml"),
		},
		"keepalived": map[string]any{"virtual_router_id": 51, "unicast": true,
			"script_user": user, "track_file": track, "instance": instance},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// No config that validation accepts renders a keepalived.conf in which a
// value breaks out of its token: every line has the tokens of the reference
// rendering, the fixed ones (keywords, braces) unchanged, and each value
// reads back from its token (and the hook scripts' arguments) exactly.
func FuzzKeepalivedConfTokens(f *testing.F) {
	f.Add("eth0", "root", "/usr/local/bin/redkeep", "/etc/redkeep/config.yaml", "/run/redkeep/drain", "VI_REDIS", "a", "198.51.100.11")
	// Two renderings with every value different tell keywords from values.
	f.Add("e_th.0-aaaaaaaa", "svc.redkeep-1", "/opt/red#keep!/bin/{redkeep}", "/etc/x;y|z&/c.yaml", "/run/d@r:a,i=n%", strings.Repeat("V", 255), "redis-1", "198.51.100.21")
	for _, evil := range []string{
		"eth0\n    notify_master \"/bin/sh -c 'touch /tmp/pwned'\"",
		"eth0 }", "eth0#", "eth0\"", "eth0'", "eth0\\", "eth0\r", "eth0\u2028x",
	} {
		f.Add(evil, "root", "/usr/local/bin/redkeep", "/etc/redkeep/config.yaml", "/run/redkeep/drain", "VI_REDIS", "a", "198.51.100.11")
		f.Add("eth0", evil, evil, evil, evil, evil, evil, evil)
	}
	f.Add("eth0", "root", "/usr/local/bin/redkeep' hook x '", "/etc/redkeep/c.yaml' --node b '", "/run/x\" weight -100 \"", "VI { x", "a", "fe80::1%eth0\n}")
	ref, err := config.Parse(fuzzConfig("eth0", "root", "/usr/local/bin/redkeep", "/etc/redkeep/config.yaml", "/run/redkeep/drain", "VI_REDIS", "a", "198.51.100.11"), "ref.yaml")
	if err != nil {
		f.Fatal(err)
	}
	other, err := config.Parse(fuzzConfig("eno1", "nobody", "/opt/rk", "/etc/rk.yaml", "/run/rk", "VI_X", "x", "198.51.100.13"), "other.yaml")
	if err != nil {
		f.Fatal(err)
	}
	refShape, otherShape := confShape(f, ref), confShape(f, other)
	f.Fuzz(func(t *testing.T, iface, user, redkeep, cfgPath, track, instance, name, host string) {
		cfg, err := config.Parse(fuzzConfig(iface, user, redkeep, cfgPath, track, instance, name, host), "fuzz.yaml")
		if err != nil {
			return
		}
		got := confShape(t, cfg)
		if len(got) != len(refShape) {
			t.Fatalf("%d lines, want %d", len(got), len(refShape))
		}
		n := cfg.Nodes[0]
		files := map[string]string{"redkeep_drain": cfg.Keepalived.TrackFile, "redkeep_health": cfg.Keepalived.Watch.HealthFile}
		block := ""
		for i, toks := range got {
			if len(toks) != len(refShape[i]) {
				t.Fatalf("line %d has tokens %q, want %d like %q", i+1, toks, len(refShape[i]), refShape[i])
			}
			for j, tok := range toks {
				if refShape[i][j] == otherShape[i][j] && tok != refShape[i][j] {
					t.Fatalf("line %d token %d is %q, want the fixed %q", i+1, j+1, tok, refShape[i][j])
				}
			}
			if len(toks) < 2 {
				continue
			}
			if toks[0] == "track_file" {
				block = toks[1]
			}
			want := map[string]string{
				"script_user": cfg.Keepalived.ScriptUser, "interface": n.Keepalived.Interface, "file": files[block],
				"vrrp_instance": cfg.Keepalived.Instance, "unicast_src_ip": n.Host,
			}
			if w, ok := want[toks[0]]; ok && toks[1] != w {
				t.Fatalf("line %d: %s is %q, want %q", i+1, toks[0], toks[1], w)
			}
			if toks[0] == "script" || toks[0] == "notify" {
				verb := map[string]string{"script": "check", "notify": "notify"}[toks[0]]
				want := []string{n.Redkeep, "hook", verb, "--config", n.ConfigPath, "--node", n.Name}
				if verb == "notify" {
					want = append(want, "--")
				}
				if args := scriptArgs(toks[1]); strings.Join(args, "\x00") != strings.Join(want, "\x00") {
					t.Fatalf("line %d: %s runs %q, want %q", i+1, toks[0], args, want)
				}
			}
		}
	})
}
