package main

import "github.com/spf13/cobra"

func newLabCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "A real two-node pair on this machine (network namespaces, keepalived, redis-server, sshd)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented("lab")
		},
	}
	return cmd
}

func newDemoCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Start the lab, then the console on it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented("demo (arrives with the lab)")
		},
	}
}
