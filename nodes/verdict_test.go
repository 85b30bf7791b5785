package nodes

import (
	"reflect"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/replication"
)

const replID = "8c1e5a3b7f2d4e6a9b0c1d2e3f4a5b6c7d8e9f00"

// healthyPair is a: master holding the VIP, b: replica in sync.
func healthyPair() []Snapshot {
	a := Snapshot{Node: "a", Conn: ConnConnected, Version: "v1", HoldsVIP: true,
		Keepalived: Keepalived{Running: true, State: "MASTER"},
		Redis:      Redis{Up: true, Info: replication.Info{Role: replication.RoleMaster, ReplID: replID, MasterReplOffset: 5000, ConnectedReplicas: 1}}}
	b := Snapshot{Node: "b", Conn: ConnConnected, Version: "v1",
		Keepalived: Keepalived{Running: true, State: "BACKUP"},
		Redis: Redis{Up: true, Info: replication.Info{Role: replication.RoleReplica, ReplID: replID, MasterReplOffset: 5000,
			ReplicaOffset: 5000, MasterHost: "198.51.100.11", MasterPort: 6379, LinkUp: true, LinkDownSecs: -1}}}
	return []Snapshot{a, b}
}

func TestJudge(t *testing.T) {
	th := Thresholds{LagWarn: 1024}
	tests := []struct {
		name      string
		mod       func(a, b *Snapshot)
		codes     []string
		holder    string
		master    string
		textParts []string
	}{
		{name: "healthy", mod: func(a, b *Snapshot) {}, holder: "a", master: "a"},
		{name: "healthy mirrored", mod: func(a, b *Snapshot) {
			a.HoldsVIP, b.HoldsVIP = false, true
			a.Redis.Info, b.Redis.Info = b.Redis.Info, a.Redis.Info
		}, holder: "b", master: "b"},
		{name: "vip on no node", mod: func(a, b *Snapshot) { a.HoldsVIP = false },
			codes: []string{ReasonVIPNone}, master: "a"},
		{name: "vip on both", mod: func(a, b *Snapshot) { b.HoldsVIP = true },
			codes: []string{ReasonVIPBoth}, master: "a", textParts: []string{"a and b"}},
		{name: "vip holder is a replica", mod: func(a, b *Snapshot) { a.HoldsVIP, b.HoldsVIP = false, true },
			codes: []string{ReasonVIPNotMaster}, holder: "b", master: "a", textParts: []string{"VIP is on b but its Redis is a replica; the master is a"}},
		{name: "two masters", mod: func(a, b *Snapshot) {
			b.Redis.Info = replication.Info{Role: replication.RoleMaster, ReplID: "ffff", MasterReplOffset: 10}
		}, codes: []string{ReasonTwoMasters}, holder: "a", textParts: []string{"two Redis masters: a and b"}},
		{name: "no master", mod: func(a, b *Snapshot) {
			a.Redis.Info = b.Redis.Info
		}, codes: []string{ReasonVIPNotMaster, ReasonNoMaster}, holder: "a",
			textParts: []string{"VIP is on a but its Redis is a replica\nno Redis master"}},
		{name: "link down", mod: func(a, b *Snapshot) { b.Redis.Info.LinkUp, b.Redis.Info.LinkDownSecs = false, 12 },
			codes: []string{ReasonLinkDown}, holder: "a", master: "a", textParts: []string{"b's replication link to 198.51.100.11:6379 is down for 12s"}},
		{name: "syncing", mod: func(a, b *Snapshot) { b.Redis.Info.LinkUp, b.Redis.Info.SyncInProgress = false, true },
			codes: []string{ReasonSyncing}, holder: "a", master: "a"},
		{name: "loading", mod: func(a, b *Snapshot) { b.Redis.Info.Loading = true },
			codes: []string{ReasonSyncing}, holder: "a", master: "a"},
		{name: "lag above threshold", mod: func(a, b *Snapshot) { b.Redis.Info.ReplicaOffset, b.Redis.Info.MasterReplOffset = 2000, 2000 },
			codes: []string{ReasonLag}, holder: "a", master: "a", textParts: []string{"b is 2.9 KiB behind a (warn above 1.0 KiB)"}},
		{name: "lag at threshold", mod: func(a, b *Snapshot) { b.Redis.Info.ReplicaOffset, b.Redis.Info.MasterReplOffset = 5000-1024, 5000-1024 },
			holder: "a", master: "a"},
		{name: "replica of another history has no byte lag", mod: func(a, b *Snapshot) { b.Redis.Info.ReplID, b.Redis.Info.ReplicaOffset = "other", 1 },
			holder: "a", master: "a"},
		{name: "replica unreachable", mod: func(a, b *Snapshot) {
			*b = Snapshot{Node: "b", Conn: ConnUnreachable, ConnErr: "dial tcp: connection refused", Redis: Redis{Err: "node not reachable over SSH"}}
		}, codes: []string{ReasonUnreachable}, holder: "a", master: "a", textParts: []string{"b unreachable: dial tcp: connection refused"}},
		{name: "host key refused", mod: func(a, b *Snapshot) {
			*b = Snapshot{Node: "b", Conn: ConnHostKeyRefused, ConnErr: "host key for 198.51.100.12:22 CHANGED"}
		}, codes: []string{ReasonUnreachable}, holder: "a", master: "a", textParts: []string{"b unreachable (host key refused): host key for"}},
		{name: "master unreachable: no vip-none guess", mod: func(a, b *Snapshot) {
			*a = Snapshot{Node: "a", Conn: ConnUnreachable}
		}, codes: []string{ReasonUnreachable}},
		{name: "both unreachable", mod: func(a, b *Snapshot) {
			*a = Snapshot{Node: "a", Conn: ConnUnreachable}
			*b = Snapshot{Node: "b", Conn: ConnAuthFailed}
		}, codes: []string{ReasonUnreachable, ReasonUnreachable}},
		{name: "redis down on the vip holder", mod: func(a, b *Snapshot) {
			a.Redis = Redis{Err: "connection refused"}
			b.Redis.Info.LinkUp = false
		}, codes: []string{ReasonRedisDown, ReasonLinkDown}, holder: "a", textParts: []string{"Redis on a is down, and it holds the VIP: connection refused"}},
		{name: "redis down on the replica", mod: func(a, b *Snapshot) { b.Redis = Redis{Err: "connection refused"} },
			codes: []string{ReasonRedisDown}, holder: "a", master: "a", textParts: []string{"Redis on b is down: connection refused"}},
		{name: "keepalived not running", mod: func(a, b *Snapshot) { b.Keepalived.Running = false },
			codes: []string{ReasonKeepalivedDown}, holder: "a", master: "a"},
		{name: "keepalived stopped", mod: func(a, b *Snapshot) { b.Keepalived.State = "STOP" },
			codes: []string{ReasonKeepalivedDown}, holder: "a", master: "a", textParts: []string{"last state STOP"}},
		{name: "keepalived fault", mod: func(a, b *Snapshot) { b.Keepalived.State = "FAULT" },
			codes: []string{ReasonFault}, holder: "a", master: "a"},
		{name: "drained", mod: func(a, b *Snapshot) { b.Keepalived.Drained, b.Keepalived.State = true, "FAULT" },
			codes: []string{ReasonDrained}, holder: "a", master: "a"},
		{name: "versions differ", mod: func(a, b *Snapshot) { b.Version = "v2" },
			codes: []string{ReasonVersionMismatch}, holder: "a", master: "a", textParts: []string{"a v1, b v2"}},
		{name: "redkeep missing on a node", mod: func(a, b *Snapshot) { b.Version = "" },
			codes: []string{ReasonVersionMismatch}, holder: "a", master: "a", textParts: []string{"b (not installed)"}},
		{name: "node facts unknown", mod: func(a, b *Snapshot) { b.Keepalived = Keepalived{Err: "state file: not JSON"}; b.Version = "" },
			codes: []string{ReasonNodeStateUnknown}, holder: "a", master: "a"},
		{name: "facts unknown on the holder: no vip-none guess", mod: func(a, b *Snapshot) { a.HoldsVIP = false; a.Keepalived = Keepalived{Err: "x"} },
			codes: []string{ReasonNodeStateUnknown}, master: "a"},
		{name: "several at once, most serious first", mod: func(a, b *Snapshot) {
			b.Redis.Info = replication.Info{Role: replication.RoleMaster, ReplID: "ffff"}
			b.HoldsVIP = true
			b.Keepalived.Running = false
			b.Version = "v2"
		}, codes: []string{ReasonTwoMasters, ReasonVIPBoth, ReasonKeepalivedDown, ReasonVersionMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snaps := healthyPair()
			tt.mod(&snaps[0], &snaps[1])
			v := Judge(snaps, th)
			var codes []string
			var texts []string
			for _, r := range v.Reasons {
				codes = append(codes, r.Code)
				texts = append(texts, r.Text)
			}
			if !reflect.DeepEqual(codes, tt.codes) {
				t.Errorf("codes = %v, want %v\n%s", codes, tt.codes, strings.Join(texts, "\n"))
			}
			if v.Healthy != (len(tt.codes) == 0) {
				t.Errorf("Healthy = %v with reasons %v", v.Healthy, codes)
			}
			if v.VIPHolder != tt.holder || v.Master != tt.master {
				t.Errorf("holder, master = %q, %q; want %q, %q", v.VIPHolder, v.Master, tt.holder, tt.master)
			}
			all := strings.Join(texts, "\n")
			for _, p := range tt.textParts {
				if !strings.Contains(all, p) {
					t.Errorf("reasons %q do not say %q", all, p)
				}
			}
		})
	}
}

