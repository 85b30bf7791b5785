// Package lab runs a real two-node redkeep pair on one Linux machine: nodes a
// and b live in network namespaces joined by a bridge in the root namespace,
// and each runs redis-server, keepalived (with this build of redkeep as its
// hooks), OpenSSH sshd and a syslog receiver of its own. The lab is the demo,
// the teaching tool and the end-to-end test bed, so everything in it is the
// real program speaking the real protocol.
//
// All state lives under one directory (Settings.Dir, default /run/redkeep-lab:
// /run is root-only and forgotten at reboot, like the namespaces themselves).
package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"
)

// Defaults of the lab's settings.
const (
	DefaultDir    = "/run/redkeep-lab"
	DefaultPrefix = "rklab"
	DefaultSubnet = "198.51.100.0/24"
)

// Host numbers inside the lab subnet.
const (
	hostBridge = 1
	hostA      = 11
	hostB      = 12
	hostVIP    = 100
)

// Fixed ports inside each node's namespace: the lab is meant to look like two
// ordinary hosts.
const (
	RedisPort = 6379
	SSHPort   = 22
	// ExporterPort is `redkeep exporter`'s default port; the lab's
	// exporters listen on it at the node's address.
	ExporterPort = 10121
)

// NodeNames are the lab's two nodes, the initial master first.
var NodeNames = []string{"a", "b"}

// Settings choose where a lab lives and what it looks like.
type Settings struct {
	// Dir holds every file of the lab. Its parents must be root-owned and not
	// writable by others: keepalived's enable_script_security checks the
	// whole path of the hooks binary copied in here.
	Dir string `json:"dir"`
	// Prefix names the namespaces (PREFIX-a), host veths (PREFIX-a) and the
	// bridge (PREFIX0), so a lab collides with nothing else on the machine.
	Prefix string `json:"prefix"`
	// Subnet is the lab's IPv4 network: bridge .1, nodes .11 and .12, VIP .100.
	Subnet netip.Prefix `json:"subnet"`
	// Redkeep is the binary installed as the nodes' redkeep (default: the
	// running executable).
	Redkeep string `json:"-"`
	// Baseline runs the origin document's shell scripts (fixed sleeps,
	// SLAVEOF, weight -20, advert_int 5) instead of redkeep's hooks, so the
	// benchmark can compare the two.
	Baseline bool `json:"baseline"`
	// NoWatch turns the nodes' Redis watcher off (keepalived.watch.enabled
	// false): the check alone detects a dead Redis, as before the watcher,
	// so the benchmark can compare the two.
	NoWatch bool `json:"no_watch,omitempty"`
	// JournalNode is the node that keeps its logs in the journal only, as
	// Debian 12 and RHEL 9 hosts do: it runs a systemd-journald of its own
	// and has no syslog file. "" means DefaultJournalNode; JournalNone
	// gives both nodes a syslog file.
	JournalNode string `json:"journal_node,omitempty"`
	// SSHUser is the console's SSH user on the nodes: DefaultSSHUser ("")
	// with deploy's rights, or RootSSHUser.
	SSHUser string `json:"ssh_user,omitempty"`
	// Wait bounds how long up and heal wait for a healthy pair.
	Wait time.Duration `json:"-"`
	// Timing is the pair's keepalived timing; the zero value is
	// ShippedTiming, what redkeep's defaults ship.
	Timing Timing `json:"timing,omitzero"`
	// ExtraConfig is appended to the lab's config.yaml (top-level YAML
	// keys), e.g. a bench mode's settings of its own.
	ExtraConfig string `json:"extra_config,omitempty"`
}

// Timing is the keepalived timing of a lab's pair: the nodes' VRRP
// priorities, the advert interval and the VRRP version.
type Timing struct {
	PriorityA   int           `json:"priority_a"`
	PriorityB   int           `json:"priority_b"`
	AdvertInt   time.Duration `json:"advert_int_ns"`
	VRRPVersion int           `json:"vrrp_version"`
}

// ShippedTiming is the timing config.yaml's example and redkeep's defaults
// ship: high priorities, so the node taking over after a drain or a failed
// check waits little (its skew time, (256 - priority)/256 of the advert
// interval), and keepalived's advert interval of 1 s: 100 ms (VRRPv3) saw
// false failovers in the 10-minute soak (README, The lab).
var ShippedTiming = Timing{PriorityA: 254, PriorityB: 253, AdvertInt: time.Second, VRRPVersion: 2}

