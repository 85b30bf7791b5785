package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/hooks"
)

func newKeepalivedConfCmd(g *globalFlags) *cobra.Command {
	var node string
	cmd := &cobra.Command{
		Use:   "keepalived-conf --node NAME",
		Short: "Print the keepalived.conf this design expects for a node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if node == "" {
				n, err := cfg.LocalNode("")
				if err != nil {
					return withCode(exitUsage, err)
				}
				node = n.Name
			}
			conf, err := hooks.KeepalivedConf(cfg, node)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("--node: %w", err))
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), conf)
			return err
		},
	}
	g.addPairFlag(cmd, pairFlagUsage)
	cmd.Flags().StringVar(&node, "node", "", "node name (default: $REDKEEP_NODE, else the node whose host is on this machine)")
	return cmd
}
