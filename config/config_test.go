package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := c.NodeNames(); strings.Join(got, ",") != "a,b" {
		t.Errorf("NodeNames = %v", got)
	}
	if c.Keepalived.AdvertInt != DefaultAdvertInt || c.Keepalived.VRRPVersion != DefaultVRRPVersion || c.Keepalived.Check.Fall != DefaultCheckFall || c.Hooks.SyncTimeout != DefaultSyncTimeout {
		t.Errorf("defaults not applied: %+v %+v", c.Keepalived, c.Hooks)
	}
	if sw := c.Switchover; sw.MaxPause != DefaultMaxPause || sw.MaxLag != 0 || c.Console.LagWarn != DefaultLagWarn {
		t.Errorf("switchover defaults: %+v, lag_warn %d: want a %s pause budget, no byte limit, a 1 MiB lag warning", sw, c.Console.LagWarn, DefaultMaxPause)
	}
	if c.Nodes[0].Redis.PeerAddr != "198.51.100.11:6379" || c.Nodes[0].Redis.Addr != "127.0.0.1:6379" {
		t.Errorf("redis defaults: %+v", c.Nodes[0].Redis)
	}
	if want := filepath.Join(filepath.Dir(c.Hooks.StateFile), "maintenance.json"); c.Hooks.MaintenanceFile != want {
		t.Errorf("hooks.maintenance_file default = %q, want %q (beside the state file)", c.Hooks.MaintenanceFile, want)
	}
	if w := c.Keepalived.Watch; !w.On() || w.HealthFile != filepath.Join(filepath.Dir(c.Keepalived.TrackFile), "health") {
		t.Errorf("keepalived.watch defaults = on %v, health_file %q: want on, health beside the track file", w.On(), w.HealthFile)
	}
	if got, want := c.Keepalived.Check.HangTimeout(), DefaultCheckDead; got != want {
		t.Errorf("HangTimeout at fall 1 = %s, want the check's deadline %s", got, want)
	}
	if got := (Check{Interval: 2 * time.Second, Fall: 3, Deadline: time.Second}).HangTimeout(); got != 5*time.Second {
		t.Errorf("HangTimeout at fall 3, interval 2s, deadline 1s = %s, want 5s", got)
	}
	if c.Nodes[1].SSH.Host != "198.51.100.12" {
		t.Errorf("ssh.host default = %q", c.Nodes[1].SSH.Host)
	}
	peer, err := c.Peer("a")
	if err != nil || peer.Name != "b" {
		t.Errorf("Peer(a) = %v, %v", peer, err)
	}
	if _, err := c.Node("z"); err == nil || !strings.Contains(err.Error(), `no node "z"`) {
		t.Errorf("Node(z) error = %v", err)
	}
	if got := c.VIPAddr().String(); got != "198.51.100.100" {
		t.Errorf("VIPAddr = %s", got)
	}
}

// The example config at the repository root must always load.
func TestExampleConfig(t *testing.T) {
	if _, err := Load("../config.yaml"); err != nil {
		t.Fatalf("example config.yaml: %v", err)
	}
}

