package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Processes of a node, by the name used for their pid and output files.
const (
	procSyslogd    = "syslogd"
	procRedis      = "redis"
	procSSHD       = "sshd"
	procKeepalived = "keepalived"
	procExporter   = "exporter"
	procJournald   = "journald"
)

// procComm is the kernel's command name (/proc/PID/comm) of each process, so
// a stale pid file never makes us signal an unrelated process.
var procComm = map[string]string{
	procSyslogd:    "", // the redkeep binary: checked through its command line
	procRedis:      "redis-server",
	procSSHD:       "sshd",
	procKeepalived: "keepalived",
	procExporter:   "", // the redkeep binary: checked through its command line
	procJournald:   "systemd-journal",
}

// procNames in start order.
var procNames = []string{procSyslogd, procJournald, procRedis, procSSHD, procExporter, procKeepalived}

// procs is node n's process list: only a journal-only node runs journald,
// and a baseline lab, standing for hosts before redkeep is deployed, runs
// no exporter.
func (s *Settings) procs(n string) []string {
	var ps []string
	for _, p := range procNames {
		if p == procJournald && !s.journalOnly(n) || p == procExporter && s.Baseline {
			continue
		}
		ps = append(ps, p)
	}
	return ps
}

// pidFile is where the lab records a process's pid. It is not the pid file
// the program writes itself: keepalived refuses to start when its own pid
// file names a live process, even its own.
func (s *Settings) pidFile(node, proc string) string {
	return filepath.Join(s.NodeDir(node), proc+".lab.pid")
}

func (s *Settings) outFile(node, proc string) string {
	return filepath.Join(s.NodeDir(node), proc+".out")
}

// nodeWrapper runs a program inside node n's network namespace and a mount
// namespace of its own (ip netns exec makes one, slave to the host's, so the
// bind mounts below never show up outside): the node's directory appears at
// NodeView and its syslog socket at /dev/log, which is how keepalived, sshd,
// redis-server and the hooks all log to the node's own syslog file. The node
// also gets a home of its own at /root, as a separate host would: the
// machine's root dotfiles (a slow shell profile, say) stay out of the lab's
// SSH sessions. Its /etc and /home are its own too (see users.go): its
// users, groups and sudoers drop-ins.
//
// On a journal-only node /dev/log is its journald's socket instead, and
// the journal's directories are the node's own, so journalctl there reads
// the node's journal.
func (s *Settings) nodeWrapper(n string, argv ...string) []string {
	// The placeholder is made again here in case another lab's down removed
	// it between ensureDevLog and now.
	script := `{ [ -e /dev/log ] || : > /dev/log; } && mount --bind "$1" "$2" && mount --bind "$3" /dev/log && mount --bind "$4" /root && mount --bind "$5" /etc && mount --bind "$6" /home && shift 6 && exec "$@"`
	args := []string{s.NodeDir(n), s.NodeView(), s.devLog(n), s.nodeHome(n), s.nodeEtc(n), s.nodeHomes(n)}
	if s.journalOnly(n) {
		script = `mount --bind "$1" /run/systemd/journal && mount --bind "$2" /run/log/journal && shift 2 && ` + script
		args = append([]string{s.journalRun(n), s.journalDir(n)}, args...)
	}
	return append(append([]string{"ip", "netns", "exec", s.Namespace(n), "sh", "-c", script, "sh"}, args...), argv...)
}

// nodeHome is root's home directory on node n.
func (s *Settings) nodeHome(n string) string { return filepath.Join(s.NodeDir(n), "root") }

// ensureDevLog makes sure /dev/log exists as a mount point for the nodes'
// syslog sockets. On a host without a syslog daemon it does not; the lab then
// leaves an empty placeholder file, which `lab down` removes.
func ensureDevLog() error {
	if _, err := os.Lstat("/dev/log"); err == nil {
		return nil
	}
	f, err := os.OpenFile("/dev/log", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create /dev/log as a mount point for the nodes' syslog: %w", err)
	}
	if f != nil {
		f.Close()
	}
	return nil
}

// removeDevLogPlaceholder removes /dev/log if it is the lab's empty
// placeholder and no process anywhere (another lab, a test's lab) still has
// a socket mounted on it.
func removeDevLogPlaceholder() {
	fi, err := os.Lstat("/dev/log")
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 || devLogInUse() {
		return
	}
	_ = os.Remove("/dev/log")
}

// devLogInUse reports whether some process's mount namespace has a mount on
// /dev/log.
func devLogInUse() bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/mountinfo")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// mountinfo: id parent major:minor root mountpoint options ...
		for _, line := range strings.Split(string(b), "\n") {
			if fields := strings.Fields(line); len(fields) > 4 && fields[4] == "/dev/log" {
				return true
			}
		}
	}
	return false
}

