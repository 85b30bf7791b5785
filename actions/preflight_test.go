package actions

import (
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(configtest.Pair{}.YAML()), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// estimated is a measured lag of bytes that the replica applies at rate
// bytes per second, as MeasureLagRate reports it.
func estimated(bytes int64, rate float64) *nodes.Lag {
	e := nodes.EstimatePause(bytes, []nodes.OffsetSample{{At: time.Unix(0, 0), Offset: 0}, {At: time.Unix(1, 0), Offset: int64(rate)}}, 1<<40, 0)
	return &nodes.Lag{Bytes: bytes, Seconds: e.Pause.Seconds(), Known: true, Source: nodes.LagCaughtUp, Pause: &e}
}

// healthy is a pair with a master holding the VIP and b its replica,
// 100 bytes behind, which it applies at 1 MB/s.
func healthy() Facts {
	const replid = "8c2a1d7f3b4e5a6978c0d1e2f3a4b5c6d7e8f901"
	master := nodes.Snapshot{Node: "a", Conn: nodes.ConnConnected, Version: "v1.0.0", Hooks: nodes.HooksRedkeep, HoldsVIP: true,
		Keepalived: nodes.Keepalived{Running: true, State: "MASTER"},
		Redis:      nodes.Redis{Up: true, Info: replication.Info{Version: "7.0.15", Role: replication.RoleMaster, ReplID: replid, MasterReplOffset: 10_100, ConnectedReplicas: 1}}}
	replica := nodes.Snapshot{Node: "b", Conn: nodes.ConnConnected, Version: "v1.0.0", Hooks: nodes.HooksRedkeep,
		Keepalived: nodes.Keepalived{Running: true, State: "BACKUP"},
		Redis: nodes.Redis{Up: true, Info: replication.Info{Version: "7.0.15", Role: replication.RoleReplica, ReplID: replid, MasterReplOffset: 10_000, ReplicaOffset: 10_000,
			MasterHost: "198.51.100.11", MasterPort: 6379, LinkUp: true, LinkDownSecs: -1}, Lag: estimated(100, 1e6)}}
	return Facts{Snapshots: []nodes.Snapshot{master, replica}}
}

// swapped is healthy with the roles the other way round.
func swapped() Facts {
	f := healthy()
	a, b := f.Snapshots[0], f.Snapshots[1]
	a.Node, b.Node = "b", "a"
	b.Redis.Info.MasterHost = "198.51.100.12"
	return Facts{Snapshots: []nodes.Snapshot{b, a}}
}

func TestPreflight(t *testing.T) {
	cfg := testConfig(t)
	now := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		facts  func() Facts
		target string
		maxLag int64
		// fail lists the checks that must fail ("name" or "name@node");
		// nil means the plan passes.
		fail     []string
		from, to string
		// value is a substring of the first failed check's value.
		value string
	}{
		{name: "healthy, default target", facts: healthy, maxLag: 1 << 20, from: "a", to: "b"},
		{name: "healthy, named target", facts: healthy, target: "b", maxLag: 1 << 20, from: "a", to: "b"},
		{name: "back the other way", facts: swapped, maxLag: 1 << 20, from: "b", to: "a"},
		{name: "lag exactly at the limit", facts: healthy, maxLag: 100, from: "a", to: "b"},
		{name: "lag above the limit", facts: healthy, maxLag: 99, fail: []string{CheckLag}, value: "100 B"},
		{name: "no byte limit unless set", facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.ReplicaOffset = 100
			f.Snapshots[1].Redis.Lag = estimated(10_000, 300<<20)
			return f
		}, from: "a", to: "b"},
		{name: "pause at the budget", facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Lag = estimated(100, 200) // 500 ms
			return f
		}, from: "a", to: "b"},
		{name: "pause above the budget", facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Lag = estimated(100, 199)
			return f
		}, fail: []string{CheckPause}, value: "b is ~503ms behind at 199 B/s; writes would pause about that long"},
		{name: "replica applied nothing while behind", facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Lag.Pause = &nodes.PauseEstimate{Bytes: 100, Window: 150 * time.Millisecond}
			return f
		}, fail: []string{CheckPause}, value: "b is 100 B behind and applied nothing in 150ms"},
		{name: "apply rate not measured", facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Lag = nil
			return f
		}, fail: []string{CheckPause}, value: "unknown: 100 B behind, its apply rate not measured"},
		{name: "in sync needs no measurement", facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.ReplicaOffset = 10_100
			f.Snapshots[1].Redis.Lag = nil
			return f
		}, from: "a", to: "b"},
		{name: "target is the master", facts: healthy, target: "a", maxLag: 1 << 20, fail: []string{CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "already the master"},
		{name: "target unknown", facts: healthy, target: "c", maxLag: 1 << 20, fail: []string{CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: `"c" is not a node`},
		{name: "a pair without redkeep: deploy first", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			for i := range f.Snapshots {
				f.Snapshots[i].Version, f.Snapshots[i].Hooks = "", nodes.HooksNotRedkeep
			}
			return f
		}, fail: []string{CheckHooks + "@a", CheckHooks + "@b", CheckVersions, CheckNoOperation + "@a", CheckNoOperation + "@b"}, value: "deploy first"},
		{name: "replica link down", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.LinkUp = false
			f.Snapshots[1].Redis.Info.LinkDownSecs = 12
			return f
		}, fail: []string{CheckLink, CheckLag, CheckPause}, value: "down for 12 s"},
		{name: "replica syncing", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.SyncInProgress = true
			return f
		}, fail: []string{CheckSyncing}, value: "syncing"},
		{name: "replica loading", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.Loading = true
			return f
		}, fail: []string{CheckSyncing}, value: "loading"},
		{name: "replica of someone else", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.MasterHost = "203.0.113.5"
			return f
		}, fail: []string{CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "203.0.113.5:6379"},
		{name: "different history", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info.ReplID = "ffffffffffffffffffffffffffffffffffffffff"
			return f
		}, fail: []string{CheckLag, CheckPause}, value: "no shared history"},
		{name: "target node unreachable", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1] = nodes.Snapshot{Node: "b", Conn: nodes.ConnUnreachable, ConnErr: "dial tcp: i/o timeout"}
			return f
		}, fail: []string{CheckReachable + "@b", CheckRedisUp + "@b", CheckKeepalived + "@b", CheckVersions, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "i/o timeout"},
		{name: "no snapshot of a node", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots = f.Snapshots[:1]
			return f
		}, fail: []string{CheckReachable + "@b", CheckRedisUp + "@b", CheckKeepalived + "@b", CheckVersions, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}},
		{name: "target Redis frozen: lag from the master's view", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[0].Redis.Info.Replicas = []replication.Replica{{IP: "198.51.100.12", Port: 6379, State: "online", Offset: 7_000, Lag: 4}}
			f.Snapshots[1].Redis = nodes.Redis{Err: "i/o timeout"}
			return f
		}, fail: []string{CheckRedisUp + "@b", CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "down: i/o timeout"},
		{name: "master node unreachable", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[0] = nodes.Snapshot{Node: "a", Conn: nodes.ConnHostKeyRefused, ConnErr: "host key changed"}
			return f
		}, fail: []string{CheckReachable + "@a", CheckRedisUp + "@a", CheckKeepalived + "@a", CheckVersions, CheckVIPHolder, CheckVIPOnMaster, CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}},
		{name: "versions differ", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Version = "v1.1.0"
			return f
		}, fail: []string{CheckVersions}, value: "a v1.0.0, b v1.1.0"},
		{name: "keepalived down on the target", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Keepalived = nodes.Keepalived{}
			return f
		}, fail: []string{CheckKeepalived + "@b", CheckTargetReady}, value: "not running"},
		{name: "target facts missing", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Keepalived = nodes.Keepalived{Err: "redkeep hook state --json: context deadline exceeded"}
			return f
		}, fail: []string{CheckKeepalived + "@b", CheckTargetReady}, value: "unknown: redkeep hook state --json: context deadline exceeded"},
		{name: "Redis too old", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[0].Redis.Info.Version = "6.0.16"
			return f
		}, fail: []string{CheckRedisVer + "@a"}, value: "6.0.16"},
		{name: "target in FAULT", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Keepalived.State = "FAULT"
			return f
		}, fail: []string{CheckTargetReady}, value: "FAULT"},
		{name: "VIP on no node", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[0].HoldsVIP = false
			return f
		}, fail: []string{CheckVIPHolder, CheckVIPOnMaster, CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "none"},
		{name: "VIP on both", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].HoldsVIP = true
			return f
		}, fail: []string{CheckVIPHolder, CheckVIPOnMaster, CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "a, b"},
		{name: "VIP on the replica", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[0].HoldsVIP, f.Snapshots[1].HoldsVIP = false, true
			return f
		}, fail: []string{CheckVIPOnMaster, CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "VIP on b, masters: a"},
		{name: "two masters", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[1].Redis.Info = replication.Info{Version: "7.0.15", Role: replication.RoleMaster}
			return f
		}, fail: []string{CheckVIPOnMaster, CheckTarget, CheckTargetReady, CheckReplicaOf, CheckLink, CheckSyncing, CheckLag, CheckPause}, value: "masters: a, b"},
		{name: "switchover in progress", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Locks = map[string]*wire.SwitchoverLock{"b": {Owner: "bob@ops:99", From: "a", To: "b", PID: 99, Expires: now.Add(time.Minute)}}
			return f
		}, fail: []string{CheckNoOperation + "@b"}, value: "bob@ops:99"},
		{name: "maintenance on the replica", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Now = now
			f.Snapshots[1].Maintenance = &wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade Redis", Since: now.Add(-time.Minute), Until: now.Add(time.Hour)}
			return f
		}, fail: []string{CheckMaintenance + "@b"}, value: "by alice@laptop: upgrade Redis"},
		{name: "maintenance expired", maxLag: 1 << 20, from: "a", to: "b", facts: func() Facts {
			f := healthy()
			f.Now = now
			f.Snapshots[0].Maintenance = &wire.Maintenance{On: true, By: "alice", Since: now.Add(-time.Hour), Until: now}
			return f
		}},
		{name: "maintenance turned off", maxLag: 1 << 20, from: "a", to: "b", facts: func() Facts {
			f := healthy()
			f.Now = now
			f.Snapshots[0].Maintenance = &wire.Maintenance{By: "alice", Since: now.Add(-time.Minute)}
			return f
		}},
		{name: "maintenance file unreadable", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.Snapshots[0].MaintenanceErr = "read maintenance file: permission denied"
			return f
		}, fail: []string{CheckMaintenance + "@a"}, value: "unknown: read maintenance file: permission denied"},
		{name: "lock unreadable", maxLag: 1 << 20, facts: func() Facts {
			f := healthy()
			f.LockErrs = map[string]string{"a": "permission denied"}
			return f
		}, fail: []string{CheckNoOperation + "@a"}, value: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Preflight(cfg, tt.facts(), tt.target, Limits{MaxPause: 500 * time.Millisecond, MaxLag: tt.maxLag})
			var failed []string
			for _, c := range p.Failed() {
				id := c.Name
				if c.Node != "" && strings.Contains(strings.Join(tt.fail, ","), c.Name+"@") {
					id += "@" + c.Node
				}
				failed = append(failed, id)
			}
			if strings.Join(failed, "|") != strings.Join(tt.fail, "|") {
				t.Fatalf("failed checks = %q, want %q\n%s", failed, tt.fail, render(p))
			}
			if p.OK() != (len(tt.fail) == 0) {
				t.Errorf("OK() = %v with failures %v", p.OK(), failed)
			}
			if tt.fail == nil && (p.From != tt.from || p.To != tt.to) {
				t.Errorf("plan %s -> %s, want %s -> %s", p.From, p.To, tt.from, tt.to)
			}
			if tt.value != "" && !strings.Contains(p.Failed()[0].Value, tt.value) {
				t.Errorf("first failed check %q = %q, want it to contain %q", p.Failed()[0].Name, p.Failed()[0].Value, tt.value)
			}
			for _, c := range p.Checks {
				if c.Value == "" || c.Threshold == "" {
					t.Errorf("check %q on %q lacks a value or threshold: %+v", c.Name, c.Node, c)
				}
			}
		})
	}
}

func render(p Plan) string {
	var b strings.Builder
	for _, c := range p.Checks {
		b.WriteString(c.Name + "@" + c.Node + " = " + c.Value + " (" + c.Threshold + ")")
		if c.Pass {
			b.WriteString(" ok\n")
		} else {
			b.WriteString(" FAIL\n")
		}
	}
	return b.String()
}

func TestPreflightLagFromMastersView(t *testing.T) {
	f := healthy()
	f.Snapshots[0].Redis.Info.Replicas = []replication.Replica{{IP: "198.51.100.12", Port: 6379, State: "online", Offset: 7_000, Lag: 4}}
	f.Snapshots[1].Redis = nodes.Redis{Err: "i/o timeout"}
	p := Preflight(testConfig(t), f, "", Limits{MaxPause: time.Second, MaxLag: 1 << 20})
	for _, c := range p.Checks {
		if c.Name == CheckLag {
			if c.Pass || c.Value != "3.0 KiB by the master's view (last ack 4 s ago)" {
				t.Fatalf("lag check = %+v", c)
			}
			return
		}
	}
	t.Fatal("no lag check")
}
