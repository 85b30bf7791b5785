package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/termsafe"
)

type resolveOptions struct {
	keep    string
	dryRun  bool
	yes     bool
	asJSON  bool
	timeout time.Duration
	in      io.Reader
	out     io.Writer
	connect func(*config.Config) (pairConns, error)
}

func newResolveCmd(g *globalFlags) *cobra.Command {
	o := &resolveOptions{connect: connectSSH}
	cmd := &cobra.Command{
		Use:   "resolve --keep NODE [--dry-run] [--yes]",
		Short: "End a split brain: keep one node's data, save the other's, make it the replica",
		Long: `When both Redis servers took writes while they could not see each other
(a split brain), neither side's writes are dropped by the hooks: the pair
stays with two masters and status says so. resolve is the operator's choice.

It first shows what the other side loses from its serving data set (its keys,
and its bytes and writes since the histories diverged) and asks for the
losing node's name. Then, on that node and under its transition lock, with
its writes paused, its whole data set is saved as an RDB file beside the
hooks' state file (the path is printed: nothing is lost for good), and its
Redis becomes the kept node's replica. If the losing node held the VIP, its
check fails and keepalived moves the VIP to the kept data.

Refused (exit 3, nothing changed) when the pair is not split.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			o.in, o.out = cmd.InOrStdin(), cmd.OutOrStdout()
			return runResolve(cmd.Context(), cfg, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.keep, "keep", "", "the node whose data survives (required)")
	f.BoolVar(&o.dryRun, "dry-run", false, "run the preflight only")
	f.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	f.BoolVar(&o.asJSON, "json", false, "print the plan and the result as JSON")
	g.addPairFlag(cmd, pairFlagUsage)
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for a healthy pair afterwards")
	return cmd
}

// runResolve checks the flags against cfg, runs the preflight and, unless
// refused or a dry run, the resolution once confirmed.
func runResolve(ctx context.Context, cfg *config.Config, o *resolveOptions) error {
	if o.keep == "" {
		return withCode(exitUsage, errors.New("resolve: --keep NODE is required: the node whose data survives"))
	}
	if _, err := cfg.Node(o.keep); err != nil {
		return withCode(exitUsage, fmt.Errorf("--keep: %w", err))
	}
	if o.timeout <= 0 {
		return withCode(exitUsage, fmt.Errorf("resolve: --timeout must be positive, got %s", o.timeout))
	}
	sn, err := o.connect(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer sn.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := o.out

	plan := actions.ResolvePreflight(ctx, cfg, sn, o.keep)
	printResolvePlan(out, cfg.Pair, plan, o.asJSON)
	if !plan.OK() {
		return withCode(exitRefused, fmt.Errorf("%w", actions.ErrResolveRefused))
	}
	if o.dryRun {
		return nil
	}
	if !o.yes {
		if err := confirmLoser(o.in, out, plan); err != nil {
			return withCode(exitRefused, err)
		}
	}
	res, err := actions.Resolve(ctx, cfg, sn, plan, o.timeout)
	if o.asJSON {
		_ = termsafe.WriteJSON(out, map[string]any{"result": res, "error": errString(err)}, "")
	}
	if errors.Is(err, actions.ErrResolveRefused) {
		return withCode(exitRefused, err)
	}
	if err != nil {
		return withCode(exitUnhealthy, err)
	}
	if !o.asJSON {
		fmt.Fprintf(out, "%s's data set (%d keys, %s) is saved on %s in %s\n", plan.Lose, res.Node.Keys, human.Bytes(res.Node.Bytes), plan.Lose, termsafe.Clean(res.Node.RDB))
		fmt.Fprintf(out, "%s now replicates from %s (writes paused on %s for %s); pair: %s\n", plan.Lose, plan.Keep, plan.Lose, res.Node.PausedFor.Round(time.Millisecond), termsafe.Clean(res.PairState))
	}
	if !res.Healthy {
		return withCode(exitUnhealthy, fmt.Errorf("resolve: done, but the pair is not healthy after %s: %s", o.timeout, res.PairState))
	}
	return nil
}

// confirmLoser asks for the name of the node whose data set is replaced:
// that is the one an operator must have read.
func confirmLoser(in io.Reader, out io.Writer, plan actions.ResolvePlan) error {
	fmt.Fprintf(out, "Keep %s's data and replace %s's (saved on %s first)? Type %s to go ahead: ", plan.Keep, plan.Lose, plan.Lose, plan.Lose)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("resolve not confirmed (no answer: %v); nothing changed", err)
	}
	if got := strings.TrimSpace(line); got != plan.Lose {
		return fmt.Errorf("resolve not confirmed (typed %q, not %q); nothing changed", got, plan.Lose)
	}
	return nil
}

// printResolvePlan prints the preflight of pair's resolve.
func printResolvePlan(w io.Writer, pair string, p actions.ResolvePlan, asJSON bool) {
	if asJSON {
		_ = termsafe.WriteJSON(w, map[string]any{"pair": pair, "plan": p, "ok": p.OK()}, "")
		return
	}
	fmt.Fprintf(w, "preflight: pair %s: resolve a split brain keeping %s's data\n", termsafe.Clean(pair), p.Keep)
	printChecks(w, p.Checks)
}
