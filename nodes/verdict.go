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
	// NoteNotRedkeep is a note, not a reason: the pair may be healthy,
	// but its nodes run other hooks than redkeep's, so the console shows
	// plain facts and refuses its actions.
	NoteNotRedkeep = "not-redkeep"
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
	// Notes are facts worth telling that do not make the pair unhealthy:
	// nodes whose keepalived does not run redkeep's hooks.
	Notes []Reason
}

// Thresholds are the verdict's tunable limits.
type Thresholds struct {
	// LagWarn is the byte lag of a replica above which the pair is degraded.
	LagWarn int64
}

// Judge decides the verdict over the latest Snapshot of each node. It is
// pure and cheap: the console calls it on every snapshot.
func Judge(snaps []Snapshot, t Thresholds) Verdict {
	j := newJudgement(snaps, t)
	// Most serious first: who serves writes, where clients are sent, which
	// node is gone, then what weakens the next failover.
	j.twoMasters()
	j.vip()
	j.noMaster()
	j.reachability()
	j.redisDown()
	j.replicas()
	j.keepalived()
	j.versionMismatch()
	j.stateUnknown()
	j.notRedkeep()
	j.v.Healthy = len(j.v.Reasons) == 0
	return j.v
}

// judgement is one Judge call: the facts read from the snapshots, and the
// verdict as it is being written.
type judgement struct {
	snaps []Snapshot
	t     Thresholds
	// masters and holders name the reachable nodes whose Redis is master
	// and that hold the VIP (the latter only where keepalived's facts were
	// read).
	masters, holders []string
	// masterInfo is the single master's INFO, nil unless there is one.
	masterInfo *replication.Info
	// factsKnown is false when any node is unreachable or its keepalived
	// facts unread: then no VIP on any node is a guess, not a fact.
	factsKnown bool
	v          Verdict
}

func newJudgement(snaps []Snapshot, t Thresholds) *judgement {
	j := &judgement{snaps: snaps, t: t, factsKnown: true}
	var masterInfos []*replication.Info
	for i, s := range snaps {
		if s.Conn != ConnConnected || s.Keepalived.Err != "" {
			j.factsKnown = false
		} else if s.HoldsVIP {
			j.holders = append(j.holders, s.Node)
		}
		if s.Conn == ConnConnected && s.Redis.Up && s.Redis.Info.Role == replication.RoleMaster {
			j.masters = append(j.masters, s.Node)
			masterInfos = append(masterInfos, &snaps[i].Redis.Info)
		}
	}
	if len(j.masters) == 1 {
		j.v.Master, j.masterInfo = j.masters[0], masterInfos[0]
	}
	if len(j.holders) == 1 {
		j.v.VIPHolder = j.holders[0]
	}
	return j
}

func (j *judgement) add(code, format string, args ...any) {
	j.v.Reasons = append(j.v.Reasons, Reason{Code: code, Text: fmt.Sprintf(format, args...)})
}

// twoMasters names two masters, and the split brain when they share a history.
func (j *judgement) twoMasters() {
	if len(j.masters) < 2 {
		return
	}
	j.add(ReasonTwoMasters, "two Redis masters: %s", strings.Join(j.masters, " and "))
	sp, ok := FindSplit(j.snaps)
	switch {
	case !ok:
	case sp.Real():
		j.add(ReasonSplitBrain, "%s; neither side is dropped by itself: choose one with `redkeep resolve --keep NODE` (the other's data set is saved first)", sp)
	default:
		j.add(ReasonSplitBrain, "%s; the side without writes becomes the other's replica by itself", sp)
	}
}

// vip names a VIP held twice, by no node, or by a node whose Redis is not
// the master.
func (j *judgement) vip() {
	switch {
	case len(j.holders) > 1:
		j.add(ReasonVIPBoth, "VIP on both nodes: %s", strings.Join(j.holders, " and "))
	case len(j.holders) == 0 && j.factsKnown && len(j.snaps) > 0:
		j.add(ReasonVIPNone, "VIP on no node: clients cannot reach Redis")
	}
	h := j.v.VIPHolder
	if h == "" {
		return
	}
	s := find(j.snaps, h)
	if !s.Redis.Up || s.Redis.Info.Role == replication.RoleMaster {
		return
	}
	if j.v.Master != "" {
		j.add(ReasonVIPNotMaster, "VIP is on %s but its Redis is a %s; the master is %s", h, s.Redis.Info.Role, j.v.Master)
	} else {
		j.add(ReasonVIPNotMaster, "VIP is on %s but its Redis is a %s", h, s.Redis.Info.Role)
	}
}

