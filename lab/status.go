package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Status is one look at the lab.
type Status struct {
	Dir      string `json:"dir"`
	Subnet   string `json:"subnet"`
	VIP      string `json:"vip"`
	Config   string `json:"config"`
	Baseline bool   `json:"baseline,omitempty"`
	// SSHUser is the console's SSH user on the nodes.
	SSHUser string       `json:"ssh_user"`
	Nodes   []NodeStatus `json:"nodes"`
	// VIPHolder is the node holding the VIP, "" if none (or both).
	VIPHolder string   `json:"vip_holder"`
	Healthy   bool     `json:"healthy"`
	Problems  []string `json:"problems,omitempty"`
}

// NodeStatus is one node of the lab.
type NodeStatus struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Namespace string `json:"namespace"`
	RedisPort int    `json:"redis_port"`
	SSHPort   int    `json:"ssh_port"`
	Syslog    string `json:"syslog"`
	StateLog  string `json:"state_log"`
	LinkUp    bool   `json:"link_up"`
	// Processes maps syslogd, redis, sshd and keepalived to their pid, 0
	// when not running.
	Processes map[string]int `json:"processes"`
	// Keepalived is the last VRRP state in the node's syslog, or "stopped".
	Keepalived string    `json:"keepalived"`
	HoldsVIP   bool      `json:"holds_vip"`
	Redis      RedisView `json:"redis"`
	// RunningHooks counts notify hooks still at work on the node.
	RunningHooks int `json:"running_hooks"`
}

// Status looks at every node and judges the pair.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	if !l.Exists() {
		return nil, fmt.Errorf("%w in %s: start one with `redkeep lab up`", ErrNoLab, l.S.Dir)
	}
	if os.Geteuid() != 0 {
		// Looking into the nodes' namespaces (ip -n) takes root.
		return nil, errors.New("lab status needs root: run it with sudo")
	}
	s := &l.S
	st := &Status{
		Dir: s.Dir, Subnet: s.Subnet.String(), VIP: s.VIP().String(),
		Config: s.ConfigPath(), Baseline: s.Baseline, SSHUser: s.sshUser(),
		Nodes: make([]NodeStatus, len(NodeNames)),
	}
	var wg sync.WaitGroup
	for i, n := range NodeNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.Nodes[i] = l.nodeStatus(ctx, n)
		}()
	}
	wg.Wait()
	st.judge(s)
	return st, nil
}

func (l *Lab) nodeStatus(ctx context.Context, n string) NodeStatus {
	s := &l.S
	ns := NodeStatus{
		Name: n, Address: s.NodeAddr(n).String(), Namespace: s.Namespace(n),
		RedisPort: RedisPort, SSHPort: SSHPort,
		Syslog: s.Syslog(n), StateLog: s.StateLog(n),
		LinkUp:    linkUp(s, n),
		Processes: map[string]int{},
	}
	for _, p := range s.procs(n) {
		ns.Processes[p] = s.running(n, p)
	}
	ns.Keepalived = "stopped"
	if ns.Processes[procKeepalived] > 0 {
		ns.Keepalived = vrrpState(s.Syslog(n))
	}
	ns.HoldsVIP, _ = holdsVIP(ctx, s, n)
	ns.RunningHooks = s.runningHooks(ctx, n)
	if ns.LinkUp {
		ns.Redis = probeRedis(ctx, redisAddr(s.NodeAddr(n)))
	} else {
		ns.Redis = RedisView{Err: "node unreachable: its link is down"}
	}
	return ns
}

