package nodes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/replication"
)

// testPair is two "nodes" on this machine: each an sshd on loopback and a
// redis-server reached through that sshd's direct-tcpip channel, with a
// stand-in for the node's redkeep that prints the hooks' state JSON.
type testPair struct {
	cfg   *config.Config
	ssh   [2]*sshtest.Server
	redis [2]*redistest.Server
	dir   string
	// cfgPath is the config file, also the nodes' own config_path.
	cfgPath string
}

const testPassword = "s3cret pass"

func startPair(t testing.TB) *testPair {
	t.Helper()
	p := &testPair{dir: t.TempDir()}
	for i := range 2 {
		p.ssh[i] = sshtest.Start(t)
		p.redis[i] = redistest.Start(t, redistest.WithPassword(testPassword))
	}
	p.redis[1].ReplicaOf(p.redis[0])
	kh := filepath.Join(p.dir, "known_hosts")
	p.ssh[0].WriteKnownHosts(kh)
	p.ssh[1].WriteKnownHosts(kh)
	sshConfig := filepath.Join(p.dir, "ssh_config")
	writeFile(t, sshConfig, "Host *\n  IdentityAgent none\n")
	pwFile := filepath.Join(p.dir, "redis.pass")
	writeFile(t, pwFile, testPassword+"\n")

	yaml := "vip: 127.0.0.100/8\nnodes:\n"
	for i, name := range []string{"a", "b"} {
		yaml += fmt.Sprintf(`  - name: %s
    host: 127.0.0.%d
    ssh: {host: 127.0.0.1, port: %d, user: %s, identity_files: [%s], known_hosts: %s, config_file: %s}
    redis: {addr: "%s"}
    keepalived: {priority: %d, interface: lo}
    redkeep: %s
`, name, i+1, p.ssh[i].Port, p.ssh[i].User, p.ssh[i].ClientKeyFile, kh, sshConfig, p.redis[i].Addr(), 150-50*i, filepath.Join(p.dir, "redkeep-"+name))
	}
	yaml += fmt.Sprintf("keepalived: {virtual_router_id: 51}\nredis: {password_file: %s}\nconsole: {poll_interval: 50ms, lag_warn: 1024}\n", pwFile)
	p.cfgPath = filepath.Join(p.dir, "config.yaml")
	writeFile(t, p.cfgPath, yaml)
	cfg, err := config.Load(p.cfgPath)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	p.cfg = cfg
	p.setFacts(t, "a", "MASTER", true, "v1")
	p.setFacts(t, "b", "BACKUP", false, "v1")
	return p
}

