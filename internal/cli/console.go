package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/lab"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/tui"
)

type consoleOptions struct {
	readOnly bool
	mouse    bool
	io       Streams
	// getenv reads the environment (os.Getenv).
	getenv func(string) string
}

func newConsoleCmd(g *globalFlags) *cobra.Command {
	o := &consoleOptions{io: g.io, getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "console",
		Short: "The operator console: both nodes, their logs and actions, live",
		Long: `The operator console: the pair's verdict, both nodes side by side, their
syslog and redis-state logs, a timeline explaining each transition, and a
planned switchover (preflight, then confirmation by typing the target's name).
On a lab's config it also offers the lab's failure cases. Press ? for the keys.

With several pairs (-c DIR of pair files, or a file with a pairs list) it
opens on the fleet: one row a pair, worst first, with its verdict and
reasons, master, VIP holder, lag and last transition; / filters, : goes to
a pair by name, enter opens the pair's view above, esc goes back, q quits.
Every pair is polled every 2 s over one SSH connection per node; the open
pair at its own poll_interval, and only its logs are followed.

Set NO_COLOR to draw without colours, REDKEEP_DEBUG_LOG=FILE to write debug
logging to FILE (the console never prints while it runs), REDKEEP_CPUPROFILE=FILE
to write a Go CPU profile of the session to FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.loadFleet()
			if err != nil {
				return err
			}
			pairs, err := g.pairsOf(f)
			if err != nil {
				return err
			}
			if len(f.Pairs) == 1 {
				return runConsole(cmd.Context(), pairs[0], o)
			}
			return runFleetConsole(cmd.Context(), f.Pairs, g.pair, o)
		},
	}
	g.addPairFlag(cmd, "with several pairs: open this pair's view first (esc shows the fleet)")
	cmd.Flags().BoolVar(&o.readOnly, "read-only", false, "hide every action")
	cmd.Flags().BoolVar(&o.mouse, "mouse", false, "scroll with the mouse wheel (the terminal's own text selection then needs shift)")
	return cmd
}

// runConsole runs the TUI of one pair until the operator quits.
// Everything that touches the network is started here and handed to the
// TUI as streams and actions.
func runConsole(ctx context.Context, cfg *config.Config, o *consoleOptions) error {
	return withConsole(ctx, o, func(ctx context.Context) (tea.Model, func(), error) {
		pair, err := startPair(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		wait := func() { pair.wait(2 * time.Second) }
		opts := tui.Options{
			VIP:        cfg.VIPAddr().String(),
			Backend:    pair,
			Judge:      pair.judge,
			ReadOnly:   o.readOnly,
			LagWarn:    cfg.Console.LagWarn,
			StaleAfter: staleAfter(cfg.Console.PollInterval),
			Mouse:      o.mouse,
			Context:    ctx,
		}
		for _, n := range cfg.Nodes {
			opts.Nodes = append(opts.Nodes, tui.NodeInfo{Name: n.Name, Host: n.Host})
		}
		opts.History = consoleHistory{cfg: cfg, n: actions.UseConns(cfg, pair.conns)}
		if !o.readOnly {
			opts.Switchover = newConsoleSwitchover(cfg, actions.UseConns(cfg, pair.conns))
			opts.Maintenance = consoleMaintenance{cfg: cfg, nodes: actions.UseConns(cfg, pair.conns)}
			if l := labOf(cfg); l != nil {
				opts.Lab = consoleLab{l}
			}
		}
		m, err := tui.New(opts)
		return m, wait, err
	}, consoleProgramOptions()...)
}

// runFleetConsole runs the TUI of several pairs: the fleet view, and the
// pair open names (if any) opened over it.
func runFleetConsole(ctx context.Context, pairs []*config.Config, open string, o *consoleOptions) error {
	return withConsole(ctx, o, func(ctx context.Context) (tea.Model, func(), error) {
		f := startFleet(ctx, pairs, o)
		wait := func() { f.wait(2 * time.Second) }
		m, err := tui.NewFleet(f.options(pairs, open))
		if err != nil {
			return nil, wait, err
		}
		return m, wait, nil
	}, consoleProgramOptions()...)
}

// consoleProgramOptions are the program options of both consoles, the
// pair's and the fleet's: their frame rate, tui.FPS.
func consoleProgramOptions() []tea.ProgramOption {
	return []tea.ProgramOption{tea.WithFPS(tui.FPS)}
}

// withConsole runs the model build returns on the terminal until the
// operator quits, with the console's logging and profiling set up first;
// then it cancels build's context and calls its wait.
func withConsole(ctx context.Context, o *consoleOptions, build func(ctx context.Context) (tea.Model, func(), error), extra ...tea.ProgramOption) error {
	if !o.io.Terminal {
		return withCode(exitUsage, errors.New("console: needs a terminal; for scripts use `redkeep status --json`"))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// While the TUI owns the terminal nothing else may write to it: library
	// logging goes to $REDKEEP_DEBUG_LOG, or nowhere.
	stopLog, err := consoleLogging(o.getenv("REDKEEP_DEBUG_LOG"))
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer stopLog()
	if path := o.getenv("REDKEEP_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("$REDKEEP_CPUPROFILE: %w", err))
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return withCode(exitUsage, fmt.Errorf("$REDKEEP_CPUPROFILE: %w", err))
		}
		defer pprof.StopCPUProfile()
	}

	m, wait, err := build(ctx)
	if wait != nil {
		defer wait()
	}
	defer cancel()
	if err != nil {
		return withCode(exitUsage, err)
	}
	popts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(o.io.In), tea.WithOutput(o.io.Out)}, extra...)
	if o.getenv("NO_COLOR") != "" {
		// https://no-color.org: any non-empty value, which the terminal
		// profile detection reads more narrowly (as a boolean).
		popts = append(popts, tea.WithColorProfile(colorprofile.ASCII))
	}
	_, err = tea.NewProgram(m, popts...).Run()
	switch {
	case err == nil, errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil:
		return nil
	case errors.Is(err, tea.ErrInterrupted):
		return err // exit 130, decided in main
	}
	return withCode(exitUnhealthy, fmt.Errorf("console: %w", err))
}

// consoleLogging points the standard logger at path ($REDKEEP_DEBUG_LOG), or at
// nothing, for as long as the console runs.
func consoleLogging(path string) (stop func(), err error) {
	prev, prevFlags := log.Writer(), log.Flags()
	restore := func() { log.SetOutput(prev); log.SetFlags(prevFlags) }
	// go-redis logs to stderr on its own; send it where the rest goes.
	redis.SetLogger(redisLogger{})

	if path == "" {
		log.SetOutput(io.Discard)
		return restore, nil
	}
	f, err := tea.LogToFile(path, "console")
	if err != nil {
		return nil, fmt.Errorf("$REDKEEP_DEBUG_LOG: %w", err)
	}
	return func() { f.Close(); restore() }, nil
}

// redisLogger sends go-redis's messages to the standard logger.
type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	log.Printf("redis: "+format, v...)
}

// pair is the console's live view of both nodes: a poller per node (which
// owns the node's SSH connection) and the node's logs followed over that
// same connection, fanned in for the TUI.
type pair struct {
	cfg    *config.Config
	polls  map[string]*nodes.Poller
	conns  map[string]*nodes.Conn
	events chan logs.Event
	wg     sync.WaitGroup
}

// Log lines each follower starts with, so the console opens on context.
const logBacklog = 200

// startPair starts polling and following both nodes until ctx ends. It
// fails only on configuration errors; unreachable nodes are the panels'
// business.
func startPair(ctx context.Context, cfg *config.Config) (*pair, error) {
	p := &pair{
		cfg:    cfg,
		polls:  map[string]*nodes.Poller{},
		conns:  map[string]*nodes.Conn{},
		events: make(chan logs.Event, 4096),
	}
	for _, n := range cfg.Nodes {
		poller := nodes.NewPoller(cfg, n.Name)
		p.polls[n.Name] = poller
		p.goRun(func() { poller.Run(ctx) })
		c := poller.Conn()
		if c == nil {
			// The poller's snapshots say what is wrong with the node's
			// configuration; there is nothing to follow logs over.
			continue
		}
		p.conns[n.Name] = c
		tails, err := logs.NodeTails(cfg, n.Name, c, logBacklog)
		if err != nil {
			return nil, err
		}
		p.goRun(func() { logs.FollowAll(ctx, tails, p.events) })
	}
	return p, nil
}

func (p *pair) goRun(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// wait gives the pollers and followers a moment to close their SSH
// sessions after ctx ended; a node that does not answer is not waited for.
func (p *pair) wait(d time.Duration) {
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// Snapshots implements tui.Backend.
func (p *pair) Snapshots(node string) <-chan nodes.Snapshot { return p.polls[node].Snapshots() }

// Events implements tui.Backend.
func (p *pair) Events() <-chan logs.Event { return p.events }

func (p *pair) judge(snaps []nodes.Snapshot) tui.Verdict { return judgeFunc(p.cfg)(snaps) }

// consoleLab offers the lab's failure cases when the config is a lab's.
type consoleLab struct{ l *lab.Lab }

// labOf returns the lab whose console config cfg is, or nil.
func labOf(cfg *config.Config) *lab.Lab {
	// A fleet's directory may hold a symbolic link to a lab's config.
	real, err := filepath.EvalSymlinks(cfg.Path)
	if err != nil {
		return nil
	}
	path, err := filepath.Abs(real)
	if err != nil {
		return nil
	}
	s := lab.DefaultSettings()
	s.Dir = filepath.Dir(path)
	l, err := lab.New(s)
	if err != nil || !l.Exists() || l.S.ConfigPath() != path {
		return nil
	}
	return l
}

func (c consoleLab) Cases() []tui.LabCase {
	out := make([]tui.LabCase, 0, len(lab.Cases))
	for _, k := range lab.Cases {
		out = append(out, tui.LabCase{Name: k.Name, Help: k.Help})
	}
	return out
}

func (c consoleLab) Fail(ctx context.Context, kase, node string) error {
	_, err := c.l.Fail(ctx, kase, node)
	return err
}

func (c consoleLab) Heal(ctx context.Context) error {
	_, err := c.l.Heal(ctx)
	return err
}

// consoleHistory reads both nodes' journals over the console's connections.
type consoleHistory struct {
	cfg *config.Config
	n   actions.NodeRunner
}

// historyTimeout bounds one read of the history from the console.
const historyTimeout = 15 * time.Second

func (c consoleHistory) History(ctx context.Context) actions.History {
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	return actions.FetchHistory(ctx, c.cfg, c.n, 0)
}
