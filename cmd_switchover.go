package main

import (
	"time"

	"github.com/spf13/cobra"
)

type switchoverOptions struct {
	to      string
	maxLag  int64
	timeout time.Duration
	dryRun  bool
	yes     bool
}

func newSwitchoverCmd(g *globalFlags) *cobra.Command {
	o := &switchoverOptions{}
	cmd := &cobra.Command{
		Use:   "switchover",
		Short: "Planned switchover of Redis and the VIP to the other node, refused when it would lose data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented("switchover")
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.to, "to", "", "target node (default: the current replica)")
	f.Int64Var(&o.maxLag, "max-lag", 0, "refuse when the target's replication lag exceeds BYTES (default: switchover.max_lag)")
	f.DurationVar(&o.timeout, "timeout", 0, "bound on the whole switchover (default: switchover.timeout)")
	f.BoolVar(&o.dryRun, "dry-run", false, "run the preflight checks only")
	f.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	return cmd
}