// judge decides whether the pair is healthy: one keepalived MASTER holding
// the VIP with a Redis master behind it, the other BACKUP with a Redis
// replica of it, link up and not syncing.
func (st *Status) judge(s *Settings) {
	var holders []*NodeStatus
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if !n.LinkUp {
			st.Problems = append(st.Problems, fmt.Sprintf("%s: link down", n.Name))
		}
		var down []string
		for _, p := range s.procs(n.Name) {
			if n.Processes[p] == 0 {
				down = append(down, p)
			}
		}
		if len(down) > 0 {
			st.Problems = append(st.Problems, fmt.Sprintf("%s: not running: %s", n.Name, strings.Join(down, ", ")))
		}
		if n.Processes[procRedis] > 0 && !n.Redis.Up {
			st.Problems = append(st.Problems, fmt.Sprintf("%s: Redis not answering: %s", n.Name, n.Redis.Err))
		}
		if n.RunningHooks > 0 {
			st.Problems = append(st.Problems, fmt.Sprintf("%s: %d notify hook(s) still running", n.Name, n.RunningHooks))
		}
		if n.HoldsVIP {
			holders = append(holders, n)
		}
	}
	masters := 0
	for _, n := range st.Nodes {
		if n.Redis.Up && n.Redis.Role == "master" {
			masters++
		}
	}
	if masters > 1 {
		st.Problems = append(st.Problems, "two Redis masters")
	}
	switch len(holders) {
	case 0:
		st.Problems = append(st.Problems, "no node holds the VIP")
	case 1:
		h := holders[0]
		st.VIPHolder = h.Name
		if h.Keepalived != "MASTER" {
			st.Problems = append(st.Problems, fmt.Sprintf("%s holds the VIP but keepalived is %s", h.Name, h.Keepalived))
		}
		if h.Redis.Up && h.Redis.Role != "master" {
			st.Problems = append(st.Problems, fmt.Sprintf("%s holds the VIP but its Redis is a %s", h.Name, h.Redis.Role))
		}
		for _, o := range st.Nodes {
			if o.Name == h.Name {
				continue
			}
			if o.Keepalived != "BACKUP" {
				st.Problems = append(st.Problems, fmt.Sprintf("%s: keepalived is %s, not BACKUP", o.Name, o.Keepalived))
			}
			switch {
			case !o.Redis.Up:
			case o.Redis.Role != "replica":
				st.Problems = append(st.Problems, fmt.Sprintf("%s: Redis is a %s, not a replica", o.Name, o.Redis.Role))
			case o.Redis.MasterHost != h.Address && o.Redis.MasterHost != st.VIP:
				st.Problems = append(st.Problems, fmt.Sprintf("%s: Redis replicates from %s, not from %s", o.Name, o.Redis.MasterHost, h.Name))
			case !o.Redis.LinkUp:
				st.Problems = append(st.Problems, fmt.Sprintf("%s: Redis replication link down", o.Name))
			case o.Redis.Syncing:
				st.Problems = append(st.Problems, fmt.Sprintf("%s: Redis still syncing", o.Name))
			}
		}
	default:
		st.Problems = append(st.Problems, "both nodes hold the VIP")
	}
	st.Healthy = len(st.Problems) == 0
}

// WaitHealthy polls until the pair is healthy or timeout passes; the error
// then lists what is still wrong.
func (l *Lab) WaitHealthy(ctx context.Context, timeout time.Duration) (*Status, error) {
	var last *Status
	err := waitFor(ctx, timeout, "a healthy pair", func() (bool, error) {
		st, err := l.Status(ctx)
		if err != nil {
			return false, err
		}
		last = st
		if st.Healthy {
			return true, nil
		}
		return false, fmt.Errorf("%s", strings.Join(st.Problems, "; "))
	})
	return last, err
}

// Master returns the node holding the VIP, or an error naming the problem.
func (l *Lab) Master(ctx context.Context) (string, error) {
	st, err := l.Status(ctx)
	if err != nil {
		return "", err
	}
	if st.VIPHolder == "" {
		return "", fmt.Errorf("no single node holds the VIP (%s); name the node with --node", strings.Join(st.Problems, "; "))
	}
	return st.VIPHolder, nil
}

// Print writes the status for a terminal.
func (st *Status) Print(w io.Writer) {
	mode := ""
	if st.Baseline {
		mode = " (baseline: the origin document's scripts)"
	}
	fmt.Fprintf(w, "lab %s%s\n  subnet %s, VIP %s\n  console config: %s (SSH user %s)\n", st.Dir, mode, st.Subnet, st.VIP, st.Config, st.SSHUser)
	for _, n := range st.Nodes {
		vip := ""
		if n.HoldsVIP {
			vip = ", holds the VIP"
		}
		link := ""
		if !n.LinkUp {
			link = " [link down]"
		}
		fmt.Fprintf(w, "  %s %s (netns %s)%s: keepalived %s%s; redis %s\n", n.Name, n.Address, n.Namespace, link, n.Keepalived, vip, n.Redis.describe())
		var procs []string
		for p, pid := range n.Processes {
			if pid > 0 {
				procs = append(procs, fmt.Sprintf("%s %d", p, pid))
			} else {
				procs = append(procs, p+" down")
			}
		}
		sort.Strings(procs)
		fmt.Fprintf(w, "      %s\n      syslog %s\n", strings.Join(procs, ", "), n.Syslog)
	}
	if st.Healthy {
		fmt.Fprintf(w, "  healthy: %s is master with the VIP\n", st.VIPHolder)
	} else {
		fmt.Fprintf(w, "  NOT healthy: %s\n", strings.Join(st.Problems, "; "))
	}
}

func (r RedisView) describe() string {
	switch {
	case !r.Up:
		return "down (" + r.Err + ")"
	case r.Role == "replica":
		link := "link up"
		if !r.LinkUp {
			link = "link DOWN"
		}
		return fmt.Sprintf("replica of %s, %s, offset %d, %d keys", r.MasterHost, link, r.Offset, r.Keys)
	default:
		return fmt.Sprintf("%s, offset %d, %d keys", r.Role, r.Offset, r.Keys)
	}
}
