package cli

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/tui"
)

// fleetPollInterval is how often the fleet view polls each pair: 50 pairs
// (100 nodes) at this pace cost the console 2.6-4.6 % of a core
// (BenchmarkFleetPollCPU). The open pair is polled at its own
// console.poll_interval.
const fleetPollInterval = 2 * time.Second

// fleet is the console's live view of several pairs: a poller per node,
// each owning the node's one SSH connection, opened at its first poll and
// kept; the polls fanned in for the fleet view; and, for the one pair
// whose view is open, its logs followed over those same connections.
type fleet struct {
	ctx      context.Context
	pairs    map[string]*livePair
	out      chan tui.PairSnapshot
	readOnly bool
	mouse    bool
	wg       sync.WaitGroup
}

// livePair is one pair of the fleet.
type livePair struct {
	cfg   *config.Config
	polls map[string]*nodes.Poller
	conns map[string]*nodes.Conn
	// actions shares the pollers' connections with switchovers; made at
	// the first opening and kept.
	actions *actions.SSHNodes

	mu sync.Mutex
	// latest is each node's last snapshot, handed to a view as it opens.
	latest map[string]nodes.Snapshot
	view   *pairView // while the pair's view is open
}

// pairView is what an open pair view reads: each node's snapshots (the
// newest only) and the pair's logs. It implements tui.Backend.
type pairView struct {
	snaps  map[string]chan nodes.Snapshot
	events chan logs.Event
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (v *pairView) Snapshots(node string) <-chan nodes.Snapshot { return v.snaps[node] }
func (v *pairView) Events() <-chan logs.Event                   { return v.events }

// startFleet starts polling every node of every pair until ctx ends. The
// fleet view polls each pair every fleetPollInterval (or its own
// poll_interval, if longer).
func startFleet(ctx context.Context, pairs []*config.Config, o *consoleOptions) *fleet {
	n := 0
	for _, cfg := range pairs {
		n += len(cfg.Nodes)
	}
	f := &fleet{ctx: ctx, pairs: map[string]*livePair{}, out: make(chan tui.PairSnapshot, n), readOnly: o.readOnly, mouse: o.mouse}
	for _, cfg := range pairs {
		lp := &livePair{cfg: cfg, polls: map[string]*nodes.Poller{}, conns: map[string]*nodes.Conn{}, latest: map[string]nodes.Snapshot{}}
		f.pairs[cfg.Pair] = lp
		for _, node := range cfg.Nodes {
			poller := nodes.NewPoller(cfg, node.Name, nodes.WithInterval(max(fleetPollInterval, cfg.Console.PollInterval)))
			lp.polls[node.Name] = poller
			if c := poller.Conn(); c != nil {
				lp.conns[node.Name] = c
			}
			f.goRun(func() { poller.Run(ctx) })
			f.goRun(func() { f.forward(cfg.Pair, lp, poller) })
		}
	}
	return f
}

func (f *fleet) goRun(fn func()) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

// forward hands each of poller's snapshots to the fleet view, and to the
// pair's view while it is open. A pair whose node does not answer only
// delays its own poller; the fleet view reads every pair's in one stream.
func (f *fleet) forward(pair string, lp *livePair, poller *nodes.Poller) {
	for s := range poller.Snapshots() {
		lp.mu.Lock()
		lp.latest[s.Node] = s
		if lp.view != nil {
			offerSnapshot(lp.view.snaps[s.Node], s)
		}
		lp.mu.Unlock()
		select {
		case f.out <- tui.PairSnapshot{Pair: pair, Snap: s}:
		case <-f.ctx.Done():
			return
		}
	}
}

// offerSnapshot replaces an unread snapshot in ch (capacity 1) with s.
func offerSnapshot(ch chan nodes.Snapshot, s nodes.Snapshot) {
	for {
		select {
		case ch <- s:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Snapshots implements tui.FleetBackend.
func (f *fleet) Snapshots() <-chan tui.PairSnapshot { return f.out }

// Open implements tui.FleetBackend: it polls the pair at its own
// poll_interval and follows its logs until Close.
func (f *fleet) Open(pair string) (tui.Options, error) {
	lp := f.pairs[pair]
	if lp == nil {
		return tui.Options{}, errors.New("no such pair")
	}
	cfg := lp.cfg
	ctx, cancel := context.WithCancel(f.ctx)
	v := &pairView{snaps: map[string]chan nodes.Snapshot{}, events: make(chan logs.Event, 4096), cancel: cancel}
	var tails [][]logs.Tail
	for _, n := range cfg.Nodes {
		if c := lp.conns[n.Name]; c != nil {
			t, err := logs.NodeTails(cfg, n.Name, c, logBacklog)
			if err != nil {
				cancel()
				return tui.Options{}, err
			}
			tails = append(tails, t)
		}
	}
	lp.mu.Lock()
	if lp.view != nil {
		lp.closeViewLocked()
	}
	for _, n := range cfg.Nodes {
		v.snaps[n.Name] = make(chan nodes.Snapshot, 1)
		if s, ok := lp.latest[n.Name]; ok {
			v.snaps[n.Name] <- s
		}
	}
	lp.view = v
	// Made in --read-only too: the history view reads the nodes' journals.
	if lp.actions == nil {
		lp.actions = actions.UseConns(cfg, lp.conns)
	}
	lp.mu.Unlock()
	for _, t := range tails {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			logs.FollowAll(ctx, t, v.events)
		}()
	}
	for _, p := range lp.polls {
		p.SetInterval(cfg.Console.PollInterval)
	}

	opts := tui.Options{
		VIP:        cfg.VIPAddr().String(),
		Backend:    v,
		Judge:      judgeFunc(cfg),
		ReadOnly:   f.readOnly,
		LagWarn:    cfg.Console.LagWarn,
		StaleAfter: staleAfter(cfg.Console.PollInterval),
		Mouse:      f.mouse,
		// Actions run on the console's context: going back to the fleet
		// does not cut a switchover short.
		Context: f.ctx,
	}
	for _, n := range cfg.Nodes {
		opts.Nodes = append(opts.Nodes, tui.NodeInfo{Name: n.Name, Host: n.Host})
	}
	opts.History = consoleHistory{cfg: cfg, n: lp.actions}
	if !f.readOnly {
		opts.Switchover = newConsoleSwitchover(cfg, lp.actions)
		opts.Maintenance = consoleMaintenance{cfg: cfg, nodes: lp.actions}
		if l := labOf(cfg); l != nil {
			opts.Lab = consoleLab{l}
		}
	}
	return opts, nil
}

// Close implements tui.FleetBackend: the pair's logs are no longer
// followed and it is polled at the fleet's pace again.
func (f *fleet) Close(pair string) {
	lp := f.pairs[pair]
	if lp == nil {
		return
	}
	lp.mu.Lock()
	if lp.view != nil {
		lp.closeViewLocked()
	}
	lp.mu.Unlock()
	for _, p := range lp.polls {
		p.SetInterval(max(fleetPollInterval, lp.cfg.Console.PollInterval))
	}
}

// closeViewLocked stops the view's log following and closes its streams,
// so the Cmds still reading them end.
func (lp *livePair) closeViewLocked() {
	v := lp.view
	lp.view = nil
	v.cancel()
	for _, ch := range v.snaps {
		close(ch)
	}
	go func() {
		v.wg.Wait()
		close(v.events)
	}()
}

// wait gives the pollers a moment to close their SSH sessions after ctx
// ended; a node that does not answer is not waited for.
func (f *fleet) wait(d time.Duration) {
	done := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// judgeFunc is the pair view's verdict: nodes.Judge with the pair's
// thresholds, in the console's terms.
func judgeFunc(cfg *config.Config) tui.JudgeFunc {
	return func(snaps []nodes.Snapshot) tui.Verdict {
		v := nodes.Judge(snaps, nodes.Thresholds{LagWarn: cfg.Console.LagWarn})
		out := tui.Verdict{Healthy: v.Healthy, VIPHolder: v.VIPHolder, Master: v.Master}
		for _, r := range v.Reasons {
			out.Problems = append(out.Problems, r.Text)
		}
		return out
	}
}

// staleAfter is how long a node may be silent before the console says so:
// a poll may take its whole probe timeout before it reports a failure;
// only silence beyond that is news.
func staleAfter(poll time.Duration) time.Duration {
	return max(4*poll, nodes.DefaultProbeTimeout+poll)
}

// fleetOptions are the fleet console's options over f.
func (f *fleet) options(pairs []*config.Config, open string) tui.FleetOptions {
	judges := map[string]tui.JudgeFunc{}
	o := tui.FleetOptions{Backend: f, Open: open, StaleAfter: staleAfter(fleetPollInterval)}
	for _, cfg := range pairs {
		p := tui.FleetPair{Name: cfg.Pair, VIP: cfg.VIPAddr().String()}
		for _, n := range cfg.Nodes {
			p.Nodes = append(p.Nodes, tui.NodeInfo{Name: n.Name, Host: n.Host})
		}
		o.Pairs = append(o.Pairs, p)
		judges[cfg.Pair] = judgeFunc(cfg)
		o.StaleAfter = max(o.StaleAfter, staleAfter(cfg.Console.PollInterval))
	}
	o.Judge = func(pair string, snaps []nodes.Snapshot) tui.Verdict { return judges[pair](snaps) }
	return o
}
