// Package actions holds the operator's actions on the pair: the planned
// switchover's preflight (also its dry run), its execution through the
// nodes' own redkeep, and its verification. It exposes plain data and
// callbacks; the console and the CLI render them.
package actions

import (
	"fmt"
	"github.com/redkeep/redkeep/internal/buildinfo"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// Check is one preflight check: what was measured, what it must be, and
// whether it passed. A failed check is a reason to refuse.
type Check struct {
	Name string `json:"name"`
	// Node is the node the check is about, "" for the pair.
	Node      string `json:"node,omitempty"`
	Value     string `json:"value"`
	Threshold string `json:"threshold"`
	Pass      bool   `json:"pass"`
}

// Check names, stable for scripts and tests.
const (
	CheckReachable   = "reachable over SSH"
	CheckHooks       = "redkeep hooks"
	CheckRedisUp     = "Redis answers"
	CheckVersions    = "redkeep versions"
	CheckRedisVer    = "Redis version"
	CheckKeepalived  = "keepalived running"
	CheckVIPHolder   = "VIP holder"
	CheckVIPOnMaster = "VIP holder is the Redis master"
	CheckTarget      = "target"
	CheckTargetReady = "target keepalived ready to take the VIP"
	CheckReplicaOf   = "target replicates from the master"
	CheckLink        = "replication link"
	CheckSyncing     = "not syncing or loading"
	CheckLag         = "replication lag"
	CheckPause       = "write pause"
	CheckNoOperation = "no operation in progress"
	CheckMaintenance = "maintenance mode"
)

// Limits are what the preflight holds the target's catch-up to.
type Limits struct {
	// MaxPause is the pause budget: the longest the target's estimated
	// catch-up (how long writes would pause) may be.
	MaxPause time.Duration `json:"max_pause_ns"`
	// MaxLag is an optional byte limit on the target's lag; 0 is none.
	MaxLag int64 `json:"max_lag"`
}

// Plan is the preflight of one switchover: from the current master (and VIP
// holder) to the target, and every check with its result.
type Plan struct {
	From string `json:"from"`
	To   string `json:"to"`
	Limits
	Checks []Check `json:"checks"`
}

// OK reports whether every check passed: the switchover may run.
func (p Plan) OK() bool { return len(p.Failed()) == 0 && len(p.Checks) > 0 }

// Failed returns the checks that did not pass.
func (p Plan) Failed() []Check {
	var out []Check
	for _, c := range p.Checks {
		if !c.Pass {
			out = append(out, c)
		}
	}
	return out
}

// Facts are what the preflight decides over: one snapshot per node and the
// switchover lock each node reported. Gathering them is I/O; Preflight is not.
type Facts struct {
	Snapshots []nodes.Snapshot
	// Locks maps a node to its held switchover lock; a node absent from
	// the map has none.
	Locks map[string]*wire.SwitchoverLock
	// LockErrs maps a node to why its lock could not be read.
	LockErrs map[string]string
	// Now is when the facts were gathered: maintenance records are active
	// or expired at Now. Zero means the snapshots' own time.
	Now time.Time
}

func (f Facts) snapshot(name string) (nodes.Snapshot, bool) {
	for _, s := range f.Snapshots {
		if s.Node == name {
			return s, true
		}
	}
	return nodes.Snapshot{}, false
}

// Preflight checks whether a switchover to target (default: the node that
// is not the master) may run now. It is pure: the same facts give the same
// plan, so the dry run, the console and the real run all agree.
func Preflight(cfg *config.Config, f Facts, target string, lim Limits) Plan {
	p := Plan{Limits: lim}
	add := func(c Check) { p.Checks = append(p.Checks, c) }

	snaps := make(map[string]nodes.Snapshot, len(cfg.Nodes))
	for _, n := range cfg.Nodes {
		s, ok := f.snapshot(n.Name)
		if !ok {
			s = nodes.Snapshot{Node: n.Name, Conn: nodes.ConnUnreachable, ConnErr: "no snapshot"}
		}
		snaps[n.Name] = s
	}

	// Reachability, Redis, keepalived, and locks on each node.
	for _, n := range cfg.Nodes {
		s := snaps[n.Name]
		reach := Check{Name: CheckReachable, Node: n.Name, Value: string(s.Conn), Threshold: string(nodes.ConnConnected), Pass: s.Conn == nodes.ConnConnected}
		if s.Conn == "" {
			reach.Value = "unknown"
		}
		if !reach.Pass && s.ConnErr != "" {
			reach.Value += ": " + s.ConnErr
		}
		add(reach)
		if c, ok := hooksCheck(s, n.Redkeep); ok {
			add(c)
		}
		redisUp := Check{Name: CheckRedisUp, Node: n.Name, Value: "up", Threshold: "up", Pass: s.Redis.Up}
		if !s.Redis.Up {
			redisUp.Value = "down"
			if s.Redis.Err != "" {
				redisUp.Value += ": " + s.Redis.Err
			}
		}
		add(redisUp)
		if s.Redis.Up {
			// Before 6.2 there is no way to pause writes and still demote
			// the master: the switchover would refuse at the Redis step.
			v := s.Redis.Info.Version
			if v == "" {
				v = "unknown"
			}
			add(Check{Name: CheckRedisVer, Node: n.Name, Value: v, Threshold: ">= 6.2 (CLIENT PAUSE WRITE, FAILOVER)", Pass: replication.SupportsSwitchover(s.Redis.Info.Version)})
		}
		ka := Check{Name: CheckKeepalived, Node: n.Name, Value: "running", Threshold: "running", Pass: s.Keepalived.Running}
		switch {
		case s.Keepalived.Err != "" && !s.Keepalived.Running:
			ka.Value = "unknown: " + s.Keepalived.Err
		case !s.Keepalived.Running:
			ka.Value = "not running"
		}
		if s.Keepalived.State != "" {
			ka.Value += " (" + s.Keepalived.State + ")"
		}
		add(ka)
	}

	// Versions: both nodes run the same binary's protocol. The build's
	// content hash tells two "devel" builds apart.
	var versions []string
	first, same := "", true
	for i, n := range cfg.Nodes {
		v := snaps[n.Name].Version
		switch {
		case v == "":
			same, v = false, "unknown"
		case i == 0:
			first = v
			same = same && buildinfo.SameBuild(v, v)
		case !buildinfo.SameBuild(v, first):
			same = false
		}
		versions = append(versions, n.Name+" "+v)
	}
	add(Check{Name: CheckVersions, Value: strings.Join(versions, ", "), Threshold: "the same build on both (version and sha256)", Pass: same})

	// Exactly one VIP holder, and it is the Redis master.
	var holders, masters []string
	for _, n := range cfg.Nodes {
		s := snaps[n.Name]
		if s.HoldsVIP {
			holders = append(holders, n.Name)
		}
		if s.Redis.Up && s.Redis.Info.Role == replication.RoleMaster {
			masters = append(masters, n.Name)
		}
	}
	add(Check{Name: CheckVIPHolder, Value: listOrNone(holders), Threshold: "exactly one", Pass: len(holders) == 1})
	from := ""
	vipOnMaster := Check{Name: CheckVIPOnMaster, Threshold: "the VIP holder is the only Redis master"}
	switch {
	case len(holders) != 1:
		vipOnMaster.Value = "masters: " + listOrNone(masters)
	case len(masters) == 1 && masters[0] == holders[0]:
		from = holders[0]
		vipOnMaster.Value = from + " is master"
		vipOnMaster.Pass = true
	default:
		vipOnMaster.Value = fmt.Sprintf("VIP on %s, masters: %s", holders[0], listOrNone(masters))
	}
	add(vipOnMaster)
	p.From = from

	// The target: named, or the other node.
	tc := Check{Name: CheckTarget, Threshold: "the node that is not the master"}
	switch {
	case target != "":
		if _, err := cfg.Node(target); err != nil {
			tc.Value = fmt.Sprintf("%q is not a node (nodes: %s)", target, strings.Join(cfg.NodeNames(), ", "))
			target = ""
		} else if target == from {
			tc.Value = target + " is already the master"
			target = ""
		} else {
			tc.Value = target
			tc.Pass = from != ""
		}
	case from != "":
		peer, _ := cfg.Peer(from)
		target = peer.Name
		tc.Value = target + " (the other node)"
		tc.Pass = true
	default:
		tc.Value = "unknown: no single master holding the VIP"
	}
	if tc.Pass {
		tc.Node = target
	}
	add(tc)
	p.To = target

	// The target's keepalived must be BACKUP: a node in FAULT (its check
	// failing, or drained) would not take the VIP when the master drains.
	ready := Check{Name: CheckTargetReady, Node: target, Value: "unknown", Threshold: "BACKUP"}
	if ts, ok := snaps[target]; ok && target != "" {
		if st := ts.Keepalived.State; st != "" {
			ready.Value = st
		}
		ready.Pass = ts.Keepalived.Running && ts.Keepalived.State == "BACKUP"
	}
	add(ready)

	// Replication of the target from the master.
	p.Checks = append(p.Checks, replicationChecks(cfg, snaps, from, target, lim)...)

	// Neither node in maintenance: the operator said the pair is theirs.
	for _, n := range cfg.Nodes {
		s := snaps[n.Name]
		now := f.Now
		if now.IsZero() {
			now = s.Time
		}
		c := Check{Name: CheckMaintenance, Node: n.Name, Value: "off", Threshold: "off", Pass: true}
		switch m, on := s.InMaintenance(now); {
		case on:
			c.Value, c.Pass = fmt.Sprintf("on %s (`redkeep maintenance off` ends it)", m), false
		case s.MaintenanceErr != "":
			c.Value, c.Pass = "unknown: "+s.MaintenanceErr, false
		}
		add(c)
	}

	// No other switchover on either node.
	for _, n := range cfg.Nodes {
		c := Check{Name: CheckNoOperation, Node: n.Name, Value: "none", Threshold: "no switchover lock", Pass: true}
		if snaps[n.Name].Hooks == nodes.HooksNotRedkeep {
			// The lock lives in redkeep's files; the hooks check says why
			// there is none to ask.
			c.Value, c.Pass = "unknown: no redkeep on the node to ask", false
		} else if e, ok := f.LockErrs[n.Name]; ok {
			c.Value, c.Pass = "unknown: "+e, false
		} else if l := f.Locks[n.Name]; l != nil && l.Owner != "" {
			c.Value, c.Pass = l.String(), false
		}
		add(c)
	}
	return p
}

// hooksCheck fails a node whose keepalived does not run redkeep's hooks:
// nothing there would take the switchover's or resolve's node-side steps.
// ok is false when the node's facts are unknown (other checks say why).
func hooksCheck(s nodes.Snapshot, redkeep string) (Check, bool) {
	c := Check{Name: CheckHooks, Node: s.Node, Value: s.Hooks, Threshold: "redkeep installed on the node", Pass: s.Hooks == nodes.HooksRedkeep}
	switch s.Hooks {
	case "":
		return c, false
	case nodes.HooksNotRedkeep:
		c.Value = "not redkeep (no " + redkeep + "): deploy first (README, Install)"
	}
	return c, true
}

// replicationChecks are the target's link, sync state, lag and the write
// pause its catch-up would cost.
func replicationChecks(cfg *config.Config, snaps map[string]nodes.Snapshot, from, target string, lim Limits) []Check {
	rep := Check{Name: CheckReplicaOf, Node: target, Value: "unknown", Threshold: "replica of the master"}
	link := Check{Name: CheckLink, Node: target, Value: "unknown", Threshold: "up"}
	sync := Check{Name: CheckSyncing, Node: target, Value: "unknown", Threshold: "idle"}
	lag := Check{Name: CheckLag, Node: target, Value: "unknown", Threshold: "shared history (no byte limit: switchover.max_lag 0)"}
	if lim.MaxLag > 0 {
		lag.Threshold = "<= " + human.Bytes(lim.MaxLag)
	}
	pause := Check{Name: CheckPause, Node: target, Value: "unknown", Threshold: "<= " + lim.MaxPause.String() + " (max pause)"}
	out := func() []Check { return []Check{rep, link, sync, lag, pause} }
	if from == "" || target == "" {
		return out()
	}
	master, replica := snaps[from], snaps[target]
	mn, _ := cfg.Node(from)
	if !replica.Redis.Up {
		// The target's Redis does not answer (frozen, say), but the master
		// still knows the offset the replica last acknowledged: say how far
		// behind that is, so the refusal names the lag and not only the
		// silence.
		tn, _ := cfg.Node(target)
		if r, ok := replicaEntry(master.Redis.Info, tn.Redis.PeerAddr); ok {
			n := max(master.Redis.Info.MasterReplOffset-r.Offset, 0)
			lag.Value = fmt.Sprintf("%s by the master's view (last ack %d s ago)", human.Bytes(n), r.Lag)
		}
		return out()
	}
	ti := replica.Redis.Info
	rep.Threshold = "replica of " + mn.Redis.PeerAddr
	if ti.Role == replication.RoleReplica {
		rep.Value = "replica of " + net.JoinHostPort(ti.MasterHost, strconv.Itoa(ti.MasterPort))
		rep.Pass = sameAddr(ti.MasterHost, ti.MasterPort, mn.Redis.PeerAddr)
	} else {
		rep.Value = string(ti.Role)
		if ti.Role == replication.RoleUnknown {
			rep.Value = "unknown role"
		}
	}
	if !rep.Pass {
		return out()
	}
	link.Value, link.Pass = "up", ti.LinkUp
	if !ti.LinkUp {
		link.Value = "down"
		if ti.LinkDownSecs >= 0 {
			link.Value += fmt.Sprintf(" for %d s", ti.LinkDownSecs)
		}
	}
	switch {
	case ti.Loading:
		sync.Value = "loading"
	case ti.SyncInProgress:
		sync.Value = "syncing"
	default:
		sync.Value, sync.Pass = "idle", true
	}
	n, ok := replication.Lag(ti, master.Redis.Info)
	if !ok {
		lag.Value = "no shared history (different replication ids)"
		pause.Value = "unknown: no shared history"
		return out()
	}
	lag.Value, lag.Pass = human.Bytes(n), ti.LinkUp && (lim.MaxLag <= 0 || n <= lim.MaxLag)
	l := replica.Redis.Lag
	if l != nil {
		lag.Value = l.String()
	}
	if !ti.LinkUp {
		lag.Value += " (link down: the master's offset moves on unseen)"
		pause.Value = "unknown: the link is down"
		return out()
	}
	// The pause the switchover would cost: the target's catch-up time,
	// estimated from its lag and its measured apply rate. Without a
	// measurement only a replica that had every byte is known.
	var est nodes.PauseEstimate
	switch {
	case l != nil && l.Pause != nil:
		est = *l.Pause
	case n == 0:
		est = nodes.PauseEstimate{Known: true}
	default:
		pause.Value = fmt.Sprintf("unknown: %s behind, its apply rate not measured", human.Bytes(n))
		return out()
	}
	pause.Value = target + " " + est.String()
	pause.Pass = est.Known && est.Pause <= lim.MaxPause
	return out()
}

// replicaEntry finds the master's INFO line for the replica at addr.
func replicaEntry(master replication.Info, addr string) (replication.Replica, bool) {
	for _, r := range master.Replicas {
		if sameAddr(r.IP, r.Port, addr) {
			return r, true
		}
	}
	return replication.Replica{}, false
}

// sameAddr compares a replica's master_host/master_port with a host:port.
func sameAddr(host string, port int, addr string) bool {
	h, p, err := net.SplitHostPort(addr)
	return err == nil && h == host && p == strconv.Itoa(port)
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
