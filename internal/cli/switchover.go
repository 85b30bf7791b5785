package cli

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/tui"
)

type switchoverOptions struct {
	to       string
	maxPause time.Duration
	maxLag   int64
	timeout  time.Duration
	method   string
	dryRun   bool
	yes      bool
	asJSON   bool
	in       io.Reader
	out      io.Writer
	// connect opens the pair's node connections (SSH); tests pass fakes.
	connect func(*config.Config) (pairConns, error)
}

// pairConns are the console's connections to both nodes.
type pairConns interface {
	actions.Nodes
	Close() error
}

func connectSSH(cfg *config.Config) (pairConns, error) {
	return actions.NewSSHNodes(cfg, nodes.Options{})
}

func newSwitchoverCmd(g *globalFlags) *cobra.Command {
	o := &switchoverOptions{connect: connectSSH}
	cmd := &cobra.Command{
		Use:   "switchover",
		Short: "Planned switchover of Redis and the VIP to the other node, refused when it would lose data",
		Long: `Switch the Redis master role and the VIP to the other node (or --to NODE).

Every check of the preflight is printed with its measured value. The switchover
is refused, and nothing changes, unless all pass. Then, on the current master
through its own redkeep: writes are paused, the target catches up to the exact
replication offset, the roles swap, the old master is drained so keepalived
moves the VIP at once, and undrained as BACKUP. Finally the pair is verified.

The lag gate is the write pause: the preflight estimates how long the target
needs to catch up (its lag at the apply rate it is measured at) and refuses
above --max-pause; on the node, writes are unpaused and the switchover aborted,
the pair unchanged, if catching up takes longer than that. --max-lag adds a
byte limit for those who want one.

What the nodes report is printed cleaned for the terminal (control and format
characters show as U+FFFD); --json carries it exactly, with those characters
written as \uXXXX escapes.

Exit codes: 0 done, 1 failed (the message says how the pair was left),
2 usage or config error, 3 refused (nothing changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			o.in, o.out = cmd.InOrStdin(), cmd.OutOrStdout()
			return runSwitchover(cmd.Context(), cfg, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.to, "to", "", "target node (default: the node that is not the master)")
	f.DurationVar(&o.maxPause, "max-pause", 0, "pause budget: refuse when the target's estimated catch-up exceeds it, abort when catching up takes longer (default: switchover.max_pause)")
	f.Int64Var(&o.maxLag, "max-lag", 0, "also refuse when the target's replication lag exceeds BYTES (default: switchover.max_lag, none unless set)")
	f.DurationVar(&o.timeout, "timeout", 0, "bound on the whole switchover (default: switchover.timeout)")
	f.StringVar(&o.method, "method", "auto", "Redis step: auto (= pause), pause, or failover (Redis FAILOVER TO)")
	f.BoolVar(&o.dryRun, "dry-run", false, "run the preflight checks only")
	f.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	f.BoolVar(&o.asJSON, "json", false, "print the plan and the steps as JSON lines")
	g.addPairFlag(cmd, pairFlagUsage)
	return cmd
}

// runSwitchover checks the flags against cfg, runs the preflight and,
// unless refused or a dry run, the switchover once confirmed.
func runSwitchover(ctx context.Context, cfg *config.Config, o *switchoverOptions) error {
	if o.maxLag < 0 || o.timeout < 0 || o.maxPause < 0 {
		return withCode(exitUsage, errors.New("switchover: --max-pause, --max-lag and --timeout must not be negative"))
	}
	pause, timeout := cmp.Or(o.maxPause, cfg.Switchover.MaxPause), cmp.Or(o.timeout, cfg.Switchover.Timeout)
	if err := config.CheckMaxPause(pause, timeout); err != nil {
		return withCode(exitUsage, fmt.Errorf("switchover: --max-pause, --timeout: %w", err))
	}
	switch o.method {
	case "auto", "pause", "failover":
	default:
		return withCode(exitUsage, fmt.Errorf("switchover: --method %q: want auto, pause or failover", o.method))
	}
	if o.to != "" {
		if _, err := cfg.Node(o.to); err != nil {
			return withCode(exitUsage, fmt.Errorf("--to: %w", err))
		}
	}
	sn, err := o.connect(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer sn.Close()

	// ctrl-c cancels: before the Redis step that stops everything with the
	// pair unchanged; after it the node finishes to a consistent pair.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := o.out
	opts := actions.Options{To: o.to, MaxPause: o.maxPause, MaxLag: o.maxLag, Timeout: o.timeout, Method: o.method}

	plan := actions.DryRun(ctx, cfg, sn, opts)
	printPlan(out, cfg.Pair, plan, o.asJSON)
	if !plan.OK() {
		return withCode(exitRefused, &actions.RefusedError{Plan: plan})
	}
	if o.dryRun {
		return nil
	}
	if !o.yes {
		if err := confirmTarget(o.in, out, plan); err != nil {
			return withCode(exitRefused, err)
		}
	}

	onStep := func(s actions.Step) { printStep(out, s, o.asJSON) }
	res, err := actions.Run(ctx, cfg, sn, opts, onStep)
	var refused *actions.RefusedError
	switch {
	case errors.As(err, &refused):
		return withCode(exitRefused, err)
	case err != nil:
		return withCode(exitUnhealthy, err)
	}
	if !o.asJSON {
		fmt.Fprintf(out, "pair %s: switchover %s -> %s done in %s (%s); %s\n", termsafe.Clean(cfg.Pair), res.Plan.From, res.Plan.To, res.Took.Round(time.Millisecond), termsafe.Clean(res.Method), termsafe.Clean(res.PairState))
	}
	return nil
}

// confirmTarget asks the operator to type the target's name: a yes/no
// prompt is answered by reflex at 3 a.m., a node name is read.
func confirmTarget(in io.Reader, out io.Writer, plan actions.Plan) error {
	fmt.Fprintf(out, "Switch over %s -> %s? Type the target's name (%s) to go ahead: ", plan.From, plan.To, plan.To)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("switchover not confirmed (no answer: %v); nothing changed", err)
	}
	if strings.TrimSpace(line) != plan.To {
		return fmt.Errorf("switchover not confirmed (typed %q, not %q); nothing changed", strings.TrimSpace(line), plan.To)
	}
	return nil
}

// printPlan and printStep print what the nodes measured and said: text
// cleaned for the terminal, or JSON lines keeping it exact (escaped).
func printPlan(w io.Writer, pair string, p actions.Plan, asJSON bool) {
	if asJSON {
		_ = termsafe.WriteJSON(w, map[string]any{"pair": pair, "plan": p, "ok": p.OK()}, "")
		return
	}
	from, to := p.From, p.To
	if from == "" {
		from = "?"
	}
	if to == "" {
		to = "?"
	}
	maxLag := "none"
	if p.MaxLag > 0 {
		maxLag = human.Bytes(p.MaxLag)
	}
	fmt.Fprintf(w, "preflight: pair %s: switchover %s -> %s (max pause %s, max lag %s)\n", termsafe.Clean(pair), from, to, p.MaxPause, maxLag)
	printChecks(w, p.Checks)
}

// printChecks prints a preflight's checks as a table, the nodes' values
// cleaned for the terminal.
func printChecks(w io.Writer, checks []actions.Check) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  \tCHECK\tNODE\tVALUE\tREQUIRED")
	for _, c := range checks {
		mark := "ok"
		if !c.Pass {
			mark = "FAIL"
		}
		node := c.Node
		if node == "" {
			node = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", mark, termsafe.Clean(c.Name), termsafe.Clean(node), termsafe.Clean(c.Value), termsafe.Clean(c.Threshold))
	}
	tw.Flush()
}

func printStep(w io.Writer, s actions.Step, asJSON bool) {
	if asJSON {
		_ = termsafe.WriteJSON(w, map[string]any{"step": s}, "")
		return
	}
	node := s.Node
	if node == "" {
		node = "-"
	}
	line := fmt.Sprintf("%s  %-9s %-3s %-7s %s", s.Time.Format("15:04:05.000"), termsafe.Clean(s.Name), termsafe.Clean(node), termsafe.Clean(string(s.State)), termsafe.Clean(s.Detail))
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}

// consoleSwitchover is the console's switchover backend (tui.Switchover) on
// top of actions: the preflight's checks and the run's steps.
// console.go sets it as tui.Options.Switchover with the console's own
// connections: newConsoleSwitchover(cfg, actions.UseConns(cfg, conns)).
type consoleSwitchover struct {
	cfg   *config.Config
	nodes actions.Nodes
}

func newConsoleSwitchover(cfg *config.Config, n actions.Nodes) tui.Switchover {
	return consoleSwitchover{cfg: cfg, nodes: n}
}

// Preflight runs the dry run for target; it changes nothing.
func (s consoleSwitchover) Preflight(ctx context.Context, target string) ([]tui.Check, error) {
	return actions.DryRun(ctx, s.cfg, s.nodes, actions.Options{To: target}).Checks, nil
}

// Run starts the switchover to target; the last step says how it ended.
func (s consoleSwitchover) Run(ctx context.Context, target string) (<-chan tui.Step, error) {
	return actions.Start(ctx, s.cfg, s.nodes, actions.Options{To: target}), nil
}
