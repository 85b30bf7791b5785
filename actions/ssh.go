package actions

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/shell"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// SSHNodes reaches the pair over the console's SSH connections: the nodes'
// own redkeep runs the node-local steps.
type SSHNodes struct {
	cfg   *config.Config
	conns map[string]*nodes.Conn

	// ownConns is false when the conns belong to the caller (UseConns).
	ownConns bool

	mu      sync.Mutex
	probers map[string]*nodes.Prober
	// Probe, when set, takes the snapshots (the console's own poller);
	// otherwise each node is probed over this SSHNodes' connections.
	Probe func(ctx context.Context) []nodes.Snapshot
}

// probeTimeout bounds one probe of one node: room for a first connection
// and a loaded node. A preflight is not in a hurry; a probe cut short would
// refuse the switchover for want of facts.
const probeTimeout = 10 * time.Second

// NewSSHNodes dials nothing yet: each node's connection is made on first
// use. It fails only on SSH configuration errors.
func NewSSHNodes(cfg *config.Config, opts nodes.Options) (*SSHNodes, error) {
	s := &SSHNodes{cfg: cfg, conns: map[string]*nodes.Conn{}, ownConns: true, probers: map[string]*nodes.Prober{}}
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
	return &SSHNodes{cfg: cfg, conns: conns, probers: map[string]*nodes.Prober{}}
}

// Close closes the probes' Redis connections, and the SSH connections
// unless they were the caller's (UseConns).
func (s *SSHNodes) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.probers {
		p.Close()
	}
	if s.ownConns {
		for _, c := range s.conns {
			c.Close()
		}
	}
	return nil
}

// command is the shell command line running the node's redkeep with args,
// its config and its name: through `sudo -n` for the verbs that need root
// (wire.RootVerbs) when the SSH user is not root. The config and name come
// last, where deploy's sudoers drop-in pins them. fix turns the command's
// error into one saying so when sudo refused it.
func (s *SSHNodes) command(node string, args []string) (cmd string, c *nodes.Conn, fix func(error) error, err error) {
	n, err := s.cfg.Node(node)
	if err != nil {
		return "", nil, nil, err
	}
	c = s.conns[node]
	if c == nil {
		return "", nil, nil, fmt.Errorf("no connection to node %s", node)
	}
	parts := []string{shell.Quote(n.Redkeep)}
	for _, a := range args {
		parts = append(parts, shell.Quote(a))
	}
	parts = append(parts, "--config", shell.Quote(n.ConfigPath), "--node", shell.Quote(n.Name))
	cmd = strings.Join(parts, " ")
	fix = func(err error) error { return err }
	if wire.NeedsRoot(args) {
		if p := c.RootPrefix(); p != "" {
			cmd = p + cmd
			what := "redkeep " + strings.Join(args[:min(len(args), 3)], " ")
			fix = func(err error) error { return nodes.SudoRefused(node, c.Target().User, what, err) }
		}
	}
	return cmd, c, fix, nil
}

// Redkeep runs the node's redkeep with args and returns its stdout.
func (s *SSHNodes) Redkeep(ctx context.Context, node string, args ...string) ([]byte, error) {
	cmd, c, fix, err := s.command(node, args)
	if err != nil {
		return nil, err
	}
	out, err := c.Run(ctx, cmd)
	return out, fix(err)
}

// RedkeepStream runs the node's redkeep with args, streaming its stdout.
func (s *SSHNodes) RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error) {
	cmd, c, fix, err := s.command(node, args)
	if err != nil {
		return nil, err
	}
	r, err := c.Stream(ctx, cmd)
	if err != nil {
		return nil, fix(err)
	}
	return fixedReader{r, fix}, nil
}

// fixedReader passes a stream's end through fix: a sudo refusal shows as
// the command's exit status after no output.
type fixedReader struct {
	io.ReadCloser
	fix func(error) error
}

func (r fixedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = r.fix(err)
	}
	return n, err
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

// MeasureLag measures each replica's lag in seconds and estimates its
// catch-up time from its apply rate (nodes.MeasureLagRate), reading
// offsets over this SSHNodes' connections.
func (s *SSHNodes) MeasureLag(ctx context.Context, snaps []nodes.Snapshot) {
	nodes.MeasureLagRate(ctx, snaps, nodes.CatchUpBound, nodes.RateWindow, func(ctx context.Context, node string) (replication.Info, error) {
		n, err := s.cfg.Node(node)
		if err != nil {
			return replication.Info{}, err
		}
		return s.prober(n).ReadOffset(ctx)
	})
}

// snapshot probes one node with the nodes package's Prober over this
// SSHNodes' connection, kept between calls.
func (s *SSHNodes) snapshot(ctx context.Context, n *config.Node) nodes.Snapshot {
	return s.prober(n).Probe(ctx)
}

// prober is node n's Prober, made on first use.
func (s *SSHNodes) prober(n *config.Node) *nodes.Prober {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.probers[n.Name]
	if p == nil {
		p = nodes.NewProber(s.cfg, n, s.conns[n.Name], probeTimeout)
		s.probers[n.Name] = p
	}
	return p
}