func TestHoldsAddr(t *testing.T) {
	out := `1: lo    inet 127.0.0.1/8 scope host lo\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.11/24 brd 198.51.100.255 scope global eth0\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.100/24 scope global secondary eth0\       valid_lft forever preferred_lft forever
2: eth0    inet6 fe80::1/64 scope link \       valid_lft forever preferred_lft forever
1: lo    inet 198.51.100.200/32 scope global lo\       valid_lft 3sec preferred_lft 0sec
`
	// 198.51.100.200 is on lo only: a switchover's bridge, not a VIP held.
	for addr, want := range map[string]bool{"198.51.100.100": true, "198.51.100.11": true, "198.51.100.10": false, "fe80::1": true, "198.51.100.1": false, "198.51.100.200": false} {
		if got := holdsAddr(out, mustAddr(t, addr)); got != want {
			t.Errorf("holdsAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestJudgeSplitBrain: two masters on one history that parted are named a
// split brain, with what each side took since the fork; PINGs are not
// writes.
func TestJudgeSplitBrain(t *testing.T) {
	const histB = "bbbb5a3b7f2d4e6a9b0c1d2e3f4a5b6c7d8e9f00"
	split := func(aTail *replication.Tail) []Snapshot {
		s := healthyPair()
		s[0].Redis.Info.RunID = "run-a"
		s[0].Redis.Info.MasterReplOffset = 5400 // 400 bytes past the fork at 5000
		s[0].Redis.Tail = aTail
		s[1].Redis.Info = replication.Info{Role: replication.RoleMaster, RunID: "run-b", ReplID: histB, ReplID2: replID,
			SecondReplOffset: 5001, MasterReplOffset: 9000}
		s[1].Redis.Tail = &replication.Tail{Divergence: replication.Divergence{ReplID: replID, Fork: 5001}, RunID: "run-b", To: 9000, Bytes: 4000, Writes: 70, WriteBytes: 3990}
		return s
	}
	fork := replication.Divergence{ReplID: replID, Fork: 5001}
	tests := []struct {
		name  string
		aTail *replication.Tail
		want  []string
	}{
		{"a's tail unread", nil, []string{"split brain: a has 400 B of history past it (not read: may be writes), b took 70 writes (3.9 KiB) since the histories diverged at offset 5000", "redkeep resolve --keep NODE"}},
		{"a took writes", &replication.Tail{Divergence: fork, RunID: "run-a", To: 5400, Bytes: 400, Writes: 3, WriteBytes: 380}, []string{"a took 3 writes (380 B), b took 70 writes", "redkeep resolve"}},
		{"a took only PINGs", &replication.Tail{Divergence: fork, RunID: "run-a", To: 5400, Bytes: 400, Commands: 20}, []string{"a took no writes (400 B of PINGs)", "becomes the other's replica by itself"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(split(tt.aTail), Thresholds{LagWarn: 1 << 20})
			var text string
			for _, r := range v.Reasons {
				if r.Code == ReasonSplitBrain {
					text = r.Text
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("split-brain reason %q does not say %q", text, w)
				}
			}
		})
	}
}

// TestJudgeNotRedkeep: a pair whose nodes run other hooks is judged on its
// plain facts, and the verdict notes them without calling the pair unhealthy.
func TestJudgeNotRedkeep(t *testing.T) {
	snaps := healthyPair()
	for i := range snaps {
		snaps[i].Version, snaps[i].Hooks = "", HooksNotRedkeep
	}
	v := Judge(snaps, Thresholds{LagWarn: 1024})
	if !v.Healthy || v.VIPHolder != "a" || v.Master != "a" {
		t.Fatalf("plain healthy pair judged %+v", v)
	}
	if len(v.Notes) != 1 || v.Notes[0].Code != NoteNotRedkeep || !strings.Contains(v.Notes[0].Text, "not redkeep on a and b") ||
		!strings.Contains(v.Notes[0].Text, "deploy first") {
		t.Errorf("notes = %+v", v.Notes)
	}
	snaps[1].Hooks = HooksRedkeep
	snaps[1].Version = "v1"
	v = Judge(snaps, Thresholds{LagWarn: 1024})
	if len(v.Notes) != 1 || !strings.Contains(v.Notes[0].Text, "not redkeep on a ") || v.Healthy {
		t.Errorf("half-deployed pair: healthy %v, notes %+v, reasons %+v", v.Healthy, v.Notes, v.Reasons)
	}
	if v := Judge(healthyPair(), Thresholds{}); len(v.Notes) != 0 {
		t.Errorf("a redkeep pair has notes: %+v", v.Notes)
	}
}
