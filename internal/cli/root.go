package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/buildinfo"
)

// globalFlags are the flags every command shares, and the streams every
// command reads and writes.
type globalFlags struct {
	configPath string
	io         Streams
}

func newRootCmd(s Streams) *cobra.Command {
	g := &globalFlags{io: s}
	root := &cobra.Command{
		Use:           "redkeep",
		Short:         "Run a two-node Redis + keepalived pair: console, hooks, switchover, lab",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", "", "config file (default: $REDKEEP_CONFIG, ./config.yaml, /etc/redkeep/config.yaml)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, fmt.Errorf("%s: %w", c.CommandPath(), err))
	})

	console := newConsoleCmd(g)
	root.RunE = console.RunE
	root.Flags().AddFlagSet(console.Flags())
	root.AddCommand(
		console,
		newStatusCmd(g),
		newSwitchoverCmd(g),
		newResolveCmd(g),
		newHookCmd(g),
		newKeepalivedConfCmd(g),
		newLabCmd(g),
		newDemoCmd(g),
		newVersionCmd(),
	)
	return root
}

// loadConfig finds and loads the config named by --config or the search path.
func (g *globalFlags) loadConfig() (*config.Config, error) {
	path, err := config.Find(g.configPath)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(g.io.Err, "redkeep: warning:", w)
	}
	return cfg, nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print redkeep's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "redkeep", buildinfo.Version())
			return nil
		},
	}
}
