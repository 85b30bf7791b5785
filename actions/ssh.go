package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

// SSHNodes reaches the pair over the console's SSH connections: the nodes'
// own redkeep runs the node-local steps.
type SSHNodes struct {
	cfg   *config.Config
	conns map[string]*nodes.Conn
	// Probe, when set, takes the snapshots (the console's own poller);
	// otherwise each node is asked through `redkeep hook state --json` and
	// its Redis through the SSH connection.
	Probe func(ctx context.Context) []nodes.Snapshot
}

// NewSSHNodes dials nothing yet: each node's connection is made on first
// use. It fails only on SSH configuration errors.
func NewSSHNodes(cfg *config.Config, opts nodes.Options) (*SSHNodes, error) {
	s := &SSHNodes{cfg: cfg, conns: map[string]*nodes.Conn{}}
	for i := range cfg.Nodes {
		n := &cfg.Nodes[i]
		c, err := nodes.DialNode(n, opts)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		s.conns[n.Name] = c
	}
	return s, nil
}

// UseConns builds SSHNodes over connections the caller already holds (the
// console's), so a switchover does not open a second set.
func UseConns(cfg *config.Config, conns map[string]*nodes.Conn) *SSHNodes {
	return &SSHNodes{cfg: cfg, conns: conns}
}

// Close closes the connections.
func (s *SSHNodes) Close() error {
	for _, c := range s.conns {
		c.Close()
	}
	return nil
}

// command is the shell command line running the node's redkeep with args,
// its config and its name.
func (s *SSHNodes) command(node string, args []string) (string, *nodes.Conn, error) {
	n, err := s.cfg.Node(node)
	if err != nil {
		return "", nil, err
	}
	c := s.conns[node]
	if c == nil {
		return "", nil, fmt.Errorf("no connection to node %s", node)
	}
	parts := []string{shellQuote(n.Redkeep)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	parts = append(parts, "--config", shellQuote(n.ConfigPath), "--node", shellQuote(n.Name))
	return strings.Join(parts, " "), c, nil
}

// shellQuote quotes s for a POSIX shell (the SSH user's login shell runs
// the command line).
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Redkeep runs the node's redkeep with args and returns its stdout.
func (s *SSHNodes) Redkeep(ctx context.Context, node string, args ...string) ([]byte, error) {
	cmd, c, err := s.command(node, args)
	if err != nil {
		return nil, err
	}
	return c.Run(ctx, cmd)
}

// RedkeepStream runs the node's redkeep with args, streaming its stdout.
func (s *SSHNodes) RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error) {
	cmd, c, err := s.command(node, args)
	if err != nil {
		return nil, err
	}
	return c.Stream(ctx, cmd)
}

// Snapshots polls both nodes at once; a slow node does not hold up the other.
func (s *SSHNodes) Snapshots(ctx context.Context) []nodes.Snapshot {
	if s.Probe != nil {
		return s.Probe(ctx)
	}
	out := make([]nodes.Snapshot, len(s.cfg.Nodes))
	var wg sync.WaitGroup
	for i := range s.cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.snapshot(ctx, &s.cfg.Nodes[i])
		}()
	}
	wg.Wait()
	return out
}

// snapshot is the switchover's own small probe of one node: the hooks'
// node state (VIP, keepalived, version) and Redis INFO through the SSH
// connection.
func (s *SSHNodes) snapshot(ctx context.Context, n *config.Node) nodes.Snapshot {
	start := time.Now()
	snap := nodes.Snapshot{Node: n.Name, Time: start}
	defer func() { snap.Took = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := s.Redkeep(ctx, n.Name, "hook", "state", "--json")
	if err != nil {
		snap.Conn, snap.ConnErr = nodes.StateOf(err), err.Error()
		if snap.Conn == nodes.ConnConnected {
			// Connected, but the node's redkeep failed: not a usable node.
			snap.Conn = nodes.ConnUnreachable
		}
		return snap
	}
	snap.Conn = nodes.ConnConnected
	var ns hooks.NodeState
	if err := json.Unmarshal(out, &ns); err != nil {
		snap.Conn, snap.ConnErr = nodes.ConnUnreachable, fmt.Sprintf("redkeep hook state --json on %s: unreadable reply %q: %v", n.Name, truncate(out), err)
		return snap
	}
	snap.Version = ns.Version
	snap.HoldsVIP = ns.HoldsVIP
	snap.Keepalived.Running = ns.KeepalivedRunning
	if ns.State != nil {
		snap.Keepalived.State = ns.State.State
		snap.Keepalived.Priority = ns.State.Priority
		snap.Keepalived.Since = ns.State.Since
		snap.Keepalived.LastAction = ns.State.LastAction
		snap.Keepalived.LastResult = ns.State.LastResult
	}

	pw, err := s.cfg.RedisPassword()
	if err != nil {
		snap.Redis.Err = err.Error()
		return snap
	}
	conn := s.conns[n.Name]
	rc := redis.NewClient(&redis.Options{
		Addr:     n.Redis.Addr,
		Username: s.cfg.Redis.Username,
		Password: pw,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return conn.DialContext(ctx, network, addr)
		},
		DialTimeout:           2 * time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          2 * time.Second,
		MaxRetries:            -1,
		PoolSize:              1,
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	})
	defer rc.Close()
	info, err := replication.Fetch(ctx, rc)
	if err != nil {
		snap.Redis.Err = err.Error()
		return snap
	}
	snap.Redis = nodes.Redis{Up: true, Info: info}
	return snap
}
