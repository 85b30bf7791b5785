package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// fakePair is a healthy pair's snapshots: a master with the VIP, b its
// replica in sync.
func fakePair() []nodes.Snapshot {
	const replid = "8c2a1d7f3b4e5a6978c0d1e2f3a4b5c6d7e8f901"
	a := nodes.Snapshot{Node: "a", Conn: nodes.ConnConnected, Version: "v1.0.0", HoldsVIP: true,
		Keepalived: nodes.Keepalived{Running: true, State: "MASTER", Priority: 150},
		Redis: nodes.Redis{Up: true, Info: replication.Info{Version: "7.0.15", Role: replication.RoleMaster, ReplID: replid,
			MasterReplOffset: 10_000, ConnectedReplicas: 1}}}
	b := nodes.Snapshot{Node: "b", Conn: nodes.ConnConnected, Version: "v1.0.0",
		Keepalived: nodes.Keepalived{Running: true, State: "BACKUP", Priority: 100},
		Redis: nodes.Redis{Up: true, Info: replication.Info{Version: "7.0.15", Role: replication.RoleReplica, ReplID: replid,
			MasterReplOffset: 10_000, ReplicaOffset: 10_000, MasterHost: "198.51.100.11", MasterPort: 6379, LinkUp: true, LinkDownSecs: -1}}}
	return []nodes.Snapshot{a, b}
}

// plainPair is fakePair on nodes without redkeep: the origin document's
// scripts, the keepalived states read from its log lines.
func plainPair() []nodes.Snapshot {
	s := fakePair()
	for i := range s {
		s[i].Version, s[i].Hooks = "", nodes.HooksNotRedkeep
		s[i].Keepalived.Priority, s[i].Keepalived.StateFrom = 0, nodes.StateFromSyslog
	}
	return s
}

// inMaintenance is fakePair with a in maintenance for another hour.
func inMaintenance() []nodes.Snapshot {
	s := fakePair()
	now := time.Now()
	s[0].Maintenance = &wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade Redis", Since: now.Add(-time.Minute), Until: now.Add(time.Hour)}
	return s
}

func fakeConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunStatusWithFakes: runStatus prints what the probe saw and answers
// with the verdict, without SSH.
func TestRunStatusWithFakes(t *testing.T) {
	cfg := fakeConfig(t)
	for _, c := range []struct {
		name    string
		snaps   func() []nodes.Snapshot
		asJSON  bool
		code    int
		printed string
	}{
		{"healthy", fakePair, false, exitOK, "healthy: VIP"},
		{"healthy, json", fakePair, true, exitOK, `"healthy": true`},
		{"a pair without redkeep", plainPair, false, exitOK, "hooks: not redkeep on a and b"},
		{"a pair without redkeep, json", plainPair, true, exitOK, `"hooks": "not redkeep"`},
		{"redis down on the replica", func() []nodes.Snapshot {
			s := fakePair()
			s[1].Redis = nodes.Redis{Err: "dial tcp: connection refused"}
			return s
		}, false, exitUnhealthy, "NOT HEALTHY"},
		{"healthy, in maintenance", inMaintenance, false, exitMaintenance, "MAINTENANCE on a: by alice@laptop: upgrade Redis, until"},
		{"healthy, in maintenance, json", inMaintenance, true, exitMaintenance, `"maintenance": {
    "active": true,
    "nodes": [
      "a"
    ]
  }`},
		{"healthy, maintenance expired", func() []nodes.Snapshot {
			s := inMaintenance()
			s[0].Maintenance.Until = time.Now().Add(-time.Second)
			return s
		}, true, exitOK, `"active": false`},
		{"not healthy wins over maintenance", func() []nodes.Snapshot {
			s := inMaintenance()
			s[0].Redis = nodes.Redis{Err: "dial tcp: connection refused"}
			return s
		}, false, exitUnhealthy, "MAINTENANCE on a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			probed := false
			o := &statusOptions{asJSON: c.asJSON, timeout: time.Second, out: &out,
				probe: func(ctx context.Context, _ *config.Config, _ time.Duration) []nodes.Snapshot {
					if _, ok := ctx.Deadline(); !ok {
						t.Error("the probe has no deadline")
					}
					probed = true
					return c.snaps()
				}}
			err := runStatus(context.Background(), cfg, o)
			if got := codeOf(err); got != c.code || !probed || !strings.Contains(out.String(), c.printed) {
				t.Fatalf("exit %d (%v), want %d with %q; printed:\n%s", got, err, c.code, c.printed, out.String())
			}
			if c.asJSON && !json.Valid(out.Bytes()) {
				t.Errorf("--json printed invalid JSON:\n%s", out.String())
			}
		})
	}
}

// codeOf is the exit code Main would return for err.
func codeOf(err error) int {
	if err == nil {
		return exitOK
	}
	return exitCode(err)
}