func TestLoadBad(t *testing.T) {
	// Each bad config must be refused with a message naming the file, the
	// line and what is wrong.
	cases := map[string][]string{
		"unknown-key":           {":6:", `nodes[0].colour: unknown field "colour" in a node`},
		"one-node":              {":2:", "nodes", "exactly two nodes, found 1"},
		"three-nodes":           {":2:", "exactly two nodes, found 3"},
		"duplicate-name":        {":4:", "nodes[1].name", `duplicate node name "a"`},
		"bad-cidr":              {":1:", "vip", "not an address in CIDR form"},
		"vip-no-prefix":         {":1:", "vip", "CIDR"},
		"vip-outside-subnet":    {":4:", "nodes[1].host", "outside the VIP's subnet 198.51.100.0/24"},
		"same-priority":         {":4:", "nodes[1].keepalived.priority", "equals nodes[0]'s"},
		"router-id-range":       {":6:", "keepalived.virtual_router_id", "1-255"},
		"inline-password":       {":8:", `redis.password: unknown field "password" in redis`, "password_file"},
		"bad-duration":          {":7:", `keepalived.advert_int: "soon" is not a duration`},
		"v2-subsecond":          {"keepalived.advert_int", "with vrrp_version 2 it must be whole seconds"},
		"v3-not-centiseconds":   {"keepalived.advert_int", "multiple of 10ms"},
		"vrrp-version":          {"keepalived.vrrp_version", "2 or 3"},
		"max-pause-too-long":    {":8:", "switchover.max_pause", "above a third of the switchover timeout 3s"},
		"max-pause-too-short":   {":7:", "switchover.max_pause", "below 10ms"},
		"host-not-ip":           {":3:", "nodes[0].host", "not an IP address"},
		"bad-redis-addr":        {":5:", "nodes[0].redis.addr", "not host:port"},
		"deadline-too-long":     {":7:", "keepalived.check.deadline", "shorter than the check interval"},
		"both-password-sources": {":7:", "redis", "not both"},
		"missing-interface":     {":3:", "nodes[0].keepalived.interface", "required"},
		"not-yaml":              {":2:", "did not find expected ',' or ']'"},
		// Values that reach keepalived.conf or a shell on the node.
		"interface-injection":  {":5:", "nodes[0].keepalived.interface", "control character U+000A"},
		"interface-name":       {":4:", "nodes[1].keepalived.interface", "not a network interface name"},
		"script-user":          {":7:", "keepalived.script_user", "control character U+000A"},
		"redkeep-path-quote":   {":7:", "nodes[1].redkeep", "without whitespace, quotes"},
		"config-path-relative": {":3:", "nodes[0].config_path", "absolute path"},
		"track-file-space":     {":7:", "keepalived.track_file", "without whitespace, quotes"},
		"host-zone":            {":4:", "nodes[1].host", "has an IPv6 zone"},
		"control-character":    {":8:", "console.journal_unit", "control character U+001B"},
		"two-documents":        {":7:", "a second YAML document"},
		"empty":                {"empty.yaml", "empty"},
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cases) {
		t.Errorf("testdata/bad has %d files, table has %d cases", len(entries), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", name+".yaml")
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error", path)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error does not name the file %s:\n%s", path, msg)
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestRedisPassword(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Config{Redis: Redis{PasswordFile: pw}}
	if got, err := c.RedisPassword(); err != nil || got != "s3cret" {
		t.Errorf("from file: %q, %v", got, err)
	}
	t.Setenv("RK_TEST_PW", "from-env")
	c = &Config{Redis: Redis{PasswordEnv: "RK_TEST_PW"}}
	if got, err := c.RedisPassword(); err != nil || got != "from-env" {
		t.Errorf("from env: %q, %v", got, err)
	}
	c = &Config{Redis: Redis{PasswordEnv: "RK_TEST_UNSET_VARIABLE"}}
	if _, err := c.RedisPassword(); err == nil || !strings.Contains(err.Error(), "RK_TEST_UNSET_VARIABLE") {
		t.Errorf("unset env: %v", err)
	}
}

func TestLocalNode(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.LocalNode("b"); err != nil || n.Name != "b" {
		t.Errorf("flag: %v, %v", n, err)
	}
	if _, err := c.LocalNode("zz"); err == nil || !strings.Contains(err.Error(), "--node") {
		t.Errorf("bad flag: %v", err)
	}
	t.Setenv("REDKEEP_NODE", "a")
	if n, err := c.LocalNode(""); err != nil || n.Name != "a" {
		t.Errorf("env: %v, %v", n, err)
	}
	t.Setenv("REDKEEP_NODE", "")
	// Neither documentation address is on this machine (outside the lab).
	if _, err := c.LocalNode(""); err != nil && !strings.Contains(err.Error(), "--node") {
		t.Errorf("no match: %v", err)
	}
}

func TestFind(t *testing.T) {
	if p, err := Find("/x/y.yaml"); err != nil || p != "/x/y.yaml" {
		t.Errorf("explicit: %q %v", p, err)
	}
	t.Setenv("REDKEEP_CONFIG", "/from/env.yaml")
	if p, err := Find(""); err != nil || p != "/from/env.yaml" {
		t.Errorf("env: %q %v", p, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/good.yaml", "../config.yaml", "testdata/bad/unknown-key.yaml", "testdata/bad/not-yaml.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err == nil && len(c.Nodes) != 2 {
			t.Fatalf("accepted a config with %d nodes", len(c.Nodes))
		}
		if err != nil {
			for i, l := range strings.Split(err.Error(), "\n") {
				if i > MaxPrinted || !strings.HasPrefix(l, "fuzz.yaml") && i < MaxPrinted {
					t.Fatalf("error line %d %q: want at most %d lines, each naming the file:\n%v", i+1, l, MaxPrinted, err)
				}
			}
		}
	})
}

// withValue returns testdata/good.yaml with the field at path (dotted, with
// [i] indexes, as errors name fields) set to val.
func withValue(t *testing.T, path string, val any) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var cur any = doc
	parts := strings.Split(path, ".")
	for i, p := range parts {
		idx := -1
		if j := strings.IndexByte(p, '['); j >= 0 {
			idx, _ = strconv.Atoi(strings.Trim(p[j:], "[]"))
			p = p[:j]
		}
		m := cur.(map[string]any)
		last := i == len(parts)-1
		switch {
		case idx >= 0:
			cur = m[p].([]any)[idx]
		case last:
			m[p] = val
		default:
			if m[p] == nil {
				m[p] = map[string]any{}
			}
			cur = m[p]
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every value that reaches keepalived.conf, a shell on a node or a log is
// held to a strict pattern; want "" means the value is accepted.
func TestFieldValues(t *testing.T) {
	long := func(prefix string, n int) string { return prefix + strings.Repeat("a", n-len(prefix)) }
	const notPath = "without whitespace, quotes"
	cases := []struct {
		path string
		val  any
		want string
	}{
		{"nodes[0].keepalived.interface", "enp0s31f6", ""},
		{"nodes[0].keepalived.interface", "bond0.100", ""},
		{"nodes[0].keepalived.interface", "br-lan_2", ""},
		{"nodes[0].keepalived.interface", long("e", 15), ""},
		{"nodes[0].keepalived.interface", long("e", 16), "not a network interface name"},
		{"nodes[0].keepalived.interface", "eth0/1", "not a network interface name"},
		{"nodes[0].keepalived.interface", "eth0:1", "not a network interface name"},
		{"nodes[0].keepalived.interface", "eth0 ", "not a network interface name"},
		{"nodes[0].keepalived.interface", "..", "not a network interface name"},
		{"nodes[0].keepalived.interface", "-eth0", "not a network interface name"},
		{"nodes[0].keepalived.interface", "eth0#", "not a network interface name"},
		{"nodes[0].keepalived.interface", "eth\t0", "control character U+0009"},
		{"keepalived.script_user", "keepalived_script", ""},
		{"keepalived.script_user", "svc.redkeep-1", ""},
		{"keepalived.script_user", long("u", 32), ""},
		{"keepalived.script_user", long("u", 33), "not a user name"},
		{"keepalived.script_user", "root nobody", "not a user name"},
		{"keepalived.script_user", "-root", "not a user name"},
		{"keepalived.script_user", "root;id", "not a user name"},
		{"nodes[1].ssh.user", "redkeep", ""},
		{"nodes[1].ssh.user", "red keep", "not a user name"},
		{"nodes[0].redkeep", "/opt/redkeep-1.2/bin/redkeep", ""},
		{"nodes[0].redkeep", long("/", 4096), ""},
		{"nodes[0].redkeep", long("/", 4097), "at most 4096"},
		{"nodes[0].redkeep", "bin/redkeep", "absolute path"},
		{"nodes[0].redkeep", "/opt/red keep", notPath},
		{"nodes[0].redkeep", "/opt/red'keep", notPath},
		{"nodes[0].redkeep", `/opt/red"keep`, notPath},
		{"nodes[0].redkeep", `/opt/red\keep`, notPath},
		{"nodes[0].redkeep", "/opt/$HOME", notPath},
		{"nodes[0].redkeep", "/opt/red\u00a0keep", "non-printable character U+00A0"},
		{"nodes[1].config_path", "/etc/redkeep/pair-1.yaml", ""},
		{"nodes[1].config_path", "/etc/red keep.yaml", notPath},
		{"keepalived.track_file", "drain", "absolute path"},
		{"keepalived.watch.health_file", "/run/redkeep/redis-health", ""},
		{"keepalived.watch.health_file", "health", "absolute path"},
		{"keepalived.watch.health_file", "/run/redkeep/health 1", notPath},
		{"keepalived.watch.health_file", "/run/redkeep/drain", "must be two files"},
		{"keepalived.watch.enabled", false, ""},
		{"keepalived.watch.enabled", "sometimes", "cannot unmarshal"},
		{"switchover.bridge", false, ""},
		{"switchover.bridge", "no thanks", "cannot unmarshal"},
		{"hooks.state_file", "/var/lib/x y", notPath},
		{"hooks.state_log", "/var/log/x'y", notPath},
		{"hooks.lock_file", "lock", "absolute path"},
		{"hooks.maintenance_file", "maintenance.json", "absolute path"},
		{"hooks.maintenance_file", "/var/lib/x y.json", notPath},
		{"console.syslog", "/var/log/messages", ""},
		{"console.syslog", "/var/log/sys log", notPath},
		{"redis.password_file", "/etc/redkeep/pw", ""},
		{"redis.password_file", "pw", "absolute path"},
		{"keepalived.instance", "VI_REDIS-1.a", ""},
		{"keepalived.instance", long("V", 255), ""},
		{"keepalived.instance", long("V", 256), "not a vrrp_instance name"},
		{"keepalived.instance", "VI REDIS", "not a vrrp_instance name"},
		{"keepalived.instance", "-VI", "not a vrrp_instance name"},
		{"nodes[0].host", "fe80::11%eth0", "has an IPv6 zone"},
		{"nodes[0].ssh.host", "redis-a.example.com", ""},
		{"nodes[0].ssh.host", "2001:db8::11", ""},
		{"nodes[0].ssh.host", "-oProxyCommand=sh", "not a host name"},
		{"nodes[0].ssh.host", "redis a", "not a host name"},
		{"nodes[0].ssh.host", long("h", 254), "not a host name"},
		{"nodes[0].redis.addr", "localhost:6379", ""},
		{"nodes[0].redis.addr", "[::1]:6379", ""},
		{"nodes[0].redis.addr", "local host:6379", "not host:port"},
		{"nodes[0].redis.peer_addr", "-x:6379", "not host:port"},
		{"nodes[0].redis.peer_addr", "[fe80::1%eth0 x]:6379", "not host:port"},
		{"redis.username", "app-user", ""},
		{"redis.username", "app user", "not a Redis user name"},
		{"redis.password_env", "REDKEEP_PW", ""},
		{"redis.password_env", "1PW", "not an environment variable name"},
		{"redis.password_env", "PW-X", "not an environment variable name"},
		{"console.journal_unit", "keepalived, redis-server@6379.service", ""},
		{"console.journal_unit", "keepalived;reboot", "not a list of systemd unit names"},
		{"nodes[0].ssh.known_hosts", "~/.ssh/known hosts", ""},
		{"nodes[0].ssh.known_hosts", "~/.ssh/known_hosts\x1b[2J", "control character U+001B"},
		{"nodes[0].ssh.identity_files", []string{"~/.ssh/id", "~/.ssh/id\n"}, "nodes[0].ssh.identity_files[1]: contains control character U+000A"},
		{"redis.username", "ab\u202ecd", "non-printable character U+202E"},
		{"hooks.event_log", "events.jsonl", "absolute path"},
		{"notify.command", []string{"/usr/local/bin/page", "--team", "redis"}, ""},
		{"notify.command", []string{"page", "--team"}, "absolute path"},
		{"notify.command", []string{"/bin/echo", "a\nb"}, "notify.command[1]: contains control character U+000A"},
		{"notify.webhook", "https://alerts.example.com/redkeep", ""},
		{"notify.webhook", "ftp://alerts.example.com/x", "not an http:// or https:// URL"},
		{"notify.webhook", "https://alerts.example.com/x?token=s3cret", "secrets never go in config.yaml"},
		{"notify.webhook", "https://bot:s3cret@alerts.example.com/x", "secrets never go in config.yaml"},
		{"notify.webhook_file", "/etc/redkeep/webhook", ""},
		{"notify.webhook_file", "webhook", "absolute path"},
		{"notify.timeout", "2m", "between 0"},
		{"redis.username", long("u", 256), "at most 255"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s=%.20q", tc.path, fmt.Sprint(tc.val)), func(t *testing.T) {
			_, err := Parse(withValue(t, tc.path, tc.val), "t.yaml")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("accepted, want an error containing %q", tc.want)
			case !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error lacks %q or %q:\n%v", tc.path, tc.want, err)
			}
		})
	}
}

// Everything the config holds is bounded: the file's size, the number of
// errors printed, and the work done on a node list that is not a pair.
func TestBounds(t *testing.T) {
	good, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("file size", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "big.yaml")
		padded := append(good, "# "+strings.Repeat("x", MaxFileSize)+"\n"...)
		if err := os.WriteFile(path, padded, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, "/dev/zero"} {
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), p+": file is larger than 1 MiB") {
				t.Errorf("Load(%s) = %v, want it refused as larger than 1 MiB", p, err)
			}
		}
		if _, err := Parse(padded, "big.yaml"); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
			t.Errorf("Parse of %d bytes = %v", len(padded), err)
		}
	})
	t.Run("errors printed", func(t *testing.T) {
		var b strings.Builder
		b.Write(good)
		for i := range 30 {
			fmt.Fprintf(&b, "unknown_%d: x\n", i)
		}
		_, err := Parse([]byte(b.String()), "many.yaml")
		if err == nil {
			t.Fatal("accepted 30 unknown keys")
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != MaxPrinted+1 || lines[MaxPrinted] != "... and 10 more errors" {
			t.Errorf("%d lines, want the first %d errors and a count of the rest:\n%s", len(lines), MaxPrinted, err)
		}
		if !strings.HasPrefix(lines[0], "many.yaml:11: ") {
			t.Errorf("first error %q, want the first unknown key's line", lines[0])
		}
	})
	// yaml.v3 checks a mapping's keys for duplicates pairwise: 100,000
	// unknown keys (they fit in 1 MiB) took a minute.
	t.Run("keys in one mapping", func(t *testing.T) {
		var b strings.Builder
		b.Write(good)
		b.WriteString("console:\n")
		for i := range 5000 {
			fmt.Fprintf(&b, "  k%d: 1\n", i)
		}
		_, err := Parse([]byte(b.String()), "keys.yaml")
		if err == nil || !strings.Contains(err.Error(), "keys.yaml:11: console: 5000 keys in one mapping, at most 64") {
			t.Errorf("want the mapping refused by its size:\n%v", err)
		}
	})
	t.Run("items in one list", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("vip: 198.51.100.100/24\nnodes:\n - name: a\n   ssh:\n     identity_files: [")
		for range 5000 {
			b.WriteString("[1],")
		}
		b.WriteString("]\n")
		_, err := Parse([]byte(b.String()), "list.yaml")
		if err == nil || !strings.Contains(err.Error(), "list.yaml:5: nodes[0].ssh.identity_files: 5000 items in one list, at most 64") {
			t.Errorf("want the list refused by its size:\n%v", err)
		}
	})
	// 200,000 nodes fit in 1 MiB: once printed 1,000,000 errors.
	t.Run("200000 nodes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("vip: 198.51.100.100/24\nkeepalived: {virtual_router_id: 51}\nnodes:\n")
		for range 200000 {
			b.WriteString("- {}\n")
		}
		if b.Len() > MaxFileSize {
			t.Fatalf("test config is %d bytes", b.Len())
		}
		_, err := Parse([]byte(b.String()), "nodes.yaml")
		if err == nil {
			t.Fatal("accepted")
		}
		msg := err.Error()
		if n := strings.Count(msg, "\n") + 1; n > MaxPrinted+1 {
			t.Errorf("%d lines of errors, want at most %d", n, MaxPrinted+1)
		}
		if !strings.Contains(msg, "nodes.yaml:3: nodes: a pair has exactly two nodes, found 200000") {
			t.Errorf("no node count error:\n%s", msg)
		}
		if strings.Contains(msg, "nodes[2]") {
			t.Errorf("validated nodes past the pair:\n%s", msg)
		}
	})
}

