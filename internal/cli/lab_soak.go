package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/lab"
)

func newLabSoakCmd(f *labFlags) *cobra.Command {
	var subnet string
	var duration, advertInt, latency time.Duration
	var priorities []int
	var vrrpVersion, cpu int
	var rate int64
	var floodFrac float64
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run a lab of its own under CPU and network stress with nothing failing, and count false failovers",
		Long: `soak starts a lab of its own (default /run/redkeep-soak, prefix rksoak) with
the shipped keepalived timing (` + lab.ShippedTiming.String() + `) or the one
given by --priorities, --advert-int and --vrrp-version, and for --duration keeps
it under stress while nothing fails: stress-ng CPU workers inside both nodes, a
token-bucket shaper on both ends of each node's link with a bursty UDP flood into
both nodes (delay and jitter up to --net-latency, and drops), and a write load
through the VIP. Every keepalived transition in that time is a false failover.
It prints them, the failed check runs, the latency the stress caused, and the
write load's outcome; exit 0 when there was no transition and no acknowledged
write was lost, 1 otherwise. It loads the whole machine: run it alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.ownLabSettings(cmd, subnet, "/run/redkeep-soak", "rksoak")
			if err != nil {
				return err
			}
			if duration <= 0 {
				return withCode(exitUsage, fmt.Errorf("--duration %s: must be positive", duration))
			}
			if len(priorities) != 2 {
				return withCode(exitUsage, fmt.Errorf("--priorities: two numbers, a's and b's (e.g. 254,253)"))
			}
			s.Timing = lab.Timing{PriorityA: priorities[0], PriorityB: priorities[1], AdvertInt: advertInt, VRRPVersion: vrrpVersion}
			// Both nodes keep a syslog file: the soak reads keepalived's
			// transitions from them.
			s.JournalNode = lab.JournalNone
			if err := s.Validate(); err != nil {
				return withCode(exitUsage, err)
			}
			if cpu < 0 || rate < 0 {
				return withCode(exitUsage, errors.New("--cpu and --net-rate must not be negative"))
			}
			l, err := lab.New(s)
			if err != nil {
				return withCode(exitUsage, err)
			}
			l.Log = cmd.ErrOrStderr()
			if l.Exists() {
				return withCode(exitUsage, fmt.Errorf("a lab already runs in %s: the soak needs its own (--dir)", s.Dir))
			}
			ctx, cancel := labContext(cmd)
			defer cancel()
			// Validated by `redkeep keepalived-conf`'s config checks when
			// the lab writes its config; a bad timing fails lab up.
			if _, _, err := l.Up(ctx); err != nil {
				_ = l.Down(context.WithoutCancel(ctx))
				return withCode(exitUnhealthy, err)
			}
			defer func() { _ = l.Down(context.WithoutCancel(ctx)) }()
			res, err := l.Soak(ctx, lab.SoakOptions{
				Duration: duration, CPUWorkers: cpu, NetRate: rate, NetLatency: latency, Flood: floodFrac,
				Log: func(format string, args ...any) {
					fmt.Fprintf(cmd.ErrOrStderr(), "soak: %s\n", fmt.Sprintf(format, args...))
				},
			})
			if res != nil {
				res.Print(cmd.OutOrStdout())
			}
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			if !res.Passed() {
				return withCode(exitUnhealthy, errors.New("the soak saw false failovers or lost writes"))
			}
			return nil
		},
	}
	t := lab.ShippedTiming
	cmd.Flags().StringVar(&subnet, "subnet", "198.18.77.0/24", "the soak lab's IPv4 network")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Minute, "how long to soak")
	cmd.Flags().IntSliceVar(&priorities, "priorities", []int{t.PriorityA, t.PriorityB}, "VRRP priorities of a and b")
	cmd.Flags().DurationVar(&advertInt, "advert-int", t.AdvertInt, "keepalived's advert_int")
	cmd.Flags().IntVar(&vrrpVersion, "vrrp-version", t.VRRPVersion, "VRRP version (2: whole-second advert_int only)")
	cmd.Flags().IntVar(&cpu, "cpu", 2, "stress-ng CPU workers in each node (0: none)")
	cmd.Flags().Int64Var(&rate, "net-rate", 20_000_000, "bits per second of the shapers on the nodes' links (0: no network stress)")
	cmd.Flags().DurationVar(&latency, "net-latency", 50*time.Millisecond, "longest wait in a shaper's queue before a drop")
	cmd.Flags().Float64Var(&floodFrac, "flood", 0.9, "UDP flood into each node, as a fraction of --net-rate")
	return cmd
}
