package nodes

import (
	"fmt"
	"strings"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/replication"
)

// Reason codes: short and stable, for scripts and tests. Text is for people.
const (
	ReasonTwoMasters       = "two-masters"
	ReasonSplitBrain       = "split-brain"
	ReasonVIPBoth          = "vip-both"
	ReasonVIPNone          = "vip-none"
	ReasonVIPNotMaster     = "vip-not-master"
	ReasonNoMaster         = "no-master"
	ReasonUnreachable      = "unreachable"
	ReasonRedisDown        = "redis-down"
	ReasonLinkDown         = "link-down"
	ReasonSyncing          = "syncing"
	ReasonLag              = "lag"
	ReasonKeepalivedDown   = "keepalived-down"
	ReasonFault            = "fault"
	ReasonDrained          = "drained"
	ReasonVersionMismatch  = "version-mismatch"
	ReasonNodeStateUnknown = "state-unknown"
)

// Reason is one named problem of the pair.
type Reason struct {
	Code string
	Text string
}

// Verdict is the pair's health. Reasons come most serious first.
type Verdict struct {
	Healthy bool
	Reasons []Reason
	// VIPHolder is the node holding the VIP, "" when none or both.
	VIPHolder string
	// Master is the node whose Redis is master, "" when none or several.
	Master string
}

// Thresholds are the verdict's tunable limits.
type Thresholds struct {
	// LagWarn is the byte lag of a replica above which the pair is degraded.
	LagWarn int64
}

