package hooks

import (
	"slices"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// Histories used by the decision tables.
const (
	hist     = "1111111111111111111111111111111111111111" // the pair's history
	histNext = "2222222222222222222222222222222222222222" // after the peer's promotion
	histNew  = "3333333333333333333333333333333333333333" // a restarted server
	histFork = "4444444444444444444444444444444444444444" // an unrelated data set
)

const noID = "0000000000000000000000000000000000000000"

func mInfo(id string, off, keys int64) replication.Info {
	return replication.Info{Role: replication.RoleMaster, ReplID: id, ReplID2: noID, MasterReplOffset: off, SecondReplOffset: -1, Keys: keys}
}

func rInfo(id string, off, keys int64, host string, port int) replication.Info {
	in := mInfo(id, off, keys)
	in.Role, in.ReplicaOffset, in.LinkUp, in.MasterHost, in.MasterPort = replication.RoleReplica, off, true, host, port
	return in
}

// The local and peer Redis states every decision is tested over. Local sits
// at offset 100 of hist unless said otherwise.
var localKinds = []string{"down", "loading", "master", "master-empty", "master-promoted-idle", "replica-of-peer", "replica-of-peer-behind", "replica-of-other"}

var peerKinds = []string{"down", "loading", "master-ahead", "master-equal", "master-behind", "master-promoted", "master-empty", "master-diverged",
	"replica-of-local", "replica-of-local-ahead", "replica-of-other"}

func localSide(kind string) Side {
	switch kind {
	case "down":
		return Side{Err: "connection refused"}
	case "loading":
		in := mInfo(hist, 0, 10)
		in.Loading = true
		return Side{Up: true, Info: in}
	case "master":
		return Side{Up: true, Info: mInfo(hist, 100, 10)}
	case "master-empty":
		return Side{Up: true, Info: mInfo(histNew, 0, 0)}
	case "master-promoted-idle":
		// Promoted from hist at offset 100 and not written to since.
		in := mInfo(histNext, 100, 10)
		in.ReplID2, in.SecondReplOffset = hist, 101
		return Side{Up: true, Info: in}
	case "replica-of-peer":
		return Side{Up: true, Info: rInfo(hist, 100, 10, "peer", 6379), Follows: true}
	case "replica-of-peer-behind":
		return Side{Up: true, Info: rInfo(hist, 60, 8, "peer", 6379), Follows: true}
	case "replica-of-other":
		return Side{Up: true, Info: rInfo(hist, 100, 10, "elsewhere", 6379)}
	}
	panic("unknown local kind " + kind)
}

func peerSide(kind string) Side {
	switch kind {
	case "down":
		return Side{Err: "i/o timeout"}
	case "loading":
		in := mInfo(hist, 0, 10)
		in.Loading = true
		return Side{Up: true, Info: in}
	case "master-ahead":
		return Side{Up: true, Info: mInfo(hist, 150, 12)}
	case "master-equal":
		return Side{Up: true, Info: mInfo(hist, 100, 10)}
	case "master-behind":
		return Side{Up: true, Info: mInfo(hist, 50, 5)}
	case "master-promoted":
		// Promoted from hist at offset 100 (everything local has), then written to.
		in := mInfo(histNext, 180, 12)
		in.ReplID2, in.SecondReplOffset = hist, 101
		return Side{Up: true, Info: in}
	case "master-empty":
		return Side{Up: true, Info: mInfo(histNew, 0, 0)}
	case "master-diverged":
		return Side{Up: true, Info: mInfo(histFork, 500, 20)}
	case "replica-of-local":
		return Side{Up: true, Info: rInfo(hist, 100, 10, "local", 6379), Follows: true}
	case "replica-of-local-ahead":
		return Side{Up: true, Info: rInfo(hist, 140, 11, "local", 6379), Follows: true}
	case "replica-of-other":
		return Side{Up: true, Info: rInfo(histFork, 70, 7, "elsewhere", 6379)}
	}
	panic("unknown peer kind " + kind)
}

func facts(state, local, peer string) Facts {
	return Facts{State: state, Local: localSide(local), Peer: peerSide(peer)}
}

func actionsString(p Plan) string {
	if len(p.Steps) == 0 {
		return "-"
	}
	names := make([]string, len(p.Steps))
	for i, a := range p.Actions() {
		names[i] = string(a)
	}
	return strings.Join(names, ",")
}

// decisionTable is every keepalived state x local Redis x peer Redis the
// hooks decide over (FAULT and STOP decide like BACKUP; checked below), with
// the steps and the recorded result. Each row was reviewed against
// docs/safety.md's rules; the invariants test below re-derives the safety of
// every plan independently.
var decisionTable = []struct{ state, local, peer, steps, result string }{
	{"MASTER", "down", "down", "-", "failed"},
	{"MASTER", "down", "loading", "-", "failed"},
	{"MASTER", "down", "master-ahead", "-", "failed"},
	{"MASTER", "down", "master-equal", "-", "failed"},
	{"MASTER", "down", "master-behind", "-", "failed"},
	{"MASTER", "down", "master-promoted", "-", "failed"},
	{"MASTER", "down", "master-empty", "-", "failed"},
	{"MASTER", "down", "master-diverged", "-", "failed"},
	{"MASTER", "down", "replica-of-local", "-", "failed"},
	{"MASTER", "down", "replica-of-local-ahead", "-", "failed"},
	{"MASTER", "down", "replica-of-other", "-", "failed"},
	{"MASTER", "loading", "down", "-", "failed"},
	{"MASTER", "loading", "loading", "-", "failed"},
	{"MASTER", "loading", "master-ahead", "-", "failed"},
	{"MASTER", "loading", "master-equal", "-", "failed"},
	{"MASTER", "loading", "master-behind", "-", "failed"},
	{"MASTER", "loading", "master-promoted", "-", "failed"},
	{"MASTER", "loading", "master-empty", "-", "failed"},
	{"MASTER", "loading", "master-diverged", "-", "failed"},
	{"MASTER", "loading", "replica-of-local", "-", "failed"},
	{"MASTER", "loading", "replica-of-local-ahead", "-", "failed"},
	{"MASTER", "loading", "replica-of-other", "-", "failed"},
	{"MASTER", "master", "down", "-", "ok"},
	{"MASTER", "master", "loading", "-", "ok"},
	{"MASTER", "master", "master-ahead", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master", "master-equal", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master", "master-behind", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master", "master-promoted", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master", "master-empty", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master", "master-diverged", "-", "refused"},
	{"MASTER", "master", "replica-of-local", "-", "ok"},
	{"MASTER", "master", "replica-of-local-ahead", "-", "ok"},
	{"MASTER", "master", "replica-of-other", "-", "ok"},
	{"MASTER", "master-empty", "down", "-", "ok"},
	{"MASTER", "master-empty", "loading", "-", "ok"},
	{"MASTER", "master-empty", "master-ahead", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-empty", "master-equal", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-empty", "master-behind", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-empty", "master-promoted", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-empty", "master-empty", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master-empty", "master-diverged", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-empty", "replica-of-local", "-", "ok"},
	{"MASTER", "master-empty", "replica-of-local-ahead", "-", "ok"},
	{"MASTER", "master-empty", "replica-of-other", "replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer", "down", "promote", "ok"},
	{"MASTER", "replica-of-peer", "loading", "promote", "ok"},
	{"MASTER", "replica-of-peer", "master-ahead", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer", "master-equal", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer", "master-behind", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer", "master-promoted", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer", "master-empty", "pause-peer-writes,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer", "master-diverged", "-", "refused"},
	{"MASTER", "replica-of-peer", "replica-of-local", "promote", "ok"},
	{"MASTER", "replica-of-peer", "replica-of-local-ahead", "-", "refused"},
	{"MASTER", "replica-of-peer", "replica-of-other", "promote", "ok"},
	{"MASTER", "replica-of-peer-behind", "down", "promote", "ok"},
	{"MASTER", "replica-of-peer-behind", "loading", "promote", "ok"},
	{"MASTER", "replica-of-peer-behind", "master-ahead", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer-behind", "master-equal", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer-behind", "master-behind", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer-behind", "master-promoted", "pause-peer-writes,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer-behind", "master-empty", "pause-peer-writes,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-peer-behind", "master-diverged", "-", "refused"},
	{"MASTER", "replica-of-peer-behind", "replica-of-local", "-", "refused"},
	{"MASTER", "replica-of-peer-behind", "replica-of-local-ahead", "-", "refused"},
	{"MASTER", "replica-of-peer-behind", "replica-of-other", "promote", "ok"},
	{"MASTER", "replica-of-other", "down", "promote", "ok"},
	{"MASTER", "replica-of-other", "loading", "promote", "ok"},
	{"MASTER", "replica-of-other", "master-ahead", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-other", "master-equal", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-other", "master-behind", "pause-peer-writes,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-other", "master-promoted", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-other", "master-empty", "pause-peer-writes,promote,demote-peer", "ok"},
	{"MASTER", "replica-of-other", "master-diverged", "-", "refused"},
	{"MASTER", "replica-of-other", "replica-of-local", "promote", "ok"},
	{"MASTER", "replica-of-other", "replica-of-local-ahead", "-", "refused"},
	{"MASTER", "replica-of-other", "replica-of-other", "promote", "ok"},
	{"BACKUP", "down", "down", "-", "failed"},
	{"BACKUP", "down", "loading", "-", "failed"},
	{"BACKUP", "down", "master-ahead", "-", "failed"},
	{"BACKUP", "down", "master-equal", "-", "failed"},
	{"BACKUP", "down", "master-behind", "-", "failed"},
	{"BACKUP", "down", "master-promoted", "-", "failed"},
	{"BACKUP", "down", "master-empty", "-", "failed"},
	{"BACKUP", "down", "master-diverged", "-", "failed"},
	{"BACKUP", "down", "replica-of-local", "-", "failed"},
	{"BACKUP", "down", "replica-of-local-ahead", "-", "failed"},
	{"BACKUP", "down", "replica-of-other", "-", "failed"},
	{"BACKUP", "loading", "down", "-", "failed"},
	{"BACKUP", "loading", "loading", "-", "failed"},
	{"BACKUP", "loading", "master-ahead", "-", "failed"},
	{"BACKUP", "loading", "master-equal", "-", "failed"},
	{"BACKUP", "loading", "master-behind", "-", "failed"},
	{"BACKUP", "loading", "master-promoted", "-", "failed"},
	{"BACKUP", "loading", "master-empty", "-", "failed"},
	{"BACKUP", "loading", "master-diverged", "-", "failed"},
	{"BACKUP", "loading", "replica-of-local", "-", "failed"},
	{"BACKUP", "loading", "replica-of-local-ahead", "-", "failed"},
	{"BACKUP", "loading", "replica-of-other", "-", "failed"},
	{"BACKUP", "master", "down", "-", "refused"},
	{"BACKUP", "master", "loading", "-", "refused"},
	{"BACKUP", "master", "master-ahead", "replicate-from-peer", "ok"},
	{"BACKUP", "master", "master-equal", "replicate-from-peer", "ok"},
	{"BACKUP", "master", "master-behind", "pause-peer-writes,demote-peer", "ok"},
	{"BACKUP", "master", "master-promoted", "replicate-from-peer", "ok"},
	{"BACKUP", "master", "master-empty", "pause-peer-writes,demote-peer", "ok"},
	{"BACKUP", "master", "master-diverged", "-", "refused"},
	{"BACKUP", "master", "replica-of-local", "wait-peer-master", "ok"},
	{"BACKUP", "master", "replica-of-local-ahead", "wait-peer-master", "ok"},
	{"BACKUP", "master", "replica-of-other", "-", "refused"},
	{"BACKUP", "master-empty", "down", "-", "refused"},
	{"BACKUP", "master-empty", "loading", "-", "refused"},
	{"BACKUP", "master-empty", "master-ahead", "replicate-from-peer", "ok"},
	{"BACKUP", "master-empty", "master-equal", "replicate-from-peer", "ok"},
	{"BACKUP", "master-empty", "master-behind", "replicate-from-peer", "ok"},
	{"BACKUP", "master-empty", "master-promoted", "replicate-from-peer", "ok"},
	{"BACKUP", "master-empty", "master-empty", "replicate-from-peer", "ok"},
	{"BACKUP", "master-empty", "master-diverged", "replicate-from-peer", "ok"},
	{"BACKUP", "master-empty", "replica-of-local", "wait-peer-master", "ok"},
	{"BACKUP", "master-empty", "replica-of-local-ahead", "wait-peer-master", "ok"},
	{"BACKUP", "master-empty", "replica-of-other", "-", "refused"},
	{"BACKUP", "replica-of-peer", "down", "-", "ok"},
	{"BACKUP", "replica-of-peer", "loading", "-", "ok"},
	{"BACKUP", "replica-of-peer", "master-ahead", "-", "ok"},
	{"BACKUP", "replica-of-peer", "master-equal", "-", "ok"},
	{"BACKUP", "replica-of-peer", "master-behind", "-", "ok"},
	{"BACKUP", "replica-of-peer", "master-promoted", "-", "ok"},
	{"BACKUP", "replica-of-peer", "master-empty", "promote", "refused"},
	{"BACKUP", "replica-of-peer", "master-diverged", "promote", "refused"},
	{"BACKUP", "replica-of-peer", "replica-of-local", "-", "ok"},
	{"BACKUP", "replica-of-peer", "replica-of-local-ahead", "-", "ok"},
	{"BACKUP", "replica-of-peer", "replica-of-other", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "down", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "loading", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "master-ahead", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "master-equal", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "master-behind", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "master-promoted", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "master-empty", "promote", "refused"},
	{"BACKUP", "replica-of-peer-behind", "master-diverged", "promote", "refused"},
	{"BACKUP", "replica-of-peer-behind", "replica-of-local", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "replica-of-local-ahead", "-", "ok"},
	{"BACKUP", "replica-of-peer-behind", "replica-of-other", "-", "ok"},
	{"BACKUP", "replica-of-other", "down", "-", "ok"},
	{"BACKUP", "replica-of-other", "loading", "-", "ok"},
	{"BACKUP", "replica-of-other", "master-ahead", "replicate-from-peer", "ok"},
	{"BACKUP", "replica-of-other", "master-equal", "replicate-from-peer", "ok"},
	{"BACKUP", "replica-of-other", "master-behind", "-", "refused"},
	{"BACKUP", "replica-of-other", "master-promoted", "replicate-from-peer", "ok"},
	{"BACKUP", "replica-of-other", "master-empty", "-", "refused"},
	{"BACKUP", "replica-of-other", "master-diverged", "-", "refused"},
	{"BACKUP", "replica-of-other", "replica-of-local", "wait-peer-master", "ok"},
	{"BACKUP", "replica-of-other", "replica-of-local-ahead", "wait-peer-master", "ok"},
	{"BACKUP", "replica-of-other", "replica-of-other", "-", "ok"},
	// A master promoted from the pair's history that took no writes since
	// (a spurious promotion) is no fork: it may follow a peer that is ahead.
	{"MASTER", "master-promoted-idle", "down", "-", "ok"},
	{"MASTER", "master-promoted-idle", "loading", "-", "ok"},
	{"MASTER", "master-promoted-idle", "master-ahead", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-promoted-idle", "master-equal", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master-promoted-idle", "master-behind", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master-promoted-idle", "master-promoted", "pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", "ok"},
	{"MASTER", "master-promoted-idle", "master-empty", "pause-peer-writes,demote-peer", "ok"},
	{"MASTER", "master-promoted-idle", "master-diverged", "-", "refused"},
	{"MASTER", "master-promoted-idle", "replica-of-local", "-", "ok"},
	{"MASTER", "master-promoted-idle", "replica-of-local-ahead", "-", "ok"},
	{"MASTER", "master-promoted-idle", "replica-of-other", "-", "ok"},
	{"BACKUP", "master-promoted-idle", "down", "-", "refused"},
	{"BACKUP", "master-promoted-idle", "loading", "-", "refused"},
	{"BACKUP", "master-promoted-idle", "master-ahead", "replicate-from-peer", "ok"},
	{"BACKUP", "master-promoted-idle", "master-equal", "replicate-from-peer", "ok"},
	{"BACKUP", "master-promoted-idle", "master-behind", "pause-peer-writes,demote-peer", "ok"},
	{"BACKUP", "master-promoted-idle", "master-promoted", "replicate-from-peer", "ok"},
	{"BACKUP", "master-promoted-idle", "master-empty", "pause-peer-writes,demote-peer", "ok"},
	{"BACKUP", "master-promoted-idle", "master-diverged", "-", "refused"},
	{"BACKUP", "master-promoted-idle", "replica-of-local", "wait-peer-master", "ok"},
	{"BACKUP", "master-promoted-idle", "replica-of-local-ahead", "wait-peer-master", "ok"},
	{"BACKUP", "master-promoted-idle", "replica-of-other", "-", "refused"},
}

func TestDecideTable(t *testing.T) {
	t.Parallel()
	if want := 2 * len(localKinds) * len(peerKinds); len(decisionTable) != want {
		t.Fatalf("decision table has %d rows, want %d (every combination)", len(decisionTable), want)
	}
	for _, tt := range decisionTable {
		t.Run(tt.state+"/"+tt.local+"/"+tt.peer, func(t *testing.T) {
			plan := Decide(facts(tt.state, tt.local, tt.peer))
			if got := actionsString(plan); got != tt.steps || plan.Result != tt.result {
				t.Errorf("Decide = %s (%s), want %s (%s); summary: %s", got, plan.Result, tt.steps, tt.result, plan.Summary)
			}
			if plan.Summary == "" {
				t.Error("plan has no summary: the log would not say why")
			}
		})
	}
}

// TestDecideFaultStopLikeBackup: losing the VIP is losing the VIP, whatever
// keepalived calls it.
func TestDecideFaultStopLikeBackup(t *testing.T) {
	t.Parallel()
	for _, l := range localKinds {
		for _, p := range peerKinds {
			want := Decide(facts(wire.KABackup, l, p))
			if slices.Contains(want.Actions(), ActDemotePeer) {
				// Rule 9 on a BACKUP: the VIP holder's stale master is
				// demoted so the VIP comes to the data. A node in FAULT or
				// STOP cannot take the VIP, so it leaves the peer alone.
				want = Plan{Result: wire.ResultRefused}
			}
			for _, st := range []string{wire.KAFault, wire.KAStop} {
				if got := Decide(facts(st, l, p)); actionsString(got) != actionsString(want) || got.Result != want.Result {
					t.Errorf("%s/%s/%s = %s (%s), BACKUP = %s (%s)", st, l, p, actionsString(got), got.Result, actionsString(want), want.Result)
				}
			}
		}
	}
}

// TestDecideInvariants checks the safety rules over every combination,
// independently of the table: whoever reviewed a row wrong, these hold.
func TestDecideInvariants(t *testing.T) {
	t.Parallel()
	for _, st := range []string{wire.KAMaster, wire.KABackup, wire.KAFault, wire.KAStop} {
		for _, lk := range localKinds {
			for _, pk := range peerKinds {
				f := facts(st, lk, pk)
				plan := Decide(f)
				acts := plan.Actions()
				has := func(a Action) int {
					for i, x := range acts {
						if x == a {
							return i
						}
					}
					return -1
				}
				name := st + "/" + lk + "/" + pk
				// Rule 2: never follow a peer that would cost us data.
				if has(ActFollowPeer) >= 0 {
					if ok, why := replication.SafeToReplicateFrom(f.Local.Info, f.Peer.Info); !ok {
						t.Errorf("%s: follows the peer although %s", name, why)
					}
				}
				// Rule 1: a reachable master peer with writes we lack is
				// paused and caught up with before any promotion.
				if i := has(ActPromote); i >= 0 && st == wire.KAMaster && f.Peer.Up && !f.Peer.Info.Loading && f.Peer.Info.Role == replication.RoleMaster {
					if ok, _ := replication.SafeToReplicateFrom(f.Peer.Info, f.Local.Info); !ok || f.Local.Follows && f.Local.Info.ReplID == f.Peer.Info.ReplID {
						if p, w := has(ActPausePeer), has(ActWaitCaughtUp); p < 0 || w < 0 || p > w || w > i {
							t.Errorf("%s: promotes over a master peer without pause and catch-up first: %v", name, acts)
						}
					}
				}
				// Rule 2 for the peer: promoting a local replica makes the
				// peer that replicates from it resync from it; that must
				// cost the peer nothing. (A local master's offset races the
				// peer's INFO, so only a local replica is held to it.)
				if has(ActPromote) >= 0 && f.Peer.Follows && f.Local.Info.Role == replication.RoleReplica && !f.Peer.Info.Empty() {
					if ok, why := replication.SafeToReplicateFrom(f.Peer.Info, f.Local.Info); !ok {
						t.Errorf("%s: promotes over a peer replica with data we lack: %s", name, why)
					}
				}
				// Rule 5: only the VIP holder promotes, except to detach
				// from a peer that would wipe us (refused, loudly).
				if has(ActPromote) >= 0 && st != wire.KAMaster && plan.Result != wire.ResultRefused {
					t.Errorf("%s: promotes without the VIP: %v", name, acts)
				}
				// A paused peer is demoted or the plan ends; demotion by the
				// VIP holder (rule 4), or by a BACKUP whose data contains
				// the VIP holder's (rule 9: the VIP follows the data).
				if has(ActDemotePeer) >= 0 && st != wire.KAMaster {
					if ok, why := replication.SafeToReplicateFrom(f.Peer.Info, f.Local.Info); st != wire.KABackup || !ok || has(ActPausePeer) != 0 {
						t.Errorf("%s: demotes the peer without the VIP (%s)", name, why)
					}
				}
				if has(ActPausePeer) > 0 {
					t.Errorf("%s: pause must come first, got %v", name, acts)
				}
				// Nothing to do with an unreachable or loading local Redis.
				if (!f.Local.Up || f.Local.Info.Loading) && (len(acts) > 0 || plan.Result != wire.ResultFailed) {
					t.Errorf("%s: acts on a local Redis that is down or loading: %v %s", name, acts, plan.Result)
				}
				// Waiting for the peer happens once.
				f.PeerWaited = true
				if has2 := Decide(f).Actions(); len(has2) > 0 && has2[0] == ActWaitPeerMaster {
					t.Errorf("%s: waits for the peer twice", name)
				}
			}
		}
	}
}

func TestDecideUnknownState(t *testing.T) {
	t.Parallel()
	if p := Decide(facts("SLEEPING", "master", "master-ahead")); len(p.Steps) != 0 || p.Result != wire.ResultFailed {
		t.Fatalf("unknown state: %v", p)
	}
}

func TestFollowsAddr(t *testing.T) {
	t.Parallel()
	r := rInfo(hist, 1, 1, "10.0.0.2", 6380)
	tests := []struct {
		info replication.Info
		addr string
		want bool
	}{
		{r, "10.0.0.2:6380", true},
		{r, "10.0.0.2:6379", false},
		{r, "10.0.0.3:6380", false},
		{rInfo(hist, 1, 1, "Redis-B", 6379), "redis-b:6379", true},
		{mInfo(hist, 1, 1), "10.0.0.2:6380", false},
		{r, "not-an-address", false},
	}
	for _, tt := range tests {
		if got := followsAddr(tt.info, tt.addr); got != tt.want {
			t.Errorf("followsAddr(%s:%d, %q) = %v, want %v", tt.info.MasterHost, tt.info.MasterPort, tt.addr, got, tt.want)
		}
	}
}

// TestDecideForkedTails covers the partition that heals: the old master
// (stale, at offset 130 of hist) went on alone while the peer was promoted
// from hist at offset 100 (histNext). Offsets call that a fork; the tail
// read from the old master's stream past offset 100 decides.
func TestDecideForkedTails(t *testing.T) {
	t.Parallel()
	fork := replication.Divergence{ReplID: hist, Fork: 101}
	stale := func(writes int64) Side {
		in := mInfo(hist, 130, 10)
		in.RunID = "stale"
		return Side{Up: true, Info: in, Tail: &replication.Tail{Divergence: fork, RunID: "stale", To: 130, Bytes: 30, Commands: 2, Writes: writes}}
	}
	promoted := Side{Up: true, Info: peerSide("master-promoted").Info}
	tests := []struct {
		name          string
		state         string
		local, peer   Side
		steps, result string
	}{
		{"old master loses the VIP, PINGs only: follows", wire.KABackup, stale(0), promoted, "replicate-from-peer", wire.ResultOK},
		{"old master loses the VIP, wrote too: split brain", wire.KABackup, stale(2), promoted, "-", wire.ResultRefused},
		{"old master in FAULT, PINGs only: follows", wire.KAFault, stale(0), promoted, "replicate-from-peer", wire.ResultOK},
		{"old master takes the VIP, PINGs only: takes the peer's data first", wire.KAMaster, stale(0), promoted,
			"pause-peer-writes,replicate-from-peer,wait-caught-up,promote,demote-peer", wire.ResultOK},
		{"old master takes the VIP, wrote too: split brain", wire.KAMaster, stale(2), promoted, "-", wire.ResultRefused},
		{"VRRP gave the stale master the VIP: the data holder demotes it", wire.KABackup, promoted, stale(0), "pause-peer-writes,demote-peer", wire.ResultOK},
		{"VRRP gave the VIP to a master with writes of its own: split brain", wire.KABackup, promoted, stale(2), "-", wire.ResultRefused},
		{"in FAULT the data holder leaves the VIP holder alone", wire.KAFault, promoted, stale(0), "-", wire.ResultRefused},
		{"the data holder takes the VIP: demotes the stale master", wire.KAMaster, promoted, stale(0), "pause-peer-writes,demote-peer", wire.ResultOK},
		{"a tail of another server decides nothing", wire.KABackup, func() Side { s := stale(0); s.Tail.RunID = "other"; return s }(), promoted, "-", wire.ResultRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Decide(Facts{State: tt.state, Local: tt.local, Peer: tt.peer})
			if got := actionsString(plan); got != tt.steps || plan.Result != tt.result {
				t.Errorf("Decide = %s (%s), want %s (%s); summary: %s", got, plan.Result, tt.steps, tt.result, plan.Summary)
			}
		})
	}
}
