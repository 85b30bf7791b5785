package nodes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/shell"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// DefaultProbeTimeout bounds one poll of one node when the caller sets no
// timeout: long enough for a first SSH handshake over a slow link, short
// enough that a dead node shows as such within a few seconds.
const DefaultProbeTimeout = 3 * time.Second

// plainMarker starts the facts reply of a node without redkeep installed;
// fastMarker starts the reply of the fast facts command.
const (
	plainMarker = "#redkeep-plain"
	fastMarker  = "#redkeep-fast"
)

// fullFactsPeriod is how often a Poller asks for the full facts. In between
// it asks only for what changes with a transition, the state file and the
// VIP, from cat and ip: measured on a loopback node, `redkeep hook state
// --json` costs the node about 23 ms of CPU a run (Go start-up, config,
// scanning /proc for keepalived), the fast command about 2 ms, the SSH
// session itself about 4 ms. So whether keepalived runs, the redkeep
// version and the drain file are at most this old.
const fullFactsPeriod = 5 * time.Second

// Prober takes Snapshots of one node over its SSH connection: the node's
// facts (keepalived state, VIP, keepalived running, redkeep version) with
// one remote command (full or fast, see fullFactsPeriod), and Redis INFO
// through a direct-tcpip channel. The two run in parallel. A Prober keeps
// its Redis connection between probes.
type Prober struct {
	cfg     *config.Config
	node    *config.Node
	conn    *Conn
	rc      *redis.Client
	timeout time.Duration
	full    string // the full facts command
	fast    string // the fast facts command
	err     error  // a configuration error reported in every Snapshot

	// fullEvery makes every n-th probe a full one; 1 (ProbeAll) makes
	// every probe full.
	fullEvery int

	mu    sync.Mutex // serializes probes: the cache below is per node
	probe int        // probes taken
	slow  *slowFacts // from the last full probe that read them
}

// slowFacts are the facts a fast probe does not read.
type slowFacts struct {
	version string
	hooks   string
	running bool
	drained bool
}

var silenceGoRedis sync.Once

// NewProber builds a Prober for node over conn. timeout bounds each probe
// (DefaultProbeTimeout when 0).
func NewProber(cfg *config.Config, node *config.Node, conn *Conn, timeout time.Duration) *Prober {
	// go-redis logs failed dials to stderr, which would scribble over the
	// console's screen; failures are reported in the Snapshot instead.
	silenceGoRedis.Do(func() { redis.SetLogger(&logging.VoidLogger{}) })
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	p := &Prober{cfg: cfg, node: node, conn: conn, timeout: timeout, fullEvery: 1,
		full: factsCommand(cfg, node), fast: fastFactsCommand(cfg)}
	pw, err := cfg.RedisPassword()
	if err != nil {
		p.err = err
	}
	p.rc = redis.NewClient(&redis.Options{
		Addr:     node.Redis.Addr,
		Username: cfg.Redis.Username,
		Password: pw,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return conn.DialContext(ctx, network, addr)
		},
		DialTimeout:   timeout,
		DialerRetries: 1,
		ReadTimeout:   timeout,
		WriteTimeout:  timeout,
		// One retry: after an SSH reconnect the pooled connection's channel
		// is dead, and the first command on it fails without a word from
		// Redis. A retry redials through the new connection.
		MaxRetries:            1,
		PoolSize:              1,
		MaxIdleConns:          1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})
	return p
}

// Close releases the Redis connection (not the SSH connection).
func (p *Prober) Close() error { return p.rc.Close() }

// Probe takes one Snapshot. It never fails: what could not be learned is
// said in the Snapshot.
func (p *Prober) Probe(ctx context.Context) (snap Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	snap = Snapshot{Node: p.node.Name, Time: start}
	defer func() { snap.Took = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	// Connect first, so the facts and Redis report one connection error
	// rather than two.
	if _, err := p.conn.Client(ctx); err != nil {
		snap.Conn, snap.ConnErr = StateOf(err), err.Error()
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			snap.Conn = ConnConnecting
			if st, last := p.conn.State(); last != nil {
				snap.Conn, snap.ConnErr = st, last.Error()
			}
		}
		snap.Redis.Err = "node not reachable over SSH"
		return snap
	}
	snap.Conn = ConnConnected

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		snap.Redis = p.probeRedis(ctx)
	}()
	p.probeFacts(ctx, &snap)
	wg.Wait()
	return snap
}