// setFacts makes node's stand-in redkeep report the given hook state.
func (p *testPair) setFacts(t testing.TB, node, state string, holdsVIP bool, version string) {
	t.Helper()
	script := fmt.Sprintf(`#!/bin/sh
[ "$1 $2 $3" = "hook state --json" ] || { echo "unexpected args: $*" >&2; exit 2; }
echo '{"node":"%s","state":{"node":"%s","instance":"VI_REDIS","state":"%s","priority":100,"since":"2026-11-26T01:02:03Z","generation":1,"pid":1,"last_action":"test","last_result":"ok"},"holds_vip":%v,"keepalived_running":true,"drained":false,"version":"%s"}'
`, node, node, state, holdsVIP, version)
	path := filepath.Join(p.dir, "redkeep-"+node)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// Atomic, so a poll never runs a half-written script.
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func codes(v Verdict) []string {
	var c []string
	for _, r := range v.Reasons {
		c = append(c, r.Code)
	}
	return c
}

// eventually probes until the verdict satisfies ok, or fails after a bound
// generous enough for Redis to notice a change (no timing is asserted).
func eventually(t *testing.T, cfg *config.Config, what string, ok func([]Snapshot, Verdict) bool) ([]Snapshot, Verdict) {
	t.Helper()
	var snaps []Snapshot
	var v Verdict
	for range 100 {
		snaps = ProbeAll(ctxFor(t, 10*time.Second), cfg)
		v = Judge(snaps, Thresholds{LagWarn: cfg.Console.LagWarn})
		if ok(snaps, v) {
			return snaps, v
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: never happened; last verdict %+v\nsnapshots %+v", what, v, snaps)
	return nil, v
}

func TestProbeAndVerdictAgainstRealServers(t *testing.T) {
	t.Parallel()
	p := startPair(t)

	snaps, v := eventually(t, p.cfg, "healthy pair", func(_ []Snapshot, v Verdict) bool { return v.Healthy })
	a, b := snaps[0], snaps[1]
	if a.Node != "a" || b.Node != "b" {
		t.Fatalf("snapshots out of config order: %s, %s", a.Node, b.Node)
	}
	if a.Conn != ConnConnected || !a.Redis.Up || a.Redis.Info.Role != replication.RoleMaster || !a.HoldsVIP || a.Version != "v1" || a.Keepalived.State != "MASTER" {
		t.Errorf("a = %+v", a)
	}
	if !b.Redis.Up || b.Redis.Info.Role != replication.RoleReplica || !b.Redis.Info.LinkUp || b.Keepalived.State != "BACKUP" {
		t.Errorf("b = %+v", b)
	}
	if v.Master != "a" || v.VIPHolder != "a" {
		t.Errorf("verdict %+v", v)
	}

	t.Run("link down", func(t *testing.T) {
		if err := p.redis[1].Client().Do(ctxFor(t, 5*time.Second), "REPLICAOF", "127.0.0.1", "1").Err(); err != nil {
			t.Fatal(err)
		}
		eventually(t, p.cfg, "link-down", func(_ []Snapshot, v Verdict) bool { return slices.Contains(codes(v), ReasonLinkDown) })
	})
	t.Run("two masters", func(t *testing.T) {
		if err := p.redis[1].Client().Do(ctxFor(t, 5*time.Second), "REPLICAOF", "NO", "ONE").Err(); err != nil {
			t.Fatal(err)
		}
		_, v := eventually(t, p.cfg, "two-masters", func(_ []Snapshot, v Verdict) bool { return slices.Contains(codes(v), ReasonTwoMasters) })
		if v.Master != "" {
			t.Errorf("Master = %q with two masters", v.Master)
		}
	})
	t.Run("VIP on the replica", func(t *testing.T) {
		p.redis[1].ReplicaOf(p.redis[0])
		p.setFacts(t, "a", "BACKUP", false, "v1")
		p.setFacts(t, "b", "MASTER", true, "v1")
		eventually(t, p.cfg, "vip-not-master", func(_ []Snapshot, v Verdict) bool {
			return slices.Equal(codes(v), []string{ReasonVIPNotMaster}) && v.VIPHolder == "b" && v.Master == "a"
		})
	})
	t.Run("versions differ", func(t *testing.T) {
		p.setFacts(t, "a", "MASTER", true, "v1")
		p.setFacts(t, "b", "BACKUP", false, "v2")
		eventually(t, p.cfg, "version-mismatch", func(_ []Snapshot, v Verdict) bool {
			return slices.Equal(codes(v), []string{ReasonVersionMismatch})
		})
		p.setFacts(t, "b", "BACKUP", false, "v1")
	})
	t.Run("redis down", func(t *testing.T) {
		p.redis[1].Stop()
		snaps, _ := eventually(t, p.cfg, "redis-down", func(_ []Snapshot, v Verdict) bool { return slices.Equal(codes(v), []string{ReasonRedisDown}) })
		if snaps[1].Conn != ConnConnected || snaps[1].Redis.Err == "" {
			t.Errorf("b = %+v; want connected with a Redis error", snaps[1])
		}
	})
	t.Run("node unreachable", func(t *testing.T) {
		p.ssh[1].Stop()
		snaps, _ := eventually(t, p.cfg, "unreachable", func(_ []Snapshot, v Verdict) bool { return slices.Equal(codes(v), []string{ReasonUnreachable}) })
		if !snaps[0].Redis.Up {
			t.Errorf("a's snapshot suffered from b's death: %+v", snaps[0])
		}
	})
}

func TestProbeWrongPassword(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	writeFile(t, p.cfg.Redis.PasswordFile, "wrong\n")
	snaps, _ := eventually(t, p.cfg, "auth error", func(s []Snapshot, _ Verdict) bool { return s[0].Conn == ConnConnected })
	if snaps[0].Redis.Up || !containsAll(snaps[0].Redis.Err, "rejected our credentials") {
		t.Errorf("a's Redis with a wrong password: %+v", snaps[0].Redis)
	}
}

func TestProbePlainNode(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	// No redkeep on the node: the probe reads the state file itself.
	p.cfg.Nodes[1].Redkeep = filepath.Join(p.dir, "not-installed")
	stateFile := filepath.Join(p.dir, "state.json")
	writeFile(t, stateFile, `{"node":"b","instance":"VI_REDIS","state":"BACKUP","priority":100,"since":"2026-11-26T01:02:03Z","generation":2,"pid":1,"last_action":"became replica","last_result":"ok"}`)
	p.cfg.Hooks.StateFile = stateFile
	snaps := ProbeAll(ctxFor(t, 10*time.Second), p.cfg)
	b := snaps[1]
	if b.Conn != ConnConnected || b.Keepalived.Err != "" || b.Keepalived.State != "BACKUP" || b.Keepalived.LastAction != "became replica" || b.Version != "" || b.HoldsVIP {
		t.Errorf("plain node b = %+v", b)
	}
	v := Judge(snaps, Thresholds{LagWarn: 1 << 20})
	if !slices.Contains(codes(v), ReasonVersionMismatch) {
		t.Errorf("a node without redkeep beside one with it: %v", codes(v))
	}
}

func TestPoller(t *testing.T) {
	t.Parallel()
	p := startPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pl := NewPoller(p.cfg, "a")
	if pl.Conn() == nil {
		t.Fatal("Poller has no connection")
	}
	done := make(chan struct{})
	go func() { pl.Run(ctx); close(done) }()

	first := <-pl.Snapshots()
	if first.Node != "a" {
		t.Fatalf("snapshot of %q", first.Node)
	}
	// A reader that falls behind gets the newest snapshot, not a backlog.
	time.Sleep(10 * p.cfg.Console.PollInterval)
	s1 := <-pl.Snapshots()
	s2 := <-pl.Snapshots()
	if !s2.Time.After(s1.Time) || !s1.Time.After(first.Time) {
		t.Errorf("snapshot times not increasing: %v, %v, %v", first.Time, s1.Time, s2.Time)
	}
	if s2.Conn != ConnConnected || !s2.Redis.Up {
		t.Errorf("snapshot = %+v", s2)
	}
	// Its connection serves remote commands too (log following).
	if out, err := pl.Conn().Run(ctxFor(t, 5*time.Second), "echo ok"); err != nil || string(out) != "ok\n" {
		t.Errorf("Run over the Poller's Conn: %q, %v", out, err)
	}
	cancel()
	<-done
	for range pl.Snapshots() {
	}

	t.Run("fast polls between full ones", func(t *testing.T) {
		// The stand-in redkeep (full probes) says MASTER; the state file,
		// which fast probes read themselves, says BACKUP.
		stateFile := filepath.Join(p.dir, "state-a.json")
		writeFile(t, stateFile, `{"node":"a","instance":"VI_REDIS","state":"BACKUP","priority":150,"since":"2026-11-26T01:02:03Z","generation":3,"pid":1,"last_action":"x","last_result":"ok"}`)
		cfg := *p.cfg
		cfg.Hooks.StateFile = stateFile
		pl := NewPoller(&cfg, "a", WithInterval(10*time.Millisecond), WithFullFactsEvery(30*time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go pl.Run(ctx)
		var full, fast int
		for s := range pl.Snapshots() {
			if s.Keepalived.Err != "" || s.Conn != ConnConnected {
				t.Fatalf("snapshot %+v", s)
			}
			switch s.Keepalived.State {
			case "MASTER":
				full++
			case "BACKUP":
				fast++
				if s.Version != "v1" || !s.Keepalived.Running {
					t.Errorf("fast snapshot lost the full probe's facts: %+v", s)
				}
			}
			if full >= 2 && fast >= 2 {
				cancel()
			}
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		pl := NewPoller(p.cfg, "zz", WithInterval(time.Hour))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go pl.Run(ctx)
		s := <-pl.Snapshots()
		if s.Conn != ConnUnreachable || !containsAll(s.ConnErr, "configuration", `no node "zz"`) {
			t.Errorf("snapshot of an unknown node = %+v", s)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
