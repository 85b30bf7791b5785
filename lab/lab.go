package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/internal/loadcheck"
)

// ErrNoLab means there is no lab in the directory.
var ErrNoLab = errors.New("no lab running")

// ErrRefused marks an up that refused before creating anything: the subnet
// is in use, or pieces of another lab are in the way.
var ErrRefused = errors.New("refused")

// Lab is one lab on this machine.
type Lab struct {
	S Settings
	// Log receives progress lines ("starting keepalived on a ..."); may be nil.
	Log io.Writer
}

// New returns the lab described by s. When a lab already exists in s.Dir,
// its recorded settings (prefix, subnet, baseline) win over s.
func New(s Settings) (*Lab, error) {
	if s.Dir == "" {
		s.Dir = DefaultDir
	}
	loadcheck.QuietRedisLog()
	if b, err := os.ReadFile(s.statePath()); err == nil {
		var rec Settings
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("read %s: %w (remove the lab with `redkeep lab down`)", s.statePath(), err)
		}
		s.Prefix, s.Subnet, s.Baseline, s.JournalNode, s.SSHUser = rec.Prefix, rec.Subnet, rec.Baseline, rec.JournalNode, rec.SSHUser
	}
	if s.Prefix == "" {
		s.Prefix = DefaultPrefix
	}
	if !s.Subnet.IsValid() {
		s.Subnet = DefaultSettings().Subnet
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Lab{S: s}, nil
}

func (l *Lab) logf(format string, args ...any) {
	if l.Log != nil {
		fmt.Fprintf(l.Log, format+"\n", args...)
	}
}

// Exists reports whether a lab has been set up in the directory.
func (l *Lab) Exists() bool {
	_, err := os.Stat(l.S.statePath())
	return err == nil
}

