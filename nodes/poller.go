package nodes

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/replication"
)

// Poller probes one node at the console's poll interval and offers the
// latest Snapshot on a channel. Latest wins: a slow reader never holds up
// polling, it just skips stale snapshots.
type Poller struct {
	node string
	// interval is the poll interval (nanoseconds); SetInterval changes it
	// and wakes Run.
	interval  atomic.Int64
	fullEvery time.Duration
	wake      chan struct{}
	conn      *Conn
	ownConn   bool
	prober    *Prober
	cfgErr    error
	out       chan Snapshot
}

// PollerOption configures a Poller.
type PollerOption func(*pollerOptions)

type pollerOptions struct {
	interval  time.Duration
	timeout   time.Duration
	transport Options
	conn      *Conn
	fullEvery time.Duration
}

// WithInterval sets the poll interval (default: config console.poll_interval).
func WithInterval(d time.Duration) PollerOption { return func(o *pollerOptions) { o.interval = d } }

// WithProbeTimeout bounds each poll (default DefaultProbeTimeout).
func WithProbeTimeout(d time.Duration) PollerOption { return func(o *pollerOptions) { o.timeout = d } }

// WithTransport sets the SSH transport options of the Poller's own connection.
func WithTransport(opts Options) PollerOption { return func(o *pollerOptions) { o.transport = opts } }

// WithFullFactsEvery sets how often a poll reads the node's full facts
// (redkeep version, keepalived running, drain) rather than only its
// keepalived state and VIP; default 5s, see fullFactsPeriod.
func WithFullFactsEvery(d time.Duration) PollerOption {
	return func(o *pollerOptions) { o.fullEvery = d }
}

// WithConn makes the Poller use an existing connection instead of its own;
// the Poller then does not close it.
func WithConn(c *Conn) PollerOption { return func(o *pollerOptions) { o.conn = c } }

// NewPoller prepares polling of the node called node. It dials nothing
// until Run. A configuration problem (unknown node, unreadable ssh_config)
// does not fail here: every Snapshot reports it, so the console shows it
// in the node's panel.
func NewPoller(cfg *config.Config, node string, opts ...PollerOption) *Poller {
	o := pollerOptions{interval: cfg.Console.PollInterval, fullEvery: fullFactsPeriod}
	for _, opt := range opts {
		opt(&o)
	}
	if o.interval <= 0 {
		o.interval = config.DefaultPoll
	}
	p := &Poller{node: node, fullEvery: o.fullEvery, wake: make(chan struct{}, 1), out: make(chan Snapshot, 1)}
	p.interval.Store(int64(o.interval))
	n, err := cfg.Node(node)
	if err != nil {
		p.cfgErr = err
		return p
	}
	p.conn = o.conn
	if p.conn == nil {
		c, err := DialNode(n, o.transport)
		if err != nil {
			p.cfgErr = err
			return p
		}
		p.conn, p.ownConn = c, true
	}
	p.prober = NewProber(cfg, n, p.conn, o.timeout)
	p.prober.fullEvery = fullEveryN(o.fullEvery, o.interval)
	return p
}

// fullEveryN is how many polls at interval make one full poll every period.
func fullEveryN(period, interval time.Duration) int {
	return max(1, int((period+interval-1)/interval))
}

// SetInterval changes the poll interval from now on: the next poll starts
// interval after the last one started (at once if that is past). The
// console polls a fleet's pairs slowly and the pair on screen at its own
// poll_interval.
func (p *Poller) SetInterval(d time.Duration) {
	if d <= 0 {
		d = config.DefaultPoll
	}
	if time.Duration(p.interval.Swap(int64(d))) == d {
		return
	}
	if p.prober != nil {
		p.prober.mu.Lock()
		p.prober.fullEvery = fullEveryN(p.fullEvery, d)
		p.prober.mu.Unlock()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Snapshots is the stream of polls; it is closed when Run returns.
func (p *Poller) Snapshots() <-chan Snapshot { return p.out }

// Conn is the Poller's SSH connection to the node, for log following and
// remote commands; nil when the node's configuration is unusable.
func (p *Poller) Conn() *Conn { return p.conn }

// Node is the polled node's name.
func (p *Poller) Node() string { return p.node }

// Run polls until ctx ends, then closes the Snapshots channel and the
// Poller's own connection. A poll starts every interval, or right after the
// previous one when a poll takes longer (a slow node is polled as often as
// it can answer, never concurrently).
func (p *Poller) Run(ctx context.Context) {
	defer close(p.out)
	if p.prober != nil {
		defer p.prober.Close()
	}
	if p.ownConn {
		defer p.conn.Close()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var start time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			// A new interval: the next poll is due interval after the
			// last one started.
			timer.Reset(max(0, time.Duration(p.interval.Load())-time.Since(start)))
			continue
		case <-timer.C:
		}
		start = time.Now()
		snap := p.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		p.offer(snap)
		timer.Reset(max(0, time.Duration(p.interval.Load())-time.Since(start)))
	}
}

func (p *Poller) poll(ctx context.Context) Snapshot {
	if p.cfgErr != nil {
		return Snapshot{Node: p.node, Time: time.Now(), Conn: ConnUnreachable,
			ConnErr: fmt.Sprintf("configuration: %v", p.cfgErr)}
	}
	return p.prober.Probe(ctx)
}

// offer replaces an unread snapshot with s, so the channel always holds the
// newest one.
func (p *Poller) offer(s Snapshot) {
	for {
		select {
		case p.out <- s:
			return
		default:
		}
		select {
		case <-p.out:
		default:
		}
	}
}

// ProbeAll takes one Snapshot of every node of cfg, in parallel and in
// config order, over fresh connections closed before it returns. ctx
// bounds the whole probe; each node is bounded by the probe timeout too
// (default: room for a first connection, DialTimeout plus 2s).
func ProbeAll(ctx context.Context, cfg *config.Config, opts ...PollerOption) []Snapshot {
	opts = append([]PollerOption{WithProbeTimeout(Options{}.withDefaults().DialTimeout + 2*time.Second)}, opts...)
	out := make([]Snapshot, len(cfg.Nodes))
	pollers := make([]*Poller, len(cfg.Nodes))
	var wg sync.WaitGroup
	for i := range cfg.Nodes {
		pollers[i] = NewPoller(cfg, cfg.Nodes[i].Name, opts...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = pollers[i].poll(ctx)
		}()
	}
	wg.Wait()
	// Two masters: tell writes from PINGs past the fork, over the same
	// connections, before they close.
	ReadSplitTails(ctx, out, func(ctx context.Context, node string, in replication.Info, d replication.Divergence) (replication.Tail, error) {
		for _, p := range pollers {
			if p.prober != nil && p.node == node {
				return p.prober.ReadTail(ctx, in, d)
			}
		}
		return replication.Tail{}, fmt.Errorf("node %s: no probe", node)
	})
	MeasureLag(ctx, out, CatchUpBound, func(ctx context.Context, node string) (replication.Info, error) {
		for _, p := range pollers {
			if p.prober != nil && p.node == node {
				return p.prober.ReadOffset(ctx)
			}
		}
		return replication.Info{}, fmt.Errorf("node %s: no probe", node)
	})
	for _, p := range pollers {
		if p.prober != nil {
			p.prober.Close()
		}
		if p.ownConn {
			p.conn.Close()
		}
	}
	return out
}
