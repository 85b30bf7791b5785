package hooks

import (
	"fmt"
	"strings"

	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// Side is one Redis server as a hook observed it.
type Side struct {
	// Up is true when the server answered INFO within hooks.redis_timeout.
	Up  bool
	Err string
	// Info is valid when Up.
	Info replication.Info
	// Follows is true when the server is a replica of the other side
	// (its master_host:port is the other side's address).
	Follows bool
	// Tail is what this server's replication stream holds past the point
	// where its history and the other side's part, when offsets alone
	// could not tell whether it has writes the other lacks (nil otherwise,
	// or when it could not be read).
	Tail *replication.Tail
}

// canFollow reports whether s may become a replica of other without
// losing a write: the offsets say so, or s's stream past the fork holds
// no data change.
func (s Side) canFollow(other Side) (bool, string) {
	return replication.SafeToReplicateFromTail(s.Info, other.Info, s.Tail)
}

// Facts are what a notify decides over: the keepalived state being handled
// and both Redis servers.
type Facts struct {
	// State is MASTER, BACKUP, FAULT or STOP.
	State string
	Local Side
	Peer  Side
	// PeerWaited is true once the hook has waited for a peer that was our
	// replica to become master; it does not wait twice.
	PeerWaited bool
}

// Action is one step of a plan, executed in order.
type Action string

// Actions a plan is made of.
const (
	// ActPausePeer pauses the peer's writes (CLIENT PAUSE WRITE, bounded) so
	// its offset stops moving while we catch up and swap roles. The executor
	// always unpauses it at the end, whatever happened.
	ActPausePeer Action = "pause-peer-writes"
	// ActFollowPeer makes local a replica of the peer (re-checked with fresh
	// INFO right before: rule 2).
	ActFollowPeer Action = "replicate-from-peer"
	// ActWaitCaughtUp polls until local's offset reaches the peer's (offset
	// read after the pause), bounded by hooks.sync_timeout (rule 1).
	ActWaitCaughtUp Action = "wait-caught-up"
	// ActPromote is REPLICAOF NO ONE on local.
	ActPromote Action = "promote"
	// ActDemotePeer makes the peer a replica of local, only if that loses
	// nothing of the peer's (re-checked right before: rules 2 and 4).
	ActDemotePeer Action = "demote-peer"
	// ActWaitPeerMaster waits, bounded, for a peer that is still our replica
	// to be promoted by its own MASTER hook, then decides again.
	ActWaitPeerMaster Action = "wait-peer-master"
)

// Step is one action and why the plan takes it.
type Step struct {
	Action Action
	Why    string
}

// Plan is what a hook will do. When every step succeeds the hook records
// Result; a plan with no steps is a decision to do nothing, and Result says
// whether that is fine (ok), or a safety rule forbids the change (refused),
// or nothing can be done (failed).
type Plan struct {
	Steps   []Step
	Result  string
	Summary string
}

// Actions lists the plan's actions, for logs and tests.
func (p Plan) Actions() []Action {
	as := make([]Action, len(p.Steps))
	for i, s := range p.Steps {
		as[i] = s.Action
	}
	return as
}

// String is the plan as the redis-state log shows it.
func (p Plan) String() string {
	if len(p.Steps) == 0 {
		return "no action (" + p.Result + "): " + p.Summary
	}
	names := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		names[i] = string(s.Action)
	}
	return strings.Join(names, " -> ") + ": " + p.Summary
}

func nothing(result, format string, args ...any) Plan {
	return Plan{Result: result, Summary: fmt.Sprintf(format, args...)}
}

// Decide is the whole hook decision: keepalived state x local Redis x peer
// Redis -> plan. It is a pure function so every combination is
// table-tested; the executor (runner) only carries plans out, re-checking
// the safety predicates with fresh facts right before each destructive step.
func Decide(f Facts) Plan {
	switch f.State {
	case wire.KAMaster:
		return decideMaster(f)
	case wire.KABackup, wire.KAFault, wire.KAStop:
		return decideReplica(f)
	}
	return nothing(wire.ResultFailed, "unknown keepalived state %q", f.State)
}