// startProc starts argv detached (own session, so a ctrl-c of `lab up` does
// not reach it) with its output in the node's PROC.out, and records its pid.
// The pid is the program's own: ip netns exec and sh both exec into it.
func (s *Settings) startProc(n, proc string, argv []string) (int, error) {
	out, err := os.OpenFile(s.outFile(n, proc), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("node %s: %s output: %w", n, proc, err)
	}
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, out, out
	cmd.Dir = s.NodeDir(n)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("node %s: start %s: %w", n, proc, err)
	}
	pid := cmd.Process.Pid
	// Reap it if it dies while we still run (tests keep one process alive
	// for a whole lab); after we exit, init inherits it.
	go func() { _ = cmd.Wait() }()
	if err := os.WriteFile(s.pidFile(n, proc), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, fmt.Errorf("node %s: %s pid file: %w", n, proc, err)
	}
	return pid, nil
}

// readPid returns the pid recorded for a node's process, 0 if none.
func (s *Settings) readPid(n, proc string) int {
	return readPidFile(s.pidFile(n, proc))
}

func readPidFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// procAlive reports whether pid is a live (not zombie) process whose command
// name is comm, or whose command line contains cmdline when comm is "".
func procAlive(pid int, comm, cmdline string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parens, so split at the
	// last ')'.
	st := string(stat)
	open, closing := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
	if open < 0 || closing < open || closing+2 >= len(st) {
		return false
	}
	if state := st[closing+2]; state == 'Z' || state == 'X' {
		return false
	}
	if comm != "" {
		return st[open+1:closing] == comm
	}
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(strings.ReplaceAll(string(cl), "\x00", " "), cmdline)
}

// running returns the pid of a node's process if it is alive, else 0.
func (s *Settings) running(n, proc string) int {
	pid := s.readPid(n, proc)
	want := ""
	switch proc {
	case procSyslogd:
		want = "lab syslogd --socket " + s.syslogSocket(n)
	case procExporter:
		want = s.exporterMark(n)
	}
	if procAlive(pid, procComm[proc], want) {
		return pid
	}
	return 0
}

// keepalivedPids returns keepalived's parent and VRRP child pids (0 when not
// running): the child is the one that speaks VRRP and holds the state.
func (s *Settings) keepalivedPids(n string) (parent, child int) {
	parent = s.running(n, procKeepalived)
	child = readPidFile(filepath.Join(s.NodeDir(n), "keepalived_vrrp.pid"))
	if !procAlive(child, "keepalived", "") {
		child = 0
	}
	return parent, child
}

// signal sends sig to pid, ignoring a process that is already gone.
func signal(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to pid %d: %w", sig, pid, err)
	}
	return nil
}

// waitGone waits until none of pids is alive.
func waitGone(ctx context.Context, timeout time.Duration, pids ...int) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		left := 0
		for _, p := range pids {
			if p > 0 && pidExists(p) {
				left = p
				break
			}
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d still running after %s", left, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pidExists is true for a process that has not exited (zombies count as gone).
func pidExists(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	st := string(stat)
	i := strings.LastIndexByte(st, ')')
	return i >= 0 && i+2 < len(st) && st[i+2] != 'Z' && st[i+2] != 'X'
}

// netnsPids lists every process in node n's network namespace.
func (s *Settings) netnsPids(ctx context.Context, n string) []int {
	if !netnsExists(s.Namespace(n)) {
		return nil
	}
	out, err := ipCmd(ctx, "netns", "pids", s.Namespace(n))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// killAll SIGKILLs every process in node n's namespace and waits for them
// to be gone: a power cut. The node's syslogd is lab plumbing outside the
// namespace and keeps running, so the log survives the "reboot".
func (s *Settings) killAll(ctx context.Context, n string) error {
	// Stop keepalived's parent first so it cannot respawn its VRRP child or
	// react to it dying.
	if p := s.running(n, procKeepalived); p > 0 {
		_ = signal(p, syscall.SIGSTOP)
	}
	// A process may fork between the listing and the kill (keepalived
	// starting a notify hook, say), and the child would go on writing into
	// the node's directory; so list and kill again until nothing is left.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("processes still appearing in namespace %s after 5s", s.Namespace(n))
		}
		pids := slices.DeleteFunc(s.netnsPids(ctx, n), func(p int) bool { return !pidExists(p) })
		if len(pids) == 0 {
			return nil
		}
		for _, p := range pids {
			_ = signal(p, syscall.SIGKILL)
		}
		if err := waitGone(ctx, 5*time.Second, pids...); err != nil {
			return err
		}
	}
}

// notifyScripts are the command-line marks of a notify hook still at work:
// redkeep's (`redkeep hook notify|master|backup|fault|stop`) and the
// baseline's shell scripts. A pair is not settled while one runs.
var notifyScripts = []string{" hook notify ", " hook master", " hook backup", " hook fault", " hook stop",
	"/redis_master.sh", "/redis_backup.sh", "/redis_fault.sh", "/redis_stop.sh"}

// runningHooks counts node n's notify hooks still running.
func (s *Settings) runningHooks(ctx context.Context, n string) int {
	count := 0
	for _, p := range s.netnsPids(ctx, n) {
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil {
			continue
		}
		line := strings.ReplaceAll(string(cl), "\x00", " ") + " "
		for _, m := range notifyScripts {
			if strings.Contains(line, m) {
				count++
				break
			}
		}
	}
	return count
}
