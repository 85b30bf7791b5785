package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := c.NodeNames(); strings.Join(got, ",") != "a,b" {
		t.Errorf("NodeNames = %v", got)
	}
	if c.Keepalived.AdvertInt != time.Second || c.Keepalived.Check.Fall != DefaultCheckFall || c.Hooks.SyncTimeout != DefaultSyncTimeout {
		t.Errorf("defaults not applied: %+v %+v", c.Keepalived, c.Hooks)
	}
	if c.Nodes[0].Redis.PeerAddr != "198.51.100.11:6379" || c.Nodes[0].Redis.Addr != "127.0.0.1:6379" {
		t.Errorf("redis defaults: %+v", c.Nodes[0].Redis)
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
		"unknown-key":           {":6:", `unknown field "colour" in a node`},
		"one-node":              {":2:", "nodes", "exactly two nodes, found 1"},
		"three-nodes":           {":2:", "exactly two nodes, found 3"},
		"duplicate-name":        {":4:", "nodes[1].name", `duplicate node name "a"`},
		"bad-cidr":              {":1:", "vip", "not an address in CIDR form"},
		"vip-no-prefix":         {":1:", "vip", "CIDR"},
		"vip-outside-subnet":    {":4:", "nodes[1].host", "outside the VIP's subnet 198.51.100.0/24"},
		"same-priority":         {":4:", "nodes[1].keepalived.priority", "equals nodes[0]'s"},
		"router-id-range":       {":6:", "keepalived.virtual_router_id", "1-255"},
		"inline-password":       {":8:", `unknown field "password" in redis`, "password_file"},
		"bad-duration":          {":7:", `"soon" is not a duration`},
		"host-not-ip":           {":3:", "nodes[0].host", "not an IP address"},
		"bad-redis-addr":        {":5:", "nodes[0].redis.addr", "not host:port"},
		"deadline-too-long":     {":7:", "keepalived.check.deadline", "shorter than the check interval"},
		"both-password-sources": {":7:", "redis", "not both"},
		"missing-interface":     {":3:", "nodes[0].keepalived.interface", "required"},
		"not-yaml":              {"not-yaml.yaml"},
		"empty":                 {"empty.yaml", "empty"},
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
	})
}
