package main

import "github.com/spf13/cobra"

type consoleOptions struct {
	readOnly bool
}

func newConsoleCmd(g *globalFlags) *cobra.Command {
	o := &consoleOptions{}
	cmd := &cobra.Command{
		Use:   "console",
		Short: "The operator console: both nodes, their logs and actions, live",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented("console")
		},
	}
	cmd.Flags().BoolVar(&o.readOnly, "read-only", false, "hide every action")
	return cmd
}
