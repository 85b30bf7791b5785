package main

import "github.com/spf13/cobra"

func newHookCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "hook",
		Short:  "keepalived's check and notify hooks, run on a node",
		Hidden: false,
		Args:   cobra.NoArgs,
	}
	return cmd
}
