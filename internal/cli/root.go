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

// subcommand is one of redkeep's commands, by name.
type subcommand struct {
	name  string
	build func(*globalFlags) *cobra.Command
}

// commands are redkeep's subcommands, in the order help lists them (a
// function, not a variable: demo builds the tree again).
func commands() []subcommand {
	return []subcommand{
		{"console", newConsoleCmd},
		{"status", newStatusCmd},
		{"history", newHistoryCmd},
		{"switchover", newSwitchoverCmd},
		{"resolve", newResolveCmd},
		{"deploy", newDeployCmd},
		{"doctor", newDoctorCmd},
		{"maintenance", newMaintenanceCmd},
		{"hook", newHookCmd},
		{"keepalived-conf", newKeepalivedConfCmd},
		{"exporter", newExporterCmd},
		{"lab", newLabCmd},
		{"demo", newDemoCmd},
		{"version", func(*globalFlags) *cobra.Command { return newVersionCmd() }},
	}
}

// commandNamed is the subcommand args start with, "" when they start with
// anything else (a flag, help, a typo, nothing).
func commandNamed(args []string) string {
	if len(args) == 0 {
		return ""
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.name
		}
	}
	return ""
}

// newRootCmd builds the command tree. With only set (a name from
// commands), the root gets that subcommand alone: keepalived starts
// `redkeep hook check` every second, and building every command's flags
// and help text is start-up time a check would pay for nothing. cobra
// finds a subcommand by its exact name, so the command run and its
// flags are the same either way; anything else (a flag first, help, a
// typo to suggest a fix for) gets the whole tree.
func newRootCmd(s Streams, only string) *cobra.Command {
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

	for _, c := range commands() {
		if only != "" && c.name != only {
			continue
		}
		cmd := c.build(g)
		if c.name == "console" {
			// redkeep alone is the console.
			root.RunE = cmd.RunE
			root.Flags().AddFlagSet(cmd.Flags())
		}
		root.AddCommand(cmd)
	}
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