func describe(s Side) string {
	if !s.Up {
		return "unreachable (" + s.Err + ")"
	}
	in := s.Info
	d := fmt.Sprintf("%s replid %s offset %d keys %d", in.Role, shortID(in.ReplID), in.Offset(), in.Keys)
	if in.Role == replication.RoleReplica {
		link := "down"
		if in.LinkUp {
			link = "up"
		}
		d += fmt.Sprintf(" of %s:%d link %s", in.MasterHost, in.MasterPort, link)
	}
	if in.Loading {
		d += " LOADING"
	}
	return d
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// decideMaster: keepalived gave us the VIP, so local Redis must become the
// master without losing a write a reachable old master has (rule 1), and
// the old master must become our replica if that loses nothing (rule 4).
func decideMaster(f Facts) Plan {
	l, p := f.Local, f.Peer
	switch {
	case !l.Up:
		return nothing(wire.ResultFailed, "local Redis is unreachable (%s): cannot serve as master; the check puts this node in FAULT", l.Err)
	case l.Info.Loading:
		return nothing(wire.ResultFailed, "local Redis is still loading its data set: cannot promote it yet")
	}
	isReplica := l.Info.Role == replication.RoleReplica

	if !p.Up || p.Info.Loading {
		why := "peer Redis is unreachable (" + p.Err + ")"
		if p.Up {
			why = "peer Redis is loading its data set, its offset is unknown"
		}
		if !isReplica {
			return nothing(wire.ResultOK, "already master; %s, nothing to demote", why)
		}
		return Plan{Result: wire.ResultOK, Summary: why + ": promoting at once",
			Steps: []Step{{ActPromote, why + ": promote at once; writes it had not replicated to us are lost (origin case 1)"}}}
	}

	// The peer replicates from us. When we are a master, whatever it has
	// came from us (an offset ahead of ours is only INFO read a moment
	// later). When we are a replica too, of the peer, neither can sync (a
	// replica without its master link serves no sync) and both offsets are
	// frozen: promoting us makes the peer resync from us, which wipes what
	// it has beyond our data, all of it when we came back empty (the chaos
	// soak: a restarted empty Redis promoted over its replica's data). Then
	// refuse: the check fails, and the VIP goes to the peer and its data.
	if p.Follows {
		if ok, why := p.canFollow(l); isReplica && !ok && !p.Info.Empty() {
			return nothing(wire.ResultRefused, "refusing to promote: we are a replica, and the peer, which replicates from us, holds data we lack (%s); as our replica it would be wiped", why)
		}
		if isReplica {
			return Plan{Result: wire.ResultOK, Summary: "the peer already replicates from us",
				Steps: []Step{{ActPromote, "take over as master; the peer already replicates from us"}}}
		}
		return nothing(wire.ResultOK, "already master and the peer replicates from us")
	}

	// localHasAll: the peer could follow us without losing anything.
	// peerHasAll: we could follow the peer without losing anything.
	localHasAll, whyLocal := p.canFollow(l)
	peerHasAll, whyPeer := l.canFollow(p)
	var steps []Step

	if !localHasAll && !peerHasAll {
		if p.Info.Role == replication.RoleMaster {
			if isReplica {
				return nothing(wire.ResultRefused, "refusing to promote: the peer is a reachable master whose history diverged from ours (%s); its writes would be lost", whyPeer)
			}
			return nothing(wire.ResultRefused, "TWO MASTERS with diverged histories (%s); keeping ours, leaving the peer untouched: an operator must choose", whyPeer)
		}
		// The peer takes no writes; ours is the data the VIP serves.
		if isReplica {
			steps = append(steps, Step{ActPromote, "the peer is a replica with a diverged history; it is left untouched"})
		}
		return Plan{Steps: steps, Result: wire.ResultOK, Summary: "peer replica diverged (" + whyPeer + "); not demoting it"}
	}

	if p.Info.Role == replication.RoleMaster {
		steps = append(steps, Step{ActPausePeer, "the peer is a reachable master: freeze its offset while we take over"})
	}
	// Catch up whenever the peer may hold writes we lack: it is ahead on our
	// history, or we are a replica (of it, or of its history elsewhere) and
	// its offset may have moved since we looked; the executor re-reads it
	// after the pause. Never follow a peer that would wipe us (!peerHasAll),
	// even one we are configured to follow.
	sameHistory := l.Info.ReplID != "" && l.Info.ReplID == p.Info.ReplID
	followed := false
	if peerHasAll && (!localHasAll || isReplica) || isReplica && l.Follows && sameHistory {
		if !l.Follows {
			steps = append(steps, Step{ActFollowPeer, "the peer has writes we may lack: " + whyPeer})
			followed = true
		}
		steps = append(steps, Step{ActWaitCaughtUp, "wait for our offset to reach the peer's before promoting (rule 1)"})
	}
	if isReplica || followed {
		steps = append(steps, Step{ActPromote, "take over as master"})
	}
	steps = append(steps, Step{ActDemotePeer, "make the old master our replica (rule 4): " + whyLocal})
	return Plan{Steps: steps, Result: wire.ResultOK, Summary: fmt.Sprintf("take over from peer (%s)", describe(p))}
}

// decideReplica: keepalived took the VIP away (BACKUP, FAULT, STOP), so
// local Redis must follow the peer, but only a peer that is the master and
// continues our history (rules 2 and 5).
func decideReplica(f Facts) Plan {
	l, p := f.Local, f.Peer
	switch {
	case !l.Up:
		return nothing(wire.ResultFailed, "local Redis is unreachable (%s): nothing to do; the check makes it a replica once it is back", l.Err)
	case l.Info.Loading:
		return nothing(wire.ResultFailed, "local Redis is still loading: the check makes it a replica once it has loaded")
	case l.Info.Role == replication.RoleReplica && l.Follows:
		// Only a peer on another history (restarted, diverged) is detached
		// from: on the same history a lower peer offset is just INFO read
		// a moment earlier.
		if p.Up && !p.Info.Loading && p.Info.Role == replication.RoleMaster && p.Info.ReplID != l.Info.ReplID {
			if ok, why := l.canFollow(p); !ok {
				// Redis would resync from it and drop our data set (rule 2).
				return Plan{Result: wire.ResultRefused, Summary: "TWO MASTERS: detached from a peer that would wipe our data: " + why,
					Steps: []Step{{ActPromote, "stop replicating from the peer before a full resync wipes us: " + why}}}
			}
		}
		return nothing(wire.ResultOK, "already a replica of the peer")
	}
	isMaster := l.Info.Role == replication.RoleMaster
	if !p.Up || p.Info.Loading {
		why := "peer Redis is unreachable (" + p.Err + ")"
		if p.Up {
			why = "peer Redis is loading its data set"
		}
		if isMaster {
			return nothing(wire.ResultRefused, "%s: cannot check it is safe to follow; staying master without the VIP until it answers", why)
		}
		return nothing(wire.ResultOK, "%s; staying a replica of %s:%d", why, l.Info.MasterHost, l.Info.MasterPort)
	}
	if p.Info.Role == replication.RoleMaster {
		ok, why := l.canFollow(p)
		if !ok {
			if isMaster && f.State == wire.KABackup {
				// keepalived gave the VIP to a peer whose data is older
				// than ours (VRRP priority after a partition healed): the
				// VIP follows the data (rule 9), not the other way round.
				if peerOK, whyPeer := p.canFollow(l); peerOK {
					return Plan{Result: wire.ResultOK, Summary: "the VIP holder's Redis is a master whose data ours contains and extends (following it instead: " + why + "): making it our replica so the VIP comes back to the data",
						Steps: []Step{
							{ActPausePeer, "freeze the stale master's offset while it is demoted"},
							{ActDemotePeer, "the VIP follows the data (rule 9): " + whyPeer},
						}}
				}
			}
			if isMaster {
				return nothing(wire.ResultRefused, "TWO MASTERS: refusing to replicate from the peer: %s", why)
			}
			return nothing(wire.ResultRefused, "refusing to replicate from the peer: %s", why)
		}
		return Plan{Result: wire.ResultOK, Summary: "follow the peer master",
			Steps: []Step{{ActFollowPeer, "the peer is master and following it loses nothing: " + why}}}
	}
	// The peer is a replica.
	if p.Follows && !f.PeerWaited {
		return Plan{Result: wire.ResultOK, Summary: "the peer is still our replica",
			Steps: []Step{{ActWaitPeerMaster, "the peer is our replica: its MASTER hook is probably promoting it; wait for it"}}}
	}
	if isMaster {
		return nothing(wire.ResultRefused, "the peer is a replica (%s), not a master: staying master without the VIP until it is promoted", describe(p))
	}
	return nothing(wire.ResultOK, "both are replicas; the peer (%s) is not a master to follow", describe(p))
}
