// Package doctor examines a Redis + keepalived pair for the hazards of the
// origin document's setup and for what breaks a pair in practice:
// mismatched VRRP settings, clock skew, redkeep versions, unsafe file
// modes, readable password files. Analyze is pure: its input is the facts
// Gather reads from each node over SSH (file contents with their modes,
// Redis CONFIG GET and INFO, clock readings), so recorded facts test it.
package doctor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

// Severity of a finding.
type Severity string

// Severities, most serious first.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Critical:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Finding is one thing doctor found: what, where, the evidence read on the
// node, and the fix.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Node is the node it is about, "" for the pair.
	Node     string `json:"node,omitempty"`
	Summary  string `json:"summary"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix"`
}

// Finding IDs, stable for scripts and tests.
const (
	IDUnreachable        = "unreachable"
	IDCannotRead         = "cannot-read"
	IDNotRedkeep         = "not-redkeep"
	IDKeepalivedConf     = "keepalived-conf"
	IDFixedSleep         = "fixed-sleep"
	IDNopreemptWeight    = "nopreempt-negative-weight"
	IDStopTwoMasters     = "stop-leaves-two-masters"
	IDEmptyMaster        = "empty-master-restart"
	IDNoPersistRestarted = "no-persistence-restarted"
	IDVRIDMismatch       = "vrid-mismatch"
	IDVIPMismatch        = "vip-mismatch"
	IDAuthMismatch       = "auth-mismatch"
	IDClockSkew          = "clock-skew"
	IDVersionMismatch    = "version-mismatch"
	IDUnsafeMode         = "unsafe-mode"
	IDPasswordReadable   = "password-readable"
	IDWatchUntracked     = "watch-untracked"
)