// Requirements checks that this machine can run a lab and says exactly what
// to do when it cannot.
func Requirements() error {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "the lab needs root (network namespaces, bridges, keepalived): run it with sudo")
	}
	missing := map[string]string{}
	for bin, pkg := range map[string]string{
		"ip": "iproute2", "keepalived": "keepalived", "redis-server": "redis-server",
		"redis-cli": "redis-tools", "/usr/sbin/sshd": "openssh-server", "ssh-keygen": "openssh-client",
		"mount": "mount", "unshare": "util-linux", "hostname": "hostname", "journalctl": "systemd",
		"sudo": "sudo", "/usr/sbin/visudo": "sudo", "/usr/sbin/useradd": "passwd", "/usr/sbin/usermod": "passwd",
	} {
		if _, err := exec.LookPath(bin); err != nil {
			missing[pkg] = bin
		}
	}
	if len(missing) > 0 {
		var pkgs, bins []string
		for p, b := range missing {
			pkgs = append(pkgs, p)
			bins = append(bins, b)
		}
		problems = append(problems, fmt.Sprintf("missing %s: install them with `apt-get install keepalived redis-server openssh-server sudo` (needed here: %s)",
			strings.Join(bins, ", "), strings.Join(pkgs, " ")))
	}
	if m := journaldRequirements(); len(m) > 0 {
		problems = append(problems, fmt.Sprintf("missing %s: node b of the lab keeps its logs in a journal of its own (install Debian's systemd package)", strings.Join(m, ", ")))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Up creates the lab and returns once the pair is healthy: a is keepalived
// MASTER with the VIP and its Redis master, b is BACKUP and a replica in sync.
// If the lab already exists it only reports it (running reports true).
func (l *Lab) Up(ctx context.Context) (st *Status, running bool, err error) {
	if err := Requirements(); err != nil {
		return nil, false, err
	}
	if l.Exists() {
		st, err := l.Status(ctx)
		return st, true, err
	}
	s := &l.S
	if err := s.Validate(); err != nil {
		return nil, false, err
	}
	// Everything that could refuse, before anything is created.
	uses, err := hostUses(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := checkSubnetFree(ctx, s.Subnet, uses); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var taken []string
	for _, n := range NodeNames {
		if netnsExists(s.Namespace(n)) {
			taken = append(taken, "network namespace "+s.Namespace(n))
		}
		if linkExists(s.HostVeth(n)) {
			taken = append(taken, "interface "+s.HostVeth(n))
		}
	}
	if linkExists(s.Bridge()) {
		taken = append(taken, "interface "+s.Bridge())
	}
	if len(taken) > 0 {
		return nil, false, fmt.Errorf("%w: %s already exist but %s has no lab: left over from an interrupted lab? run `redkeep lab down` (with the same --dir/--prefix) first",
			ErrRefused, strings.Join(taken, ", "), s.Dir)
	}
	if entries, err := os.ReadDir(s.Dir); err == nil && len(entries) > 0 {
		return nil, false, fmt.Errorf("%w: lab dir %s exists and is not empty, and holds no lab", ErrRefused, s.Dir)
	}
	if err := l.create(ctx); err != nil {
		diag := l.diagnostics()
		if derr := l.Down(context.WithoutCancel(ctx)); derr != nil {
			err = fmt.Errorf("%w\n(cleaning up also failed: %v)", err, derr)
		}
		return nil, false, fmt.Errorf("lab up: %w%s", err, diag)
	}
	st, err = l.Status(ctx)
	return st, false, err
}

func (l *Lab) create(ctx context.Context) error {
	s := &l.S
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", s.Dir, err)
	}
	rec, _ := json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(s.statePath(), append(rec, '\n'), 0o644); err != nil {
		return err
	}
	l.logf("lab: files in %s", s.Dir)
	if err := s.makeFiles(ctx); err != nil {
		return err
	}
	l.logf("lab: network %s: bridge %s (%s), nodes a %s and b %s, VIP %s",
		s.Subnet, s.Bridge(), s.BridgeAddr(), s.NodeAddr("a"), s.NodeAddr("b"), s.VIP())
	if err := createNetwork(ctx, s); err != nil {
		return err
	}
	if err := ensureDevLog(); err != nil {
		return err
	}
	for _, n := range NodeNames {
		l.logf("lab: node %s: syslogd, redis-server, sshd", n)
		if err := l.startBase(ctx, n, true); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, 15*time.Second, "b's Redis to sync from a", func() (bool, error) {
		v := probeRedis(ctx, redisAddr(s.NodeAddr("b")))
		return v.Role == "replica" && v.LinkUp && !v.Syncing, nil
	}); err != nil {
		return err
	}
	// nopreempt makes the start order matter: a first, MASTER, then b.
	l.logf("lab: node a: keepalived (waiting for MASTER)")
	if err := l.startKeepalived(ctx, "a"); err != nil {
		return err
	}
	if err := l.waitMaster(ctx, "a"); err != nil {
		return err
	}
	l.logf("lab: node b: keepalived")
	if err := l.startKeepalived(ctx, "b"); err != nil {
		return err
	}
	_, err := l.WaitHealthy(ctx, l.wait())
	return err
}

func (l *Lab) wait() time.Duration {
	if l.S.Wait > 0 {
		return l.S.Wait
	}
	if l.S.Baseline {
		// advert_int 5 and the scripts' 10-15 s sleeps.
		return 90 * time.Second
	}
	return 30 * time.Second
}

func (l *Lab) waitMaster(ctx context.Context, n string) error {
	return waitFor(ctx, l.wait(), "node "+n+" to become keepalived MASTER with the VIP", func() (bool, error) {
		has, err := holdsVIP(ctx, &l.S, n)
		return err == nil && has && vrrpState(l.S.Syslog(n)) == "MASTER", err
	})
}

// startBase starts node n's syslogd, redis-server and sshd where not
// running; first is the lab's very first start.
func (l *Lab) startBase(ctx context.Context, n string, first bool) error {
	s := &l.S
	if err := ensureDevLog(); err != nil {
		return err
	}
	if err := s.startSyslogd(ctx, n); err != nil {
		return err
	}
	if err := s.startJournald(ctx, n); err != nil {
		return err
	}
	if s.running(n, procRedis) == 0 {
		if err := l.startRedis(ctx, n, first); err != nil {
			return err
		}
	}
	if err := s.startExporter(ctx, n); err != nil {
		return err
	}
	if s.running(n, procSSHD) == 0 {
		pid, err := s.startProc(n, procSSHD, s.nodeWrapper(n, "/usr/sbin/sshd", "-D", "-f", filepath.Join(s.NodeDir(n), "sshd_config")))
		if err != nil {
			return err
		}
		// Its own log line, rather than a probe connection that would leave
		// a "connection closed" error in the node's syslog.
		ready := fmt.Sprintf("sshd[%d]: Server listening on", pid)
		if err := waitFor(ctx, 5*time.Second, "node "+n+": sshd", func() (bool, error) {
			b, err := os.ReadFile(s.Syslog(n))
			return err == nil && strings.Contains(string(b), ready), nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// exporterArgs are node n's `redkeep exporter` arguments: the node's
// address, so Prometheus (and the tests) scrape it over the lab network.
func (s *Settings) exporterArgs(n string) []string {
	return []string{"exporter", "--config", s.ConfigPath(), "--node", n,
		"--listen", net.JoinHostPort(s.NodeAddr(n).String(), strconv.Itoa(ExporterPort))}
}

// exporterMark is what node n's exporter's command line contains.
func (s *Settings) exporterMark(n string) string {
	return strings.Join(s.exporterArgs(n)[:5], " ")
}

// ExporterURL is node n's /metrics, on the lab network.
func (s *Settings) ExporterURL(n string) string {
	return "http://" + net.JoinHostPort(s.NodeAddr(n).String(), strconv.Itoa(ExporterPort)) + "/metrics"
}

// startExporter starts node n's `redkeep exporter` (the lab's build) unless
// it runs, and waits until it answers /healthz. A baseline lab has none:
// it stands for hosts before redkeep is deployed, with no redkeep on them.
func (s *Settings) startExporter(ctx context.Context, n string) error {
	if s.Baseline || s.running(n, procExporter) > 0 {
		return nil
	}
	if _, err := s.startProc(n, procExporter, s.nodeWrapper(n, append([]string{s.RedkeepPath()}, s.exporterArgs(n)...)...)); err != nil {
		return err
	}
	health := strings.TrimSuffix(s.ExporterURL(n), "/metrics") + "/healthz"
	// No proxy from the environment: lab traffic stays in the lab.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	return waitFor(ctx, 5*time.Second, "node "+n+": redkeep exporter on "+health, func() (bool, error) {
		if s.running(n, procExporter) == 0 {
			return false, fmt.Errorf("redkeep exporter exited (see %s)", s.outFile(n, procExporter))
		}
		resp, err := client.Get(health)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// startRedis starts node n's redis-server, with no persistence, so it comes
// back empty. At the lab's first start a is the master and b its replica. A
// later start is a restart, and there every node's redis.conf says
// `replicaof <peer>` (rule 5: it never serves as master without the VIP;
// the MASTER hook promotes). A restarted empty master instead would be
// resynced from by its replica within milliseconds, wiping it before any
// check could run: the origin document's empty-master hazard, which the
// lab's redis-restart case showed losing every acknowledged write.
func (l *Lab) startRedis(ctx context.Context, n string, first bool) error {
	s := &l.S
	// The baseline keeps the origin document's static configs (a master, b
	// its replica) on every start, restarts included.
	first = first || s.Baseline
	peer := "a"
	if n == "a" {
		peer = "b"
	}
	switch {
	case first && n == "b":
		return l.startRedisAs(ctx, n, "a", false)
	case first:
		return l.startRedisAs(ctx, n, "", false)
	}
	return l.startRedisAs(ctx, n, peer, false)
}

// startRedisAs starts node n's redis-server as the replica of node
// replicaOf, or as a master when it is "". With keepData it loads the
// dump.rdb a SHUTDOWN SAVE left in the node's directory; otherwise it
// starts empty.
func (l *Lab) startRedisAs(ctx context.Context, n, replicaOf string, keepData bool) error {
	s := &l.S
	dir := s.NodeDir(n)
	argv := []string{"redis-server",
		"--port", strconv.Itoa(RedisPort),
		// The node's address, the VIP (clients; ip_nonlocal_bind lets the
		// node bind it while it does not hold it) and loopback (the hooks).
		"--bind", s.NodeAddr(n).String(), s.VIP().String(), "127.0.0.1",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--syslog-enabled", "yes",
		"--syslog-ident", "redis",
		// A full resync should take milliseconds in the lab, not the default
		// 5 s wait for more replicas.
		"--repl-diskless-sync", "yes",
		"--repl-diskless-sync-delay", "0",
	}
	// No persistence: a crashed server comes back empty, even on b, which
	// may have been handed an RDB file by a full resync.
	if !keepData {
		if err := os.Remove(filepath.Join(dir, "dump.rdb")); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("node %s: %w", n, err)
		}
	}
	if replicaOf != "" {
		argv = append(argv, "--replicaof", s.NodeAddr(replicaOf).String(), strconv.Itoa(RedisPort))
	}
	if _, err := s.startProc(n, procRedis, s.nodeWrapper(n, argv...)); err != nil {
		return err
	}
	addr := redisAddr(s.NodeAddr(n))
	return waitFor(ctx, 5*time.Second, "node "+n+": redis-server on "+addr, func() (bool, error) {
		return probeRedis(ctx, addr).Up, nil
	})
}

func (l *Lab) startKeepalived(ctx context.Context, n string) error {
	s := &l.S
	if p, _ := s.keepalivedPids(n); p > 0 {
		return nil
	}
	// A keepalived that died without cleaning up (SIGKILL, power cut) left
	// the VIP on the node; a booting node would not have it.
	if err := dropVIP(ctx, s, n); err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	dir := s.NodeDir(n)
	// After a SIGKILL keepalived's pid files stay behind, naming processes
	// that may linger as zombies; keepalived would take them for a running
	// instance and refuse to start.
	for _, f := range []string{"keepalived.pid", "keepalived_vrrp.pid"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("node %s: %w", n, err)
		}
	}
	argv := s.nodeWrapper(n, "keepalived", "--dont-fork", "--vrrp", "--log-detail",
		"--use-file", filepath.Join(s.NodeView(), "keepalived.conf"),
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "keepalived_vrrp.pid"))
	if _, err := s.startProc(n, procKeepalived, argv); err != nil {
		return err
	}
	return waitFor(ctx, 5*time.Second, "node "+n+": keepalived's VRRP process", func() (bool, error) {
		if s.running(n, procKeepalived) == 0 {
			return false, fmt.Errorf("keepalived exited (see %s and %s)", s.Syslog(n), s.outFile(n, procKeepalived))
		}
		_, child := s.keepalivedPids(n)
		return child > 0, nil
	})
}

// Down removes the lab: processes, namespaces, links and files. It is safe
// to run when there is no lab, or half of one.
func (l *Lab) Down(ctx context.Context) error {
	s := &l.S
	var errs []error
	for _, n := range NodeNames {
		if err := s.killAll(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n, err))
		}
		// syslogd and journald run beside the node's network namespace.
		for _, proc := range []string{procJournald, procSyslogd} {
			if p := s.running(n, proc); p > 0 {
				_ = signal(p, syscall.SIGKILL)
				if err := waitGone(ctx, 3*time.Second, p); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := deleteNetwork(ctx, s); err != nil {
		errs = append(errs, err)
	}
	// Only a directory that is a lab (or empty) is removed: --dir pointing at
	// something else must not cost anyone their files.
	if l.Exists() {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, err)
		}
	} else if entries, err := os.ReadDir(s.Dir); err == nil && len(entries) == 0 {
		_ = os.Remove(s.Dir)
	}
	removeDevLogPlaceholder()
	return errors.Join(errs...)
}

// diagnostics returns the ends of the nodes' logs, for a failed up.
func (l *Lab) diagnostics() string {
	var b strings.Builder
	for _, n := range NodeNames {
		for _, f := range []string{l.S.Syslog(n), l.S.outFile(n, procKeepalived), l.S.outFile(n, procRedis), l.S.outFile(n, procSSHD), l.S.outFile(n, procExporter), l.S.outFile(n, procSyslogd), l.S.outFile(n, procJournald)} {
			t := tail(f, 8, nil)
			if t != "" {
				fmt.Fprintf(&b, "\n--- %s (last lines)\n%s", f, t)
			}
		}
	}
	return b.String()
}

// SyslogTails returns the last lines of each node's syslog, for a test
// that failed against a running lab.
func (l *Lab) SyslogTails(lines int) string {
	var b strings.Builder
	for _, n := range NodeNames {
		// Redis can fill the tail with one repeated complaint (a refused
		// PSYNC, say); the keepalived and hook lines before it are what
		// explain the pair's decisions, so they come first, on their own.
		if t := tail(l.S.Syslog(n), lines, notRedis); t != "" {
			fmt.Fprintf(&b, "\n--- %s (last %d lines not from redis)\n%s", l.S.Syslog(n), lines, t)
		}
		if t := tail(l.S.Syslog(n), lines, nil); t != "" {
			fmt.Fprintf(&b, "\n--- %s (last %d lines)\n%s", l.S.Syslog(n), lines, t)
		}
	}
	return b.String()
}

// notRedis keeps the syslog lines of every program but redis-server.
func notRedis(line string) bool { return !strings.Contains(line, " redis[") }

func tail(path string, lines int, keep func(string) bool) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if keep != nil {
		ls = slices.DeleteFunc(ls, func(l string) bool { return !keep(l) })
	}
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}