// timing is s.Timing, or ShippedTiming when it is not set.
func (s *Settings) timing() Timing {
	if s.Timing == (Timing{}) {
		return ShippedTiming
	}
	return s.Timing
}

// String is the timing in one line: "priorities 254/253, advert_int 1s, VRRPv2".
func (t Timing) String() string {
	return fmt.Sprintf("priorities %d/%d, advert_int %s, VRRPv%d", t.PriorityA, t.PriorityB, t.AdvertInt, t.VRRPVersion)
}

// The journal-only node by default, and the value for none.
const (
	DefaultJournalNode = "b"
	JournalNone        = "none"
)

// journalOnly reports whether node n keeps its logs in the journal only.
func (s *Settings) journalOnly(n string) bool {
	jn := s.JournalNode
	if jn == "" {
		jn = DefaultJournalNode
	}
	return jn == n
}

// DefaultSettings returns the settings `redkeep lab` uses without flags.
func DefaultSettings() Settings {
	return Settings{
		Dir:    DefaultDir,
		Prefix: DefaultPrefix,
		Subnet: netip.MustParsePrefix(DefaultSubnet),
	}
}

// prefixRE is compiled when first used, not in every redkeep process's start.
var prefixRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`) })

// Validate checks the settings before anything is created.
func (s *Settings) Validate() error {
	var errs []error
	if !filepath.IsAbs(s.Dir) || filepath.Clean(s.Dir) == "/" {
		errs = append(errs, fmt.Errorf("lab dir %q: must be an absolute path other than /", s.Dir))
	}
	if s.JournalNode != "" && s.JournalNode != JournalNone && !slices.Contains(NodeNames, s.JournalNode) {
		errs = append(errs, fmt.Errorf("lab journal node %q: a, b or %s", s.JournalNode, JournalNone))
	}
	if s.SSHUser != "" && s.SSHUser != DefaultSSHUser && s.SSHUser != RootSSHUser {
		errs = append(errs, fmt.Errorf("lab SSH user %q: %s or %s", s.SSHUser, DefaultSSHUser, RootSSHUser))
	}
	if !prefixRE().MatchString(s.Prefix) {
		errs = append(errs, fmt.Errorf("lab prefix %q: lowercase letters and digits, starting with a letter, at most 10 (interface names are limited to 15 characters)", s.Prefix))
	}
	if t := s.timing(); t.PriorityA < 1 || t.PriorityA > 254 || t.PriorityB < 1 || t.PriorityB > 254 || t.PriorityA == t.PriorityB {
		errs = append(errs, fmt.Errorf("lab timing %s: priorities must be 1-254 and differ", t))
	} else if t.VRRPVersion != 2 && t.VRRPVersion != 3 {
		errs = append(errs, fmt.Errorf("lab timing %s: VRRP version 2 or 3", t))
	} else if t.VRRPVersion == 2 && (t.AdvertInt < time.Second || t.AdvertInt%time.Second != 0) {
		errs = append(errs, fmt.Errorf("lab timing %s: VRRPv2 takes a whole-second advert_int", t))
	} else if t.AdvertInt < 10*time.Millisecond || t.AdvertInt%(10*time.Millisecond) != 0 {
		errs = append(errs, fmt.Errorf("lab timing %s: advert_int must be a multiple of 10ms", t))
	}
	switch {
	case !s.Subnet.IsValid():
		errs = append(errs, errors.New("lab subnet: not set"))
	case !s.Subnet.Addr().Is4():
		errs = append(errs, fmt.Errorf("lab subnet %s: must be IPv4", s.Subnet))
	case s.Subnet.Bits() < 8 || s.Subnet.Bits() > 25:
		errs = append(errs, fmt.Errorf("lab subnet %s: prefix length must be 8-25 so that .%d (the VIP) fits", s.Subnet, hostVIP))
	case s.Subnet.Masked() != s.Subnet:
		errs = append(errs, fmt.Errorf("lab subnet %s: has host bits set (did you mean %s?)", s.Subnet, s.Subnet.Masked()))
	}
	return errors.Join(errs...)
}

// ParseSubnet parses a --subnet flag value.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--subnet %q: not a network in CIDR form (e.g. %s)", s, DefaultSubnet)
	}
	return p, nil
}

// host returns the n-th address of the subnet.
func (s *Settings) host(n int) netip.Addr {
	a := s.Subnet.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// BridgeAddr is the root namespace's address on the lab bridge.
func (s *Settings) BridgeAddr() netip.Addr { return s.host(hostBridge) }

// VIP is the pair's virtual address.
func (s *Settings) VIP() netip.Addr { return s.host(hostVIP) }

// NodeAddr is the address of node name ("a" or "b").
func (s *Settings) NodeAddr(name string) netip.Addr {
	if name == "b" {
		return s.host(hostB)
	}
	return s.host(hostA)
}

// Bridge is the name of the lab bridge in the root namespace.
func (s *Settings) Bridge() string { return s.Prefix + "0" }

// Namespace is the network namespace of node name.
func (s *Settings) Namespace(name string) string { return s.Prefix + "-" + name }

// HostVeth is the root-namespace end of node name's cable.
func (s *Settings) HostVeth(name string) string { return s.Prefix + "-" + name }

// nodeVeth is the temporary name of the node's end before it moves into the
// namespace and becomes eth0.
func (s *Settings) nodeVeth(name string) string { return s.Prefix + "-" + name + "n" }

// Paths of the lab's files.
func (s *Settings) path(elem ...string) string {
	return filepath.Join(append([]string{s.Dir}, elem...)...)
}

// ConfigPath is the redkeep config shared by the console and both nodes.
func (s *Settings) ConfigPath() string { return s.path("config.yaml") }

// NodeDir is node name's directory as seen from the root namespace.
func (s *Settings) NodeDir(name string) string { return s.path("nodes", name) }

// NodeView is the path where each node sees its own NodeDir: every process
// of a node runs in a mount namespace with NodeDir bind-mounted here, so both
// nodes (and the shared config) use the same paths, as two real hosts would.
func (s *Settings) NodeView() string { return s.path("node") }

// RedkeepPath is the installed copy of redkeep that keepalived runs, and
// the nodes' redkeep in the lab's config.yaml. A baseline lab leaves it
// absent: its nodes do not run redkeep, as on hosts before a deploy.
func (s *Settings) RedkeepPath() string { return s.path("bin", "redkeep") }

// labBinary is the copy of redkeep the lab's own helpers run (its syslog
// receivers): RedkeepPath, except in a baseline lab.
func (s *Settings) labBinary() string {
	if s.Baseline {
		return s.path("bin", "redkeep-lab")
	}
	return s.RedkeepPath()
}

// Syslog is node name's syslog file, as seen from the root namespace.
//
// A journal-only node has no syslog file of its own: its journald forwards
// to the lab's syslogd, which keeps the lines in a file beside the node's
// directory, out of the node's sight, for the lab's own checks.
func (s *Settings) Syslog(name string) string {
	if s.journalOnly(name) {
		return s.path("nodes", name+".forwarded-syslog")
	}
	return filepath.Join(s.NodeDir(name), "syslog")
}

// StateLog is node name's redis-state log, as seen from the root namespace.
func (s *Settings) StateLog(name string) string {
	return filepath.Join(s.NodeDir(name), "redis-state.log")
}

// EventLog is node name's event journal, as seen from the root namespace.
func (s *Settings) EventLog(name string) string {
	return filepath.Join(s.NodeDir(name), "events.jsonl")
}

// Notifications is the file the lab's notify.command appends node name's
// events to, as seen from the root namespace.
func (s *Settings) Notifications(name string) string {
	return filepath.Join(s.NodeDir(name), "notifications.jsonl")
}

// NotifyCommand is the lab's notify.command, a script both nodes run.
func (s *Settings) NotifyCommand() string { return s.path("bin", "notify") }

func (s *Settings) statePath() string { return s.path("lab.json") }

func (s *Settings) executable() (string, error) {
	if s.Redkeep != "" {
		return s.Redkeep, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this redkeep binary: %w", err)
	}
	return exe, nil
}