// File is a file on a node as Gather saw it.
type File struct {
	// Role says what the file is to the pair ("keepalived.conf", "notify
	// script", "redkeep config", "Redis password file", ...).
	Role string `json:"role"`
	Path string `json:"path"`
	// Exists is false when the file is not there; Err says why it could
	// not be examined otherwise.
	Exists bool   `json:"exists"`
	Dir    bool   `json:"dir,omitempty"`
	Mode   uint32 `json:"mode"` // permission bits
	Owner  string `json:"owner,omitempty"`
	Group  string `json:"group,omitempty"`
	// Content is the file's text (read files only), at most MaxFileBytes.
	Content   string `json:"content,omitempty"`
	Read      bool   `json:"read,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	Err       string `json:"error,omitempty"`
}

// MaxFileBytes bounds how much of one file Gather reads.
const MaxFileBytes = 64 << 10

// Clock is one reading of a node's clock over SSH: the console's time when
// it sent the command and when the reply came back, and the node's time.
type Clock struct {
	Sent     time.Time `json:"sent"`
	Remote   time.Time `json:"remote"`
	Received time.Time `json:"received"`
}

// offset is the node's clock minus the console's, and its uncertainty
// (half the round trip).
func (c Clock) offset() (off, unc time.Duration) {
	rtt := c.Received.Sub(c.Sent)
	mid := c.Sent.Add(rtt / 2)
	return c.Remote.Sub(mid), rtt/2 + clockResolution
}

// clockResolution covers the node's `date` starting up between reading
// the clock and the reply: a few milliseconds.
const clockResolution = 5 * time.Millisecond

// Redis is what Gather read of a node's Redis.
type Redis struct {
	Up     bool              `json:"up"`
	Err    string            `json:"error,omitempty"`
	Info   replication.Info  `json:"info"`
	Config map[string]string `json:"config"`
	// ConfigErr says why CONFIG GET failed.
	ConfigErr string `json:"config_error,omitempty"`
	PID       int    `json:"pid"`
	// Unit is the systemd unit Redis runs in ("" when none), Restart its
	// Restart= setting.
	Unit    string `json:"unit,omitempty"`
	Restart string `json:"restart,omitempty"`
}

// NodeFacts are one node's facts.
type NodeFacts struct {
	Node string `json:"node"`
	// Host is the node's address on the pair's network.
	Host string `json:"host"`
	// User is who the SSH session ran as on the node.
	User string `json:"user"`
	// Err says why the node could not be read at all.
	Err string `json:"error,omitempty"`
	// Redkeep is the configured path of redkeep on the node; Version the
	// version found there ("" when not installed); Hooks whether its
	// keepalived runs redkeep's hooks (nodes.HooksRedkeep/HooksNotRedkeep).
	Redkeep string `json:"redkeep"`
	Version string `json:"version"`
	Hooks   string `json:"hooks"`
	// KeepalivedConf is keepalived's config file (the running keepalived's
	// -f, else /etc/keepalived/keepalived.conf).
	KeepalivedConf File `json:"keepalived_conf"`
	// Scripts are the scripts keepalived.conf runs, read.
	Scripts []File `json:"scripts"`
	// Files are redkeep's files and directories (stat only).
	Files []File `json:"files"`
	// PasswordFile is redis.password_file on the node, nil when unset.
	PasswordFile *File `json:"password_file,omitempty"`
	// HealthFile is keepalived.watch.health_file when the watcher is on.
	HealthFile string `json:"health_file,omitempty"`
	Redis      Redis  `json:"redis"`
	Clock      *Clock `json:"clock,omitempty"`
}

// Facts are both nodes' facts, and what the config says of the pair.
type Facts struct {
	// VIP is the config's virtual address (no prefix length).
	VIP   string      `json:"vip"`
	Nodes []NodeFacts `json:"nodes"`
}

// Report is doctor's answer.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Clean reports whether nothing warning or worse was found.
func (r Report) Clean() bool {
	for _, f := range r.Findings {
		if f.Severity != Info {
			return false
		}
	}
	return true
}

// Analyze examines the facts and returns the findings, most serious first.
func Analyze(f Facts) Report {
	a := &analysis{f: f}
	confs := make([]*kaConf, len(f.Nodes))
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if n.Err != "" {
			a.add(Finding{ID: IDUnreachable, Severity: Critical, Node: n.Node,
				Summary:  "node not examined: cannot reach it over SSH",
				Evidence: n.Err,
				Fix:      "make the node reachable with the config's ssh settings, then run doctor again"})
			continue
		}
		confs[i] = a.node(n)
	}
	a.pair(confs)
	slices.SortStableFunc(a.out, func(x, y Finding) int { return x.Severity.rank() - y.Severity.rank() })
	if a.out == nil {
		a.out = []Finding{}
	}
	return Report{Findings: a.out}
}

type analysis struct {
	f   Facts
	out []Finding
}

func (a *analysis) add(f Finding) { a.out = append(a.out, f) }

// peerOf returns the other node's facts.
func (a *analysis) peerOf(n *NodeFacts) *NodeFacts {
	for i := range a.f.Nodes {
		if a.f.Nodes[i].Node != n.Node {
			return &a.f.Nodes[i]
		}
	}
	return nil
}

// cannotRead is the info finding for a file the SSH user may not read.
func (a *analysis) cannotRead(n *NodeFacts, file File) {
	a.add(Finding{ID: IDCannotRead, Severity: Info, Node: n.Node,
		Summary:  fmt.Sprintf("cannot read %s %s as user %s", file.Role, file.Path, n.User),
		Evidence: file.Err,
		Fix:      fmt.Sprintf("run doctor with an SSH user that may read it (ssh.user), or grant %s read access (e.g. group membership); the checks that need it were skipped", n.User)})
}

// node runs the per-node checks and returns the node's parsed
// keepalived.conf (nil when unreadable).
func (a *analysis) node(n *NodeFacts) *kaConf {
	a.files(n)
	conf := a.keepalived(n)
	a.redis(n, conf)
	return conf
}

// keepalived parses the node's keepalived.conf and checks its instance
// and scripts.
func (a *analysis) keepalived(n *NodeFacts) *kaConf {
	kf := n.KeepalivedConf
	switch {
	case kf.Err != "":
		a.cannotRead(n, kf)
		return nil
	case !kf.Exists:
		a.add(Finding{ID: IDKeepalivedConf, Severity: Warning, Node: n.Node,
			Summary:  "no keepalived.conf found",
			Evidence: fmt.Sprintf("%s does not exist and no running keepalived names another (-f)", kf.Path),
			Fix:      "install keepalived's config (`redkeep keepalived-conf --node " + n.Node + "` renders the one redkeep expects)"})
		return nil
	case !kf.Read:
		return nil
	}
	ss, err := parseConf(kf.Content)
	if err != nil {
		a.add(Finding{ID: IDKeepalivedConf, Severity: Warning, Node: n.Node,
			Summary:  "keepalived.conf could not be parsed",
			Evidence: fmt.Sprintf("%s: %v", kf.Path, err),
			Fix:      "check it with `keepalived -t -f " + kf.Path + "`"})
		return nil
	}
	c := readConf(ss)
	if len(c.instances) == 0 {
		a.add(Finding{ID: IDKeepalivedConf, Severity: Warning, Node: n.Node,
			Summary:  "keepalived.conf has no vrrp_instance",
			Evidence: kf.Path,
			Fix:      "`redkeep keepalived-conf --node " + n.Node + "` renders the one redkeep expects"})
		return &c
	}
	redkeepHooks := a.hooksAreRedkeep(n, c)
	if redkeepHooks && n.HealthFile != "" {
		a.watchTracked(n, c)
	}
	for _, in := range c.instances {
		a.nopreemptWeight(n, c, in)
		a.fixedSleeps(n, in)
		if !redkeepHooks {
			a.stopTwoMasters(n, in)
		}
	}
	if !redkeepHooks {
		a.add(Finding{ID: IDNotRedkeep, Severity: Info, Node: n.Node,
			Summary:  "hooks: not redkeep: keepalived runs other scripts",
			Evidence: fmt.Sprintf("%s runs %s", kf.Path, strings.Join(notifyCommands(c), "; ")),
			Fix:      "deploy redkeep (README, Install): its hooks measure replication instead of sleeping; the console refuses switchover and resolve until then"})
	}
	return &c
}

// hooksAreRedkeep reports whether the conf's notify scripts are redkeep's.
func (a *analysis) hooksAreRedkeep(n *NodeFacts, c kaConf) bool {
	found := false
	for _, in := range c.instances {
		for _, k := range notifyKeys {
			if cmd, ok := in.notify[k]; ok {
				found = true
				if !isRedkeepHook(cmd.command, n.Redkeep) {
					return false
				}
			}
		}
	}
	return found
}

func notifyCommands(c kaConf) []string {
	var out []string
	for _, in := range c.instances {
		for _, k := range notifyKeys {
			if cmd, ok := in.notify[k]; ok {
				out = append(out, k+" "+cmd.command)
			}
		}
	}
	return out
}

// nopreemptWeight: with nopreempt, a BACKUP ignores the lower-priority
// adverts of a MASTER whose check failed, so a negative weight never moves
// the VIP off a dead Redis.
func (a *analysis) nopreemptWeight(n *NodeFacts, c kaConf, in instance) {
	if !in.nopreempt {
		return
	}
	for _, t := range in.tracks {
		w := t.weight
		vs, known := c.scripts[t.name]
		if !t.hasWeight {
			if !known {
				continue
			}
			w = vs.weight
		}
		if w >= 0 {
			continue
		}
		a.add(Finding{ID: IDNopreemptWeight, Severity: Critical, Node: n.Node,
			Summary: "a failing check never fails over: negative weight with nopreempt",
			Evidence: fmt.Sprintf("%s: vrrp_instance %s (line %d) has nopreempt and tracks %s (line %d) with weight %d: when Redis dies on the MASTER its priority drops to %d, and a nopreempt BACKUP ignores lower-priority adverts, so the VIP stays on the dead Redis",
				n.KeepalivedConf.Path, in.name, in.line, t.name, max(t.line, vs.line), w, in.priority+w),
			Fix: "track the check with weight 0 (a failing check puts the instance in FAULT, which hands the VIP over at once) or use a vrrp_track_file; `redkeep keepalived-conf` renders both"})
	}
}

// watchTracked: with the watcher on, keepalived.conf must track its
// health file, or the watcher's failures change nothing and a dead Redis
// waits for the next check.
func (a *analysis) watchTracked(n *NodeFacts, c kaConf) {
	for _, in := range c.instances {
		if !slices.ContainsFunc(in.trackFiles, func(name string) bool { return c.trackFiles[name] == n.HealthFile }) {
			a.add(Finding{ID: IDWatchUntracked, Severity: Warning, Node: n.Node,
				Summary: "the Redis watcher's health file is not tracked: a dead Redis waits for the next check",
				Evidence: fmt.Sprintf("%s: vrrp_instance %s (line %d) tracks no track_file whose file is keepalived.watch.health_file %s, so the watcher's failure changes nothing and Redis dying is noticed by the check, up to its interval later",
					n.KeepalivedConf.Path, in.name, in.line, n.HealthFile),
				Fix: "install the keepalived.conf `redkeep keepalived-conf --node " + n.Node + "` renders (`redkeep deploy` does), or set keepalived.watch.enabled: false"})
		}
	}
}

// fixedSleeps finds notify scripts that sleep a fixed time instead of
// measuring replication.
func (a *analysis) fixedSleeps(n *NodeFacts, in instance) {
	var evidence, kinds []string
	for _, k := range notifyKeys {
		cmd, ok := in.notify[k]
		if !ok {
			continue
		}
		path := commandPath(cmd.command)
		sc, found := script(n, path)
		if !found || !sc.Read {
			if found && sc.Err != "" {
				a.cannotRead(n, sc)
			}
			continue
		}
		if lines := sleeps(sc.Content); len(lines) > 0 {
			kinds = append(kinds, k)
			evidence = append(evidence, fmt.Sprintf("%s %s (keepalived.conf line %d) %s", k, path, cmd.line, strings.Join(lines, ", ")))
		}
	}
	if len(evidence) == 0 {
		return
	}
	a.add(Finding{ID: IDFixedSleep, Severity: Critical, Node: n.Node,
		Summary:  fmt.Sprintf("notify scripts sleep a fixed time instead of measuring replication (%s)", strings.Join(kinds, ", ")),
		Evidence: strings.Join(evidence, "; "),
		Fix:      "wait on replication offsets, not the clock: too short loses acknowledged writes, too long stretches the outage, and overlapping scripts send contradicting SLAVEOF commands; redkeep's hooks compare master_repl_offset with the replica's offset"})
}

// script returns the node's gathered script at path.
func script(n *NodeFacts, path string) (File, bool) {
	for _, s := range n.Scripts {
		if s.Path == path {
			return s, true
		}
	}
	return File{}, false
}

// sleeps returns the lines of a shell script that sleep a fixed time
// ("line N: sleep 10"), at most five.
func sleeps(text string) []string {
	var out []string
	for i, line := range strings.Split(text, "\n") {
		code, _, _ := strings.Cut(line, "#")
		f := strings.Fields(code)
		for j := 0; j+1 < len(f); j++ {
			w := strings.TrimLeft(f[j], ";&|({")
			if w != "sleep" {
				continue
			}
			arg := strings.TrimRight(f[j+1], ";&|)}")
			if isDuration(arg) {
				out = append(out, fmt.Sprintf("line %d: %s", i+1, strings.TrimSpace(code)))
				break
			}
		}
		if len(out) == 5 {
			break
		}
	}
	return out
}

// isDuration reports whether s is a literal sleep argument: 10, 1.5, 2s, 1m.
func isDuration(s string) bool {
	s = strings.TrimRight(s, "smhd")
	if s == "" {
		return false
	}
	dot := false
	for _, c := range s {
		switch {
		case c == '.' && !dot:
			dot = true
		case c < '0' || c > '9':
			return false
		}
	}
	return true
}

// stopTwoMasters: when keepalived is killed, notify_stop never runs, and
// the peer's notify_master only promotes its own Redis: the old master
// keeps taking writes beside the new one.
func (a *analysis) stopTwoMasters(n *NodeFacts, in instance) {
	peer := a.peerOf(n)
	master, hasMaster := in.notify["notify_master"]
	var evidence []string
	if hasMaster {
		path := commandPath(master.command)
		sc, _ := script(n, path)
		if peer != nil && sc.Read && addressesHost(sc.Content, peer.Host) {
			return // it demotes the peer itself
		}
		evidence = append(evidence, fmt.Sprintf("notify_master %s never sends a command to the peer's Redis (no -h %s)", path, peerHost(peer)))
	} else if _, ok := in.notify["notify"]; !ok {
		evidence = append(evidence, "no notify_master or notify script")
	} else {
		return // a generic notify of unknown kind: cannot tell
	}
	if stop, ok := in.notify["notify_stop"]; ok {
		evidence = append(evidence, fmt.Sprintf("only notify_stop (%s, line %d) demotes this node, and keepalived never runs it when killed (SIGKILL, OOM, power loss)", commandPath(stop.command), stop.line))
	} else {
		evidence = append(evidence, "no notify_stop: a stopped keepalived leaves its Redis a master")
	}
	a.add(Finding{ID: IDStopTwoMasters, Severity: Critical, Node: n.Node,
		Summary:  "no action when keepalived stops or dies: the old master stays a Redis master beside the new one",
		Evidence: strings.Join(evidence, "; "),
		Fix:      "the node that takes the VIP must demote a reachable old master itself (redkeep's MASTER hook does), instead of trusting the old node's notify_stop"})
}

func peerHost(p *NodeFacts) string {
	if p == nil {
		return "<peer>"
	}
	return p.Host
}

// addressesHost reports whether script text runs a redis-cli against host.
func addressesHost(text, host string) bool {
	if host == "" {
		return false
	}
	f := strings.Fields(text)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-h" && strings.Trim(f[i+1], `"'`) == host {
			return true
		}
	}
	return false
}