func (p *Prober) probeRedis(ctx context.Context) Redis {
	if p.err != nil {
		return Redis{Err: p.err.Error()}
	}
	info, err := replication.Fetch(ctx, p.rc)
	if err != nil {
		return Redis{Err: redisErr(p.node, err)}
	}
	return Redis{Up: true, Info: info}
}

// ReadOffset reads the node's replication offset again with ROLE, over
// the probe's Redis connection: what MeasureLag polls.
func (p *Prober) ReadOffset(ctx context.Context) (replication.Info, error) {
	if p.err != nil {
		return replication.Info{}, p.err
	}
	return replication.FetchRole(ctx, p.rc)
}

// redisErr turns a go-redis error into what an operator needs to read.
func redisErr(n *config.Node, err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connect failed"):
		return fmt.Sprintf("Redis at %s (on %s) refuses connections: is redis-server running?", n.Redis.Addr, n.Name)
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "invalid password"):
		return fmt.Sprintf("Redis at %s (on %s) rejected our credentials (redis.username, redis.password_file/password_env): %s", n.Redis.Addr, n.Name, msg)
	}
	return msg
}

func (p *Prober) probeFacts(ctx context.Context, snap *Snapshot) {
	// A node without redkeep has no state file for the fast command to
	// read: its state comes from the full command's log lines every time.
	full := p.slow == nil || p.slow.hooks != HooksRedkeep || p.fullEvery <= 1 || p.probe%p.fullEvery == 0
	p.probe++
	cmd := p.fast
	if full {
		cmd = p.full
	}
	out, err := p.conn.Run(ctx, cmd)
	if err != nil {
		snap.Keepalived.Err = err.Error()
		// The connection may have died under us: say so.
		if st, cerr := p.conn.State(); st != ConnConnected && cerr != nil {
			snap.Conn, snap.ConnErr = st, cerr.Error()
		}
		return
	}
	err = parseFacts(out, p.cfg.VIPAddr(), snap)
	if err != nil {
		snap.Keepalived.Err = fmt.Sprintf("node %s: %v", p.node.Name, err)
	}
	switch {
	case full && err == nil:
		p.slow = &slowFacts{version: snap.Version, hooks: snap.Hooks, running: snap.Keepalived.Running, drained: snap.Keepalived.Drained}
	case !full && p.slow != nil:
		snap.Version, snap.Hooks, snap.Keepalived.Running, snap.Keepalived.Drained = p.slow.version, p.slow.hooks, p.slow.running, p.slow.drained
	}
}

// fastFactsCommand reads only what a keepalived transition or an operator
// changes: the hooks' state file, the maintenance file and the node's
// addresses (the VIP).
func fastFactsCommand(cfg *config.Config) string {
	return strings.Join([]string{
		"echo '" + fastMarker + "'",
		"echo '#state'; cat " + shell.Quote(cfg.Hooks.StateFile) + " 2>/dev/null; echo",
		"echo '#maintenance'; cat " + shell.Quote(cfg.Hooks.MaintenanceFile) + " 2>/dev/null; echo",
		"echo '#addr'; ip -o addr show 2>/dev/null",
		"true",
	}, "\n")
}

// factsCommand is the one remote command a probe runs: the node's own
// `redkeep hook state --json` when redkeep is installed (the hooks' view,
// one source of truth), else the same facts read with standard tools, so a
// plain node still shows what it can.
func factsCommand(cfg *config.Config, n *config.Node) string {
	q := shell.Quote
	return strings.Join([]string{
		fmt.Sprintf("if [ -x %s ]; then exec %s hook state --json --config %s --node %s; fi", q(n.Redkeep), q(n.Redkeep), q(n.ConfigPath), q(n.Name)),
		"echo '" + plainMarker + "'",
		"echo '#state'; cat " + q(cfg.Hooks.StateFile) + " 2>/dev/null; echo",
		"echo '#maintenance'; cat " + q(cfg.Hooks.MaintenanceFile) + " 2>/dev/null; echo",
		"echo '#addr'; ip -o addr show 2>/dev/null",
		"echo '#keepalived'; " + keepalivedRunning,
		"echo '#drain'; cat " + q(cfg.Keepalived.TrackFile) + " 2>/dev/null; echo",
		// Without redkeep's state file, keepalived's own last transition
		// line says its state: from the syslog file, else the journal.
		// Both reads are bounded (the file's last 256 KiB, the journal's
		// last 2000 lines).
		"echo '#syslog'; tail -c 262144 " + q(cfg.Console.Syslog) + " 2>/dev/null | grep -aE " + q(`[Kk]eepalived[^:]*: .*`+enteringRE) + " | tail -n 1",
		"echo '#journal'; [ -r " + q(cfg.Console.Syslog) + " ] || journalctl -q -n 2000 --no-pager -o cat _SYSTEMD_UNIT=keepalived.service + SYSLOG_IDENTIFIER=Keepalived_vrrp SYSLOG_IDENTIFIER=Keepalived 2>/dev/null | grep -aE " + q(enteringRE) + " | tail -n 1",
		"true",
	}, "\n")
}

