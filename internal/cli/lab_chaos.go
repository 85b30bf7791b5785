package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/lab"
)

func newLabChaosCmd(f *labFlags) *cobra.Command {
	var subnet string
	var duration time.Duration
	var seed uint64
	var asJSON, keep, keepGoing bool
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Soak a lab of its own in random faults and switchovers under write load, checking the pair's invariants",
		Long: `chaos starts a lab of its own and, until --duration has passed, runs random
steps while a checker writes a key through the VIP every 5 ms: one fault on the
master or the replica (the cases of lab fail), a switchover, a fault injected
0-500 ms after a switchover's preflight, as it executes, or a fault on the master and, after the takeover, a
second one before the heal. After each step it heals the pair (resolving a
split brain left by a partition in favour of the side that served) and checks:
at most one Redis master once a transition settles, writes flowing through the
VIP whenever a node is left to serve, a healthy pair again after the heal, and
every acknowledged write read back from the final master, unless the faults
destroyed every copy of it (both Redis servers killed, or the only holder
killed within a second of the acknowledgement).

The schedule comes from --seed (default: from the clock, printed), so a run can
be repeated. The soak stops at the first violation (--keep-going: rebuilds the
lab and goes on) and exits 1; the lab is
removed at the end, also on failure or ctrl-c (after a violation, --keep
leaves it for a look).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.ownLabSettings(cmd, subnet, "/run/redkeep-chaos", "rkchaos")
			if err != nil {
				return err
			}
			if duration <= 0 {
				return withCode(exitUsage, fmt.Errorf("--duration %s: must be positive", duration))
			}
			if !cmd.Flags().Changed("seed") {
				seed = uint64(time.Now().UnixNano())
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "chaos: seed %d (repeat this run with --seed %d)\n", seed, seed)
			ctx, cancel := labContext(cmd)
			defer cancel()
			steps, err := lab.Chaos(ctx, s, lab.ChaosOptions{Duration: duration, Seed: seed, Log: cmd.ErrOrStderr(), Keep: keep, KeepGoing: keepGoing})
			rep := lab.ChaosReport{Seed: seed, Duration: duration.String(), Steps: steps, Violations: lab.Violations(steps)}
			if rep.Steps == nil {
				rep.Steps = []lab.ChaosStep{}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return withCode(exitUnhealthy, jerr)
				}
			} else {
				fmt.Fprintln(out)
				lab.PrintChaos(out, rep)
			}
			switch {
			case errors.Is(err, context.Canceled):
				return withCode(exitInterrupted, fmt.Errorf("chaos: interrupted: %w", err))
			case errors.Is(err, lab.ErrRefused):
				return withCode(exitRefused, err)
			case err != nil:
				return withCode(exitUnhealthy, err)
			case rep.Violations > 0:
				return withCode(exitUnhealthy, fmt.Errorf("chaos: %d violation(s); repeat with --seed %d", rep.Violations, seed))
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Minute, "no step starts after this long")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the random schedule (default: from the clock)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().BoolVar(&keepGoing, "keep-going", false, "after a violation, rebuild the lab and go on (still exit 1 at the end)")
	cmd.Flags().BoolVar(&keep, "keep", false, "after a violation, leave the lab running for a look (remove it with lab --dir DIR down)")
	cmd.Flags().StringVar(&subnet, "subnet", "198.18.76.0/24", "the chaos lab's IPv4 network")
	return cmd
}