// redis checks persistence against what a restart does.
func (a *analysis) redis(n *NodeFacts, conf *kaConf) {
	r := n.Redis
	if !r.Up {
		return
	}
	if r.ConfigErr != "" {
		a.add(Finding{ID: IDCannotRead, Severity: Info, Node: n.Node,
			Summary:  "cannot read Redis's configuration (CONFIG GET)",
			Evidence: r.ConfigErr,
			Fix:      "allow CONFIG GET for redkeep's Redis user (ACL: +config|get), or rename-command does not cover it; the persistence checks were skipped"})
		return
	}
	save, hasSave := r.Config["save"]
	aof := r.Config["appendonly"]
	if !hasSave || save != "" || aof == "yes" {
		return
	}
	evidence := fmt.Sprintf("CONFIG GET: save \"\", appendonly %s: a restarted Redis comes back empty", aof)
	if r.Unit != "" && r.Restart != "" && r.Restart != "no" {
		a.add(Finding{ID: IDNoPersistRestarted, Severity: Critical, Node: n.Node,
			Summary:  "Redis without persistence is restarted automatically by systemd",
			Evidence: fmt.Sprintf("%s; its unit %s has Restart=%s", evidence, r.Unit, r.Restart),
			Fix:      "enable persistence (appendonly yes), or set Restart=no for the unit (Redis advises against restarting a master without persistence), or make a restart come back as the peer's replica (replicaof in its boot config)"})
	}
	redkeepHooks := n.Hooks == nodes.HooksRedkeep
	if conf != nil {
		redkeepHooks = a.hooksAreRedkeep(n, *conf)
	}
	if redkeepHooks {
		return // redkeep's hooks never make a node follow an empty master
	}
	peer := a.peerOf(n)
	if r.Info.Role != replication.RoleMaster || peer == nil || !followsHost(peer.Redis.Info, n.Host) {
		return
	}
	a.add(Finding{ID: IDEmptyMaster, Severity: Critical, Node: n.Node,
		Summary: "a restarted empty master would be followed by its replica, wiping it",
		Evidence: fmt.Sprintf("%s; it is the master and %s replicates from it (master_host %s), so after a restart %s resyncs from the empty data set before any check runs",
			evidence, peer.Node, peer.Redis.Info.MasterHost, peer.Node),
		Fix: "never let a restarted Redis come back as a master: start it as the peer's replica (replicaof in its boot config) and let the hooks promote it, or enable persistence; redkeep's hooks refuse to make a node the replica of an empty or restarted peer"})
}