// enteringRE matches keepalived's log line for a VRRP transition, in the
// layouts of keepalived 1.x ("VRRP_Instance(VI_1) Entering MASTER STATE")
// and 2.x ("(VI_1) Entering MASTER STATE").
const enteringRE = `Entering (MASTER|BACKUP|FAULT) STATE`

// enteredState returns the state named by the last of keepalived's
// transition lines in text, "" when there is none.
func enteredState(text string) string {
	for _, st := range []string{"MASTER", "BACKUP", "FAULT"} {
		if strings.Contains(text, "Entering "+st+" STATE") {
			return st
		}
	}
	return ""
}

// keepalivedRunning prints yes when a keepalived runs in this network
// namespace, as hooks.ReadNodeState decides it. Zombies do not count (a
// SIGKILLed keepalived lingers as one until reaped), nor do keepalived
// processes of other network namespaces (lab nodes share one PID
// namespace). A keepalived whose namespace an unprivileged user cannot read
// counts when this namespace has a VRRP socket (IP protocol 112, or 51 for
// AH) open, which /proc/net/raw shows to everyone.
const keepalivedRunning = `me=$(readlink /proc/self/ns/net); r=no
for p in $(pgrep -x keepalived 2>/dev/null); do
  read -r _ _ st _ < /proc/$p/stat 2>/dev/null || continue
  [ "$st" = Z ] && continue
  if ns=$(readlink /proc/$p/ns/net 2>/dev/null); then
    [ "$ns" = "$me" ] && { r=yes; break; }
  elif grep -qE '^ *[0-9]+: [0-9A-Fa-f]+:00(70|33) ' /proc/net/raw /proc/net/raw6 2>/dev/null; then
    r=yes; break
  fi
done
echo $r`

// parseFacts fills snap from the facts command's output.
func parseFacts(out []byte, vip netip.Addr, snap *Snapshot) error {
	plain, fast := bytes.HasPrefix(out, []byte(plainMarker)), bytes.HasPrefix(out, []byte(fastMarker))
	if !plain && !fast {
		var ns wire.NodeState
		if err := json.Unmarshal(out, &ns); err != nil {
			return fmt.Errorf("redkeep hook state --json: unreadable reply %q: %v", abbrev(out), err)
		}
		snap.Version = ns.Version
		snap.Hooks = HooksRedkeep
		snap.HoldsVIP = ns.HoldsVIP
		snap.Keepalived.Running = ns.KeepalivedRunning
		snap.Keepalived.Drained = ns.Drained
		if ns.State != nil {
			setState(&snap.Keepalived, ns.State)
			snap.Keepalived.StateFrom = StateFromFile
		}
		snap.Maintenance, snap.MaintenanceErr = ns.Maintenance, ns.MaintenanceErr
		if ns.StateErr != "" {
			return errors.New(ns.StateErr)
		}
		return nil
	}
	// Split in place: a quiet pair is polled this way every half second.
	sections := map[string][]byte{}
	var cur string
	for line := range bytes.Lines(out) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) > 1 && line[0] == '#' && !bytes.ContainsAny(line, " \t") {
			cur = string(line[1:])
			continue
		}
		sections[cur] = append(append(sections[cur], line...), '\n')
	}
	snap.HoldsVIP = holdsAddr(string(sections["addr"]), vip)
	if plain {
		snap.Keepalived.Running = strings.TrimSpace(string(sections["keepalived"])) == "yes"
		if d := strings.TrimSpace(string(sections["drain"])); d != "" && d != "0" {
			snap.Keepalived.Drained = true
		}
	}
	if m := bytes.TrimSpace(sections["maintenance"]); len(m) > 0 {
		if rec, err := wire.ParseMaintenance(m); err != nil {
			snap.MaintenanceErr = err.Error()
		} else {
			snap.Maintenance = &rec
		}
	}
	if st := bytes.TrimSpace(sections["state"]); len(st) > 0 {
		s, err := wire.ParseState(st)
		if err != nil {
			return fmt.Errorf("state file: %v", err)
		}
		setState(&snap.Keepalived, &s)
		snap.Keepalived.StateFrom = StateFromFile
	}
	if plain {
		snap.Hooks = HooksNotRedkeep
		plainState(&snap.Keepalived, sections, snap.HoldsVIP)
	}
	return nil
}