// Judge decides the verdict over the latest Snapshot of each node. It is
// pure and cheap: the console calls it on every snapshot.
func Judge(snaps []Snapshot, t Thresholds) Verdict {
	var v Verdict
	add := func(code, format string, args ...any) {
		v.Reasons = append(v.Reasons, Reason{Code: code, Text: fmt.Sprintf(format, args...)})
	}

	// What is known: facts only from reachable nodes whose facts were read.
	var masters, holders []string
	var masterInfos []*replication.Info
	factsKnown := true
	for i, s := range snaps {
		if s.Conn != ConnConnected || s.Keepalived.Err != "" {
			factsKnown = false
		} else if s.HoldsVIP {
			holders = append(holders, s.Node)
		}
		if s.Conn == ConnConnected && s.Redis.Up && s.Redis.Info.Role == replication.RoleMaster {
			masters = append(masters, s.Node)
			masterInfos = append(masterInfos, &snaps[i].Redis.Info)
		}
	}
	var masterInfo *replication.Info
	if len(masters) == 1 {
		v.Master, masterInfo = masters[0], masterInfos[0]
	}
	if len(holders) == 1 {
		v.VIPHolder = holders[0]
	}

	if len(masters) > 1 {
		add(ReasonTwoMasters, "two Redis masters: %s", strings.Join(masters, " and "))
		if sp, ok := FindSplit(snaps); ok {
			if sp.Real() {
				add(ReasonSplitBrain, "%s; neither side is dropped by itself: choose one with `redkeep resolve --keep NODE` (the other's data set is saved first)", sp)
			} else {
				add(ReasonSplitBrain, "%s; the side without writes becomes the other's replica by itself", sp)
			}
		}
	}
	switch {
	case len(holders) > 1:
		add(ReasonVIPBoth, "VIP on both nodes: %s", strings.Join(holders, " and "))
	case len(holders) == 0 && factsKnown && len(snaps) > 0:
		add(ReasonVIPNone, "VIP on no node: clients cannot reach Redis")
	}
	if h := v.VIPHolder; h != "" {
		if s := find(snaps, h); s.Redis.Up && s.Redis.Info.Role != replication.RoleMaster {
			if v.Master != "" {
				add(ReasonVIPNotMaster, "VIP is on %s but its Redis is a %s; the master is %s", h, s.Redis.Info.Role, v.Master)
			} else {
				add(ReasonVIPNotMaster, "VIP is on %s but its Redis is a %s", h, s.Redis.Info.Role)
			}
		}
	}
	if len(masters) == 0 && allRedisUp(snaps) {
		add(ReasonNoMaster, "no Redis master: every Redis is a replica")
	}

	for _, s := range snaps {
		if s.Conn != ConnConnected {
			what := s.Node + " unreachable"
			if s.Conn != ConnUnreachable {
				what += " (" + string(s.Conn) + ")"
			}
			if s.ConnErr != "" {
				what += ": " + s.ConnErr
			}
			add(ReasonUnreachable, "%s", what)
		}
	}
	for _, s := range snaps {
		if s.Conn == ConnConnected && !s.Redis.Up {
			held := ""
			if s.Node == v.VIPHolder {
				held = ", and it holds the VIP"
			}
			add(ReasonRedisDown, "Redis on %s is down%s: %s", s.Node, held, s.Redis.Err)
		}
	}
	for _, s := range snaps {
		in := s.Redis.Info
		if s.Conn != ConnConnected || !s.Redis.Up || in.Role != replication.RoleReplica {
			continue
		}
		from := fmt.Sprintf("%s:%d", in.MasterHost, in.MasterPort)
		switch {
		case in.SyncInProgress:
			add(ReasonSyncing, "%s is syncing from %s (full resync in progress)", s.Node, from)
		case in.Loading:
			add(ReasonSyncing, "%s is loading its data set", s.Node)
		case !in.LinkUp:
			since := ""
			if in.LinkDownSecs >= 0 {
				since = fmt.Sprintf(" for %ds", in.LinkDownSecs)
			}
			add(ReasonLinkDown, "%s's replication link to %s is down%s", s.Node, from, since)
		case masterInfo != nil:
			if lag, ok := replication.Lag(in, *masterInfo); ok && lag > t.LagWarn {
				add(ReasonLag, "%s is %s behind %s (warn above %s)", s.Node, human.Bytes(lag), v.Master, human.Bytes(t.LagWarn))
			}
		}
	}
	for _, s := range snaps {
		if s.Conn != ConnConnected || s.Keepalived.Err != "" {
			continue
		}
		switch {
		case !s.Keepalived.Running:
			add(ReasonKeepalivedDown, "keepalived is not running on %s: it cannot take the VIP", s.Node)
		case s.Keepalived.State == "STOP":
			// notify stop ran and no other state since: keepalived was
			// stopped, whatever a process scan says (in a shared PID
			// namespace it may see the peer's keepalived).
			add(ReasonKeepalivedDown, "keepalived on %s was stopped (last state STOP): it cannot take the VIP", s.Node)
		case s.Keepalived.Drained:
			add(ReasonDrained, "%s is drained (track file): it cannot take the VIP", s.Node)
		case s.Keepalived.State == "FAULT":
			add(ReasonFault, "keepalived on %s is in FAULT: its health check fails", s.Node)
		}
	}
	if vs := versions(snaps); vs != "" {
		add(ReasonVersionMismatch, "redkeep versions differ: %s", vs)
	}
	for _, s := range snaps {
		if s.Conn == ConnConnected && s.Keepalived.Err != "" {
			add(ReasonNodeStateUnknown, "keepalived state of %s unknown: %s", s.Node, s.Keepalived.Err)
		}
	}
	v.Healthy = len(v.Reasons) == 0
	return v
}

func find(snaps []Snapshot, node string) Snapshot {
	for _, s := range snaps {
		if s.Node == node {
			return s
		}
	}
	return Snapshot{}
}

func allRedisUp(snaps []Snapshot) bool {
	for _, s := range snaps {
		if s.Conn != ConnConnected || !s.Redis.Up {
			return false
		}
	}
	return len(snaps) > 0
}

// versions describes the nodes' redkeep versions when the reachable nodes
// disagree, "" when they agree or fewer than two are known.
func versions(snaps []Snapshot) string {
	var parts []string
	seen := map[string]bool{}
	for _, s := range snaps {
		if s.Conn != ConnConnected || s.Keepalived.Err != "" {
			continue
		}
		v := s.Version
		seen[v] = true
		if v == "" {
			v = "(not installed)"
		}
		parts = append(parts, s.Node+" "+v)
	}
	if len(seen) < 2 {
		return ""
	}
	return strings.Join(parts, ", ")
}