// followsHost reports whether a replica's master is host.
func followsHost(in replication.Info, host string) bool {
	return in.Role == replication.RoleReplica && host != "" && in.MasterHost == host
}

// files checks modes of redkeep's files, the scripts keepalived runs as
// root, and the password file.
func (a *analysis) files(n *NodeFacts) {
	all := append([]File{n.KeepalivedConf}, n.Scripts...)
	all = append(all, n.Files...)
	for _, f := range all {
		if !f.Exists || f.Err != "" && f.Mode == 0 {
			continue
		}
		switch {
		case f.Mode&0o002 != 0 && !(f.Dir && f.Mode&0o1000 != 0):
			a.unsafe(n, f, Critical, "writable by every user")
		case f.Mode&0o020 != 0 && f.Group != "root":
			a.unsafe(n, f, Critical, "writable by group "+f.Group)
		case f.Owner != "" && f.Owner != "root" && f.Role != "Redis password file":
			a.unsafe(n, f, Warning, "owned by "+f.Owner+", not root")
		}
	}
	if p := n.PasswordFile; p != nil {
		switch {
		case p.Err != "" && !p.Exists:
			a.cannotRead(n, *p)
		case p.Exists && p.Mode&0o004 != 0:
			a.add(Finding{ID: IDPasswordReadable, Severity: Critical, Node: n.Node,
				Summary:  "the Redis password file is readable by every user",
				Evidence: fmt.Sprintf("%s: mode %04o, owner %s:%s", p.Path, p.Mode, p.Owner, p.Group),
				Fix:      fmt.Sprintf("chmod 0600 %s (or 0640 with a group only redkeep's users are in)", p.Path)})
		case p.Exists && p.Mode&0o002 != 0:
			a.unsafe(n, *p, Critical, "writable by every user")
		}
	}
}

