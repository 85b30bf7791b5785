package lab

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Failure cases of `redkeep lab fail`.
const (
	RedisDown      = "redis-down"      // redis-server crashes (SIGKILL) and stays down
	RedisRestart   = "redis-restart"   // redis-server crashes and comes straight back, empty
	KeepalivedKill = "keepalived-kill" // keepalived SIGKILLed: no notify, VIP left behind
	KeepalivedStop = "keepalived-stop" // keepalived stopped cleanly (SIGTERM)
	BothDown       = "both-down"       // keepalived and redis-server SIGKILLed
	NodeDown       = "node-down"       // everything on the node dies and its link goes down
	Partition      = "partition"       // the node's link goes down; everything keeps running
)

// Cases lists the failure cases with a line on each.
var Cases = []struct{ Name, Help string }{
	{RedisDown, "redis-server crashes (SIGKILL) and stays down"},
	{RedisRestart, "redis-server crashes and restarts at once, empty (no persistence)"},
	{KeepalivedKill, "keepalived is SIGKILLed: no notify runs, the VIP stays on the node"},
	{KeepalivedStop, "keepalived stops cleanly (SIGTERM): notify stop runs, VIP released"},
	{BothDown, "keepalived and redis-server are SIGKILLed"},
	{NodeDown, "every process on the node dies and its link goes down (power cut)"},
	{Partition, "the node's link goes down; its processes keep running"},
}

// CaseNames lists the case names.
func CaseNames() []string {
	names := make([]string, len(Cases))
	for i, c := range Cases {
		names[i] = c.Name
	}
	return names
}

// Fail breaks node (default: the VIP holder) in the way kase names, and
// returns the node it broke.
func (l *Lab) Fail(ctx context.Context, kase, node string) (string, error) {
	if !slices.Contains(CaseNames(), kase) {
		return "", fmt.Errorf("unknown case %q: one of %s", kase, strings.Join(CaseNames(), ", "))
	}
	if !l.Exists() {
		return "", fmt.Errorf("%w in %s: start one with `redkeep lab up`", ErrNoLab, l.S.Dir)
	}
	if node == "" {
		m, err := l.Master(ctx)
		if err != nil {
			return "", err
		}
		node = m
	}
	if !slices.Contains(NodeNames, node) {
		return "", fmt.Errorf("--node %q: the lab's nodes are a and b", node)
	}
	s := &l.S
	var err error
	switch kase {
	case RedisDown:
		err = killProc(ctx, s.running(node, procRedis))
	case RedisRestart:
		if err = killProc(ctx, s.running(node, procRedis)); err == nil {
			err = l.startRedis(ctx, node, false)
		}
	case KeepalivedKill:
		err = l.killKeepalived(ctx, node)
	case KeepalivedStop:
		parent, child := s.keepalivedPids(node)
		if parent == 0 {
			return node, fmt.Errorf("node %s: keepalived is not running", node)
		}
		if err = signal(parent, syscall.SIGTERM); err == nil {
			err = waitGone(ctx, 10*time.Second, parent, child)
		}
	case BothDown:
		if err = l.killKeepalived(ctx, node); err == nil {
			err = killProc(ctx, s.running(node, procRedis))
		}
	case NodeDown:
		if err = s.killAll(ctx, node); err == nil {
			err = setLink(ctx, s, node, false)
		}
	case Partition:
		err = setLink(ctx, s, node, false)
	}
	if err != nil {
		return node, fmt.Errorf("%s on node %s: %w", kase, node, err)
	}
	return node, nil
}

func killProc(ctx context.Context, pid int) error {
	if pid == 0 {
		return nil
	}
	if err := signal(pid, syscall.SIGKILL); err != nil {
		return err
	}
	return waitGone(ctx, 5*time.Second, pid)
}

// killKeepalived SIGKILLs keepalived as `pkill -9 keepalived` would: the
// parent is stopped first so it can neither respawn the VRRP child nor let
// the child see its death and shut down cleanly.
func (l *Lab) killKeepalived(ctx context.Context, n string) error {
	parent, child := l.S.keepalivedPids(n)
	if parent == 0 && child == 0 {
		return fmt.Errorf("keepalived is not running")
	}
	if err := signal(parent, syscall.SIGSTOP); err != nil {
		return err
	}
	if err := signal(child, syscall.SIGKILL); err != nil {
		return err
	}
	if err := signal(parent, syscall.SIGKILL); err != nil {
		return err
	}
	return waitGone(ctx, 5*time.Second, parent, child)
}

// Heal brings back whatever is down, as an operator (or a reboot) would, and
// waits for a healthy pair, whichever node ends up master.
func (l *Lab) Heal(ctx context.Context) (*Status, error) {
	if err := l.restore(ctx); err != nil {
		return nil, err
	}
	return l.WaitHealthy(ctx, l.wait())
}

// restore is Heal without the wait: cables in, every process that is down
// started again, keepalived last.
func (l *Lab) restore(ctx context.Context) error {
	if !l.Exists() {
		return fmt.Errorf("%w in %s: start one with `redkeep lab up`", ErrNoLab, l.S.Dir)
	}
	s := &l.S
	for _, n := range NodeNames {
		if !linkUp(s, n) {
			// A node coming back from a power cut has no VIP; one coming
			// back from a partition still runs keepalived and keeps it.
			if p, _ := s.keepalivedPids(n); p == 0 {
				if err := dropVIP(ctx, s, n); err != nil {
					return fmt.Errorf("node %s: %w", n, err)
				}
			}
			l.logf("lab: node %s: link up", n)
			if err := setLink(ctx, s, n, true); err != nil {
				return err
			}
		}
		if err := l.startBase(ctx, n, false); err != nil {
			return err
		}
	}
	// Keepalived last. If neither runs, nopreempt makes the order matter as
	// at start: a first, then b.
	var stopped []string
	for _, n := range NodeNames {
		if p, _ := s.keepalivedPids(n); p == 0 {
			stopped = append(stopped, n)
		}
	}
	for i, n := range stopped {
		l.logf("lab: node %s: keepalived", n)
		if err := l.startKeepalived(ctx, n); err != nil {
			return err
		}
		if len(stopped) == 2 && i == 0 {
			if err := l.waitMaster(ctx, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// Reconnect plugs node n's cable back in and does nothing else: a partition
// ends, and what the pair does next is up to its hooks. (Heal also brings
// back whatever is down and waits for a healthy pair.)
func (l *Lab) Reconnect(ctx context.Context, n string) error {
	if !slices.Contains(NodeNames, n) {
		return fmt.Errorf("node %q: the lab's nodes are a and b", n)
	}
	return setLink(ctx, &l.S, n, true)
}

// HostPath is where a path a node sees (its files under the node view)
// lives on the host.
func (l *Lab) HostPath(n, nodePath string) string {
	if rest, ok := strings.CutPrefix(nodePath, l.S.NodeView()+"/"); ok {
		return filepath.Join(l.S.NodeDir(n), rest)
	}
	return nodePath
}
