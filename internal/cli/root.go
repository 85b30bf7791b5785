package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/buildinfo"
	"github.com/redkeep/redkeep/internal/termsafe"
)

// globalFlags are the flags every command shares, and the streams every
// command reads and writes.
type globalFlags struct {
	configPath string
	// pair is --pair, on the commands that act on one pair or may.
	pair string
	io   Streams
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
		newHistoryCmd(g),
		newSwitchoverCmd(g),
		newResolveCmd(g),
		newDeployCmd(g),
		newDoctorCmd(g),
		newMaintenanceCmd(g),
		newHookCmd(g),
		newKeepalivedConfCmd(g),
		newExporterCmd(g),
		newLabCmd(g),
		newDemoCmd(g),
		newVersionCmd(),
	)
	return root
}

// addPairFlag gives cmd the --pair flag.
func (g *globalFlags) addPairFlag(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&g.pair, "pair", "", usage)
}

// pairFlagUsage is --pair's help on the commands acting on one pair.
const pairFlagUsage = "the pair to act on (required when the config names several pairs)"

// loadFleet finds and loads every pair the config (a file, a pairs list or
// a directory of pair files) names.
func (g *globalFlags) loadFleet() (*config.Fleet, error) {
	path, err := config.Find(g.configPath)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	f, err := config.LoadFleet(path)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	for _, w := range f.Warnings() {
		fmt.Fprintln(g.io.Err, "redkeep: warning:", w)
	}
	return f, nil
}

// pairsOf picks the pairs --pair names: that one pair, else all of them.
func (g *globalFlags) pairsOf(f *config.Fleet) ([]*config.Config, error) {
	if g.pair == "" {
		return f.Pairs, nil
	}
	c, err := f.Pair(g.pair)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--pair: %w", err))
	}
	return []*config.Config{c}, nil
}

// loadConfig loads the one pair a command acts on: the one --pair names,
// or the config's only pair. With several pairs and no --pair it refuses:
// an action never guesses its pair.
func (g *globalFlags) loadConfig() (*config.Config, error) {
	f, err := g.loadFleet()
	if err != nil {
		return nil, err
	}
	if g.pair == "" && len(f.Pairs) > 1 {
		return nil, withCode(exitUsage, fmt.Errorf("%s names %d pairs (%s): say which with --pair NAME",
			termsafe.Clean(f.Path), len(f.Pairs), strings.Join(f.Names(), ", ")))
	}
	pairs, err := g.pairsOf(f)
	if err != nil {
		return nil, err
	}
	return pairs[0], nil
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print redkeep's build: its version and the sha256 of its executable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "redkeep", buildinfo.ID())
			return nil
		},
	}
}