// Every error of the YAML parser that has a place names its line: yaml.v3
// leaves out line 1, reports its parser's errors 0-based, and gives none for
// bad bytes and unknown aliases.
func TestYAMLErrorLines(t *testing.T) {
	cases := []struct {
		in   string
		line int
		want string
	}{
		{"vip: a: b\n", 1, "mapping values are not allowed"},
		{"vip: x\nkeepalived: a: b\n", 2, "mapping values are not allowed"},
		{"vip: x\nnodes: [1\nkeepalived: {}\n", 2, "did not find expected ',' or ']'"},
		{"%YAML 1.1\n%YAML 1.1\n---\nvip: x\n", 2, "duplicate %YAML directive"},
		{"vip: x\n...\nnodes: []\n", 3, "did not find expected <document start>"},
		{"- a\n- b\nvip: x\n", 3, "did not find expected '-' indicator"},
		{"vip: x\nnodes: \x01\n", 2, "control character U+0001"},
		{"vip: x\n\nnodes: \u0085\n", 3, "control character U+0085"},
		{"vip: x\nnodes: \xff\n", 2, "not valid UTF-8"},
		{"vip: &v x\nnodes: [1]\nconsole: {syslog: *w}\n", 3, "unknown anchor 'w'"},
		{"vip: x\n\tnodes: 2\n", 2, "tab character"},
		{"vip: a\nvip: b\n", 2, `vip: mapping key "vip" already defined at line 1`},
		{"keepalived:\n  virtual_router_id: abc\n", 2, "keepalived.virtual_router_id: cannot unmarshal"},
		{"vip: x\nnodes:\n - name: [1]\n", 3, "nodes[0].name: cannot unmarshal !!seq into string"},
		{"vip: x\nnodes:\n - {name: a, host: b}\n - {name: b, ssh: {port: 22, host: [x]}}\n", 4, "nodes[1].ssh.host: cannot unmarshal !!seq into string"},
		{"vip: x\nnodes: [{keepalived: {priority: 99999999999999999999}}]\n", 2, "nodes[0].keepalived.priority: cannot unmarshal !!float `9999999...` into int"},
		{"vip: x\nconsole:\n  colour: 1\n", 3, `console.colour: unknown field "colour" in console`},
		{"vip: x\n---\nvip: y\n", 2, "a second YAML document"},
		// The parser's messages quote values: they stay one line, escaped.
		{"vip: x\nkeepalived: {virtual_router_id: \"1\\n\\e[2J\"}\n", 2, "cannot unmarshal !!str `1\\n\\x1b[2J` into int"},
		{"vip: x\n\"a\\nb\": 1\n", 2, `unknown field "a\nb" in the top level`},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.in), "f.yaml")
		want := fmt.Sprintf("f.yaml:%d: ", tc.line)
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) = %v\nwant %q...%q", tc.in, err, want, tc.want)
		}
	}
}

// A password file others can read is worth a warning, not a refusal: the
// config still loads, and Warnings names the file, line and field.
func TestPasswordFileWarning(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "redis.pass")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	cfg := append(base, "redis:\n  password_file: "+pw+"\n"...)
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		want string
	}{
		{0o600, ""},
		{0o400, ""},
		{0o640, "readable by group or others (mode 0640)"},
		{0o604, "readable by group or others (mode 0604)"},
	} {
		if err := os.Chmod(pw, tc.mode); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatalf("mode %o: %v", tc.mode, err)
		}
		var got []string
		for _, w := range c.Warnings {
			got = append(got, w.Error())
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("mode %o: warnings %q, want none", tc.mode, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], path+":12: redis.password_file: ") || !strings.Contains(got[0], tc.want)):
			t.Errorf("mode %o: warnings %q, want one at %s:12 saying %q", tc.mode, got, path, tc.want)
		}
	}
	// The console's machine need not have the nodes' password file.
	if err := os.Remove(pw); err != nil {
		t.Fatal(err)
	}
	if c, err := Load(path); err != nil || len(c.Warnings) != 0 {
		t.Errorf("missing password file: %v, warnings %v", err, c.Warnings)
	}
}
