package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/lab"
)

func newLabBenchCmd(f *labFlags) *cobra.Command {
	var subnet string
	var cases, modes []string
	var repeat int
	var noWatch bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a planned switchover and the failure cases under write load, redkeep, its timing before issue 12 and the origin document's baseline, and print a table",
		Long: `bench starts a lab of its own (--dir and --prefix name it; by default
/run/redkeep-bench and rkbench, beside the lab of ` + "`lab up`" + `) per mode, runs each
case against the current master while a checker writes a key through the VIP every
5 ms, heals, and reads every acknowledged write back from the final master. It
prints, per run, the longest window of failed writes and the acknowledged writes
lost, then the cases side by side: median and maximum window over the --repeat
runs, and the writes lost.

Modes: redkeep (the hooks with the timing redkeep ships: ` + lab.ShippedTiming.String() + `),
today (the hooks with the timing before issue 12: ` + lab.TodayTiming.String() + `),
baseline (the origin document's scripts: fixed sleeps, SLAVEOF, nopreempt with
weight -20, advert_int 5; it has no planned switchover).

Cases (default: ` + strings.Join(lab.BenchCases, ", ") + `): ` + strings.Join(lab.AllBenchCases, ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.ownLabSettings(cmd, subnet, "/run/redkeep-bench", "rkbench")
			if err != nil {
				return err
			}
			for _, m := range modes {
				if !contains(lab.BenchModes, m) {
					return withCode(exitUsage, fmt.Errorf("--mode %q: one of %s", m, strings.Join(lab.BenchModes, ", ")))
				}
			}
			for _, c := range cases {
				if !contains(lab.AllBenchCases, c) {
					return withCode(exitUsage, fmt.Errorf("--case %q: one of %s", c, strings.Join(lab.AllBenchCases, ", ")))
				}
			}
			s.NoWatch = noWatch
			if repeat < 1 {
				return withCode(exitUsage, fmt.Errorf("--repeat %d: at least 1", repeat))
			}
			if len(cases) == 0 {
				cases = lab.BenchCases
			}
			var runs []string
			for i := 0; i < repeat; i++ {
				runs = append(runs, cases...)
			}
			ctx, cancel := labContext(cmd)
			defer cancel()
			start := time.Now()
			rows, err := lab.Bench(ctx, s, runs, modes, cmd.ErrOrStderr())
			fmt.Fprintln(cmd.OutOrStdout())
			lab.PrintBench(cmd.OutOrStdout(), rows)
			if repeat > 1 {
				fmt.Fprintln(cmd.OutOrStdout())
				lab.PrintBenchSummary(cmd.OutOrStdout(), rows)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			lab.PrintBenchSideBySide(cmd.OutOrStdout(), rows, modes)
			fmt.Fprintf(cmd.OutOrStdout(), "\n%d runs in %s\n", len(rows), time.Since(start).Round(time.Second))
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&subnet, "subnet", "198.18.75.0/24", "the benchmark lab's IPv4 network")
	cmd.Flags().StringSliceVar(&modes, "mode", lab.BenchModes, "setups to measure: redkeep (the hooks, shipped timing), today (the hooks, the timing before issue 12), baseline (the origin document's scripts)")
	cmd.Flags().StringSliceVar(&cases, "case", nil, "cases to run (default: all)")
	cmd.Flags().IntVar(&repeat, "repeat", 1, "run the cases this many times")
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "redkeep mode without the Redis watcher (keepalived.watch.enabled false): a dead Redis is found by the 1 s check alone")
	return cmd
}

// ownLabSettings are the settings of a lab a command runs for itself
// (bench, chaos), after checking this machine can run one.
func (f *labFlags) ownLabSettings(cmd *cobra.Command, subnet, dir, prefix string) (lab.Settings, error) {
	s := lab.DefaultSettings()
	if err := lab.Requirements(); err != nil {
		return s, withCode(exitUsage, err)
	}
	p, err := lab.ParseSubnet(subnet)
	if err != nil {
		return s, withCode(exitUsage, err)
	}
	s.Dir, s.Prefix = f.ownLab(cmd, dir, prefix)
	s.Subnet = p
	if err := s.Validate(); err != nil {
		return s, withCode(exitUsage, err)
	}
	return s, nil
}