func (a *analysis) unsafe(n *NodeFacts, f File, sev Severity, why string) {
	kind := "file"
	if f.Dir {
		kind = "directory"
	}
	a.add(Finding{ID: IDUnsafeMode, Severity: sev, Node: n.Node,
		Summary:  fmt.Sprintf("%s %s is %s", f.Role, kind, why),
		Evidence: fmt.Sprintf("%s: mode %04o, owner %s:%s", f.Path, f.Mode, f.Owner, f.Group),
		Fix:      fmt.Sprintf("chown root:root %s && chmod go-w %s: keepalived runs its scripts as root, and anyone who can change them runs code as root", f.Path, f.Path)})
}

// pair compares the nodes.
func (a *analysis) pair(confs []*kaConf) {
	if len(a.f.Nodes) != 2 {
		return
	}
	n0, n1 := &a.f.Nodes[0], &a.f.Nodes[1]
	if confs[0] != nil && confs[1] != nil {
		i0, ok0 := a.pairInstance(*confs[0])
		i1, ok1 := a.pairInstance(*confs[1])
		if ok0 && ok1 {
			a.compareInstances(n0, n1, i0, i1)
		}
	}
	if n0.Err == "" && n1.Err == "" {
		a.clockSkew(n0, n1)
		a.versions(n0, n1)
	}
}