// plainState fills in the keepalived state of a node without redkeep's
// state file: keepalived's last transition line in its log, else a guess
// from the VIP (a running keepalived holding it is MASTER), said as such.
func plainState(k *Keepalived, sections map[string][]byte, holdsVIP bool) {
	if k.State != "" || !k.Running {
		return
	}
	switch {
	case enteredState(string(sections["syslog"])) != "":
		k.State, k.StateFrom = enteredState(string(sections["syslog"])), StateFromSyslog
	case enteredState(string(sections["journal"])) != "":
		k.State, k.StateFrom = enteredState(string(sections["journal"])), StateFromJournal
	case holdsVIP:
		k.State, k.StateFrom = "MASTER", StateFromVIP
	default:
		k.State, k.StateFrom = "BACKUP", StateFromVIP
	}
}

func setState(k *Keepalived, s *wire.State) {
	k.State = s.State
	k.Priority = s.Priority
	k.Since = s.Since
	k.LastAction = s.LastAction
	k.LastResult = s.LastResult
}

// holdsAddr reports whether `ip -o addr` output lists addr on an interface
// other than lo: a VIP on lo is a switchover's bridge for a moment
// (switchover.LoopbackBridge), not keepalived's.
func holdsAddr(ipAddr string, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, line := range strings.Split(ipAddr, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == "lo" {
			continue
		}
		// "2: eth0    inet 198.51.100.100/24 brd ... scope global secondary eth0"
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" && f[i] != "inet6" {
				continue
			}
			if p, err := netip.ParsePrefix(f[i+1]); err == nil && p.Addr() == addr {
				return true
			}
		}
	}
	return false
}

func abbrev(b []byte) string {
	const max = 120
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// RedisServer is what `redkeep doctor` reads of a node's Redis beyond its
// replication INFO: configuration parameters (CONFIG GET) and the server's
// process.
type RedisServer struct {
	// Config holds the parameters asked for that the server knows.
	Config map[string]string `json:"config"`
	// ConfigErr says why CONFIG GET failed (renamed or ACL-denied, say).
	ConfigErr string `json:"config_error,omitempty"`
	// PID is INFO server's process_id (0 when unknown), ConfigFile its
	// config_file ("" when started without one).
	PID        int    `json:"pid"`
	ConfigFile string `json:"config_file"`
	Err        string `json:"error,omitempty"`
}

// ReadServer reads params with CONFIG GET and the server's process from
// INFO server, over the probe's Redis connection.
func (p *Prober) ReadServer(ctx context.Context, params ...string) RedisServer {
	var rs RedisServer
	if p.err != nil {
		rs.Err = p.err.Error()
		return rs
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	text, err := p.rc.Info(ctx, "server").Result()
	if err != nil {
		rs.Err = redisErr(p.node, err)
		return rs
	}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		switch {
		case !ok:
		case k == "process_id":
			fmt.Sscan(v, &rs.PID)
		case k == "config_file":
			rs.ConfigFile = v
		}
	}
	rs.Config = map[string]string{}
	for _, name := range params {
		m, err := p.rc.ConfigGet(ctx, name).Result()
		if err != nil {
			rs.ConfigErr = fmt.Sprintf("CONFIG GET %s on %s: %v", name, p.node.Name, err)
			break
		}
		for k, v := range m {
			rs.Config[k] = v
		}
	}
	return rs
}