func (j *judgement) noMaster() {
	if len(j.masters) == 0 && allRedisUp(j.snaps) {
		j.add(ReasonNoMaster, "no Redis master: every Redis is a replica")
	}
}

func (j *judgement) reachability() {
	for _, s := range j.snaps {
		if s.Conn == ConnConnected {
			continue
		}
		what := s.Node + " unreachable"
		if s.Conn != ConnUnreachable {
			what += " (" + string(s.Conn) + ")"
		}
		if s.ConnErr != "" {
			what += ": " + s.ConnErr
		}
		j.add(ReasonUnreachable, "%s", what)
	}
}

func (j *judgement) redisDown() {
	for _, s := range j.snaps {
		if s.Conn != ConnConnected || s.Redis.Up {
			continue
		}
		held := ""
		if s.Node == j.v.VIPHolder {
			held = ", and it holds the VIP"
		}
		j.add(ReasonRedisDown, "Redis on %s is down%s: %s", s.Node, held, s.Redis.Err)
	}
}

// replicas names each reachable replica that is not ready to take over:
// syncing, loading, cut off from its master or too far behind it.
func (j *judgement) replicas() {
	for _, s := range j.snaps {
		if s.Conn == ConnConnected && s.Redis.Up && s.Redis.Info.Role == replication.RoleReplica {
			j.replica(s.Node, s.Redis.Info)
		}
	}
}

func (j *judgement) replica(node string, in replication.Info) {
	from := fmt.Sprintf("%s:%d", in.MasterHost, in.MasterPort)
	switch {
	case in.SyncInProgress:
		j.add(ReasonSyncing, "%s is syncing from %s (full resync in progress)", node, from)
	case in.Loading:
		j.add(ReasonSyncing, "%s is loading its data set", node)
	case !in.LinkUp:
		since := ""
		if in.LinkDownSecs >= 0 {
			since = fmt.Sprintf(" for %ds", in.LinkDownSecs)
		}
		j.add(ReasonLinkDown, "%s's replication link to %s is down%s", node, from, since)
	case j.masterInfo != nil:
		if lag, ok := replication.Lag(in, *j.masterInfo); ok && lag > j.t.LagWarn {
			j.add(ReasonLag, "%s is %s behind %s (warn above %s)", node, human.Bytes(lag), j.v.Master, human.Bytes(j.t.LagWarn))
		}
	}
}

// keepalived names each reachable node whose keepalived cannot take the VIP.
func (j *judgement) keepalived() {
	for _, s := range j.snaps {
		if s.Conn != ConnConnected || s.Keepalived.Err != "" {
			continue
		}
		k := s.Keepalived
		switch {
		case !k.Running:
			j.add(ReasonKeepalivedDown, "keepalived is not running on %s: it cannot take the VIP", s.Node)
		case k.State == "STOP":
			// notify stop ran and no other state since: keepalived was
			// stopped, whatever a process scan says (in a shared PID
			// namespace it may see the peer's keepalived).
			j.add(ReasonKeepalivedDown, "keepalived on %s was stopped (last state STOP): it cannot take the VIP", s.Node)
		case k.Drained:
			j.add(ReasonDrained, "%s is drained (track file): it cannot take the VIP", s.Node)
		case k.State == "FAULT":
			j.add(ReasonFault, "keepalived on %s is in FAULT: its health check fails", s.Node)
		}
	}
}

func (j *judgement) versionMismatch() {
	if vs := versions(j.snaps); vs != "" {
		j.add(ReasonVersionMismatch, "redkeep versions differ: %s", vs)
	}
}

func (j *judgement) stateUnknown() {
	for _, s := range j.snaps {
		if s.Conn == ConnConnected && s.Keepalived.Err != "" {
			j.add(ReasonNodeStateUnknown, "keepalived state of %s unknown: %s", s.Node, s.Keepalived.Err)
		}
	}
}

// notRedkeep notes the nodes without redkeep: their state is read from
// plain facts, and no redkeep action can run on them.
func (j *judgement) notRedkeep() {
	var plain []string
	for _, s := range j.snaps {
		if s.Conn == ConnConnected && s.Hooks == HooksNotRedkeep {
			plain = append(plain, s.Node)
		}
	}
	if len(plain) == 0 {
		return
	}
	j.v.Notes = append(j.v.Notes, Reason{Code: NoteNotRedkeep, Text: fmt.Sprintf(
		"hooks: not redkeep on %s (keepalived runs other scripts; state read from plain facts): switchover and resolve are refused: deploy first (README, Install); `redkeep doctor` lists the hazards",
		strings.Join(plain, " and "))})
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