// pairInstance is the instance carrying the config's VIP, else the only one.
func (a *analysis) pairInstance(c kaConf) (instance, bool) {
	for _, in := range c.instances {
		for _, v := range in.vips {
			if vipAddr(v) == a.f.VIP {
				return in, true
			}
		}
	}
	if len(c.instances) == 1 {
		return c.instances[0], true
	}
	return instance{}, false
}

func vipAddr(v string) string {
	addr, _, _ := strings.Cut(v, "/")
	return addr
}

func (a *analysis) compareInstances(n0, n1 *NodeFacts, i0, i1 instance) {
	if i0.vrid != i1.vrid {
		a.add(Finding{ID: IDVRIDMismatch, Severity: Critical,
			Summary:  "the nodes' virtual_router_id differ: they are two separate VRRP routers and both take the VIP",
			Evidence: fmt.Sprintf("%s: %s %s virtual_router_id %s; %s: %s %s virtual_router_id %s", n0.Node, n0.KeepalivedConf.Path, i0.name, i0.vrid, n1.Node, n1.KeepalivedConf.Path, i1.name, i1.vrid),
			Fix:      "use the same virtual_router_id on both (config.yaml keepalived.virtual_router_id; `redkeep keepalived-conf` renders it)"})
	}
	v0, v1 := vipSet(i0.vips), vipSet(i1.vips)
	if v0 != v1 {
		a.add(Finding{ID: IDVIPMismatch, Severity: Critical,
			Summary:  "the nodes' virtual_ipaddress differ: clients may reach a node that is not the master",
			Evidence: fmt.Sprintf("%s: %s; %s: %s", n0.Node, v0, n1.Node, v1),
			Fix:      "use the same VIP on both (config.yaml vip)"})
	}
	if i0.authType != i1.authType || i0.authPass != i1.authPass {
		// The password itself is not shown.
		a.add(Finding{ID: IDAuthMismatch, Severity: Critical,
			Summary:  "the nodes' VRRP authentication differs: each drops the other's adverts and both become MASTER",
			Evidence: fmt.Sprintf("%s: auth_type %s%s; %s: auth_type %s%s", n0.Node, orNone(i0.authType), passNote(i0, i1), n1.Node, orNone(i1.authType), passNote(i1, i0)),
			Fix:      "use the same authentication block on both, or none (VRRP's PASS authentication is sent in clear and protects nothing)"})
	}
}

func vipSet(vs []string) string {
	s := make([]string, 0, len(vs))
	for _, v := range vs {
		s = append(s, vipAddr(v))
	}
	slices.Sort(s)
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func passNote(a, b instance) string {
	if a.authType == b.authType && a.authPass != b.authPass {
		return " (auth_pass differs)"
	}
	return ""
}

// maxSkew is the clock difference between the nodes beyond which their
// logs, side by side, tell events in the wrong order and the switchover
// lock's expiry is misjudged.
const maxSkew = time.Second

func (a *analysis) clockSkew(n0, n1 *NodeFacts) {
	if n0.Clock == nil || n1.Clock == nil {
		return
	}
	o0, u0 := n0.Clock.offset()
	o1, u1 := n1.Clock.offset()
	skew, unc := o1-o0, u0+u1
	mag := skew
	if mag < 0 {
		mag = -mag
	}
	if mag-unc <= maxSkew {
		return
	}
	ahead, behind := n1.Node, n0.Node
	if skew < 0 {
		ahead, behind = behind, ahead
	}
	a.add(Finding{ID: IDClockSkew, Severity: Warning,
		Summary: fmt.Sprintf("%s's clock is %s ahead of %s's", ahead, mag.Round(time.Millisecond), behind),
		Evidence: fmt.Sprintf("read over SSH: %s %s off the console's clock, %s %s (each ± half its round trip: ± %s together); reported beyond %s",
			n0.Node, o0.Round(time.Millisecond), n1.Node, o1.Round(time.Millisecond), unc.Round(time.Millisecond), maxSkew),
		Fix: "run NTP (chrony or systemd-timesyncd) on both nodes: the logs side by side and the switchover lock's expiry rely on the clocks"})
}

func (a *analysis) versions(n0, n1 *NodeFacts) {
	if n0.Version == n1.Version || n0.Version == "" && n1.Version == "" {
		return
	}
	a.add(Finding{ID: IDVersionMismatch, Severity: Warning,
		Summary:  "the nodes run different redkeep builds: switchovers are refused until they match",
		Evidence: fmt.Sprintf("%s: %s; %s: %s", n0.Node, orNotInstalled(n0), n1.Node, orNotInstalled(n1)),
		Fix:      "install the same redkeep binary on both nodes"})
}

func orNotInstalled(n *NodeFacts) string {
	if n.Version == "" {
		return "not installed at " + n.Redkeep
	}
	return n.Version
}
