package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/wire"
)

type historyOptions struct {
	asJSON  bool
	since   time.Duration
	timeout time.Duration
	out     io.Writer
	// connect opens the pair's node connections (SSH); tests pass fakes.
	connect func(*config.Config) (historyConns, error)
}

// historyConns reach both nodes' redkeep.
type historyConns interface {
	actions.NodeRunner
	Close() error
}

func connectHistorySSH(cfg *config.Config) (historyConns, error) {
	return actions.NewSSHNodes(cfg, nodes.Options{})
}

func newHistoryCmd(g *globalFlags) *cobra.Command {
	o := &historyOptions{connect: connectHistorySSH}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Both nodes' transitions and operator actions, merged by time, newest last",
		Long: `Read both nodes' event journals (hooks.event_log) over SSH, and the events
their redis-state logs hold from before the journal (marked "from the state
log"), and print them merged by time, newest last: one line per event with
its durations (writes paused, VIP moved, total), who asked and the result.
--json prints the events as the journals hold them, for scripts.

Exit codes: 0 both nodes answered, 1 a node could not be read (its error is
printed; the other's events still are), 2 usage or config error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.timeout <= 0 {
				return withCode(exitUsage, fmt.Errorf("history: --timeout must be positive, got %s", o.timeout))
			}
			if o.since < 0 {
				return withCode(exitUsage, fmt.Errorf("history: --since must not be negative, got %s", o.since))
			}
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			for i := range cfg.Nodes {
				if _, err := nodes.ResolveTarget(&cfg.Nodes[i]); err != nil {
					return withCode(exitUsage, err)
				}
			}
			o.out = cmd.OutOrStdout()
			return runHistory(cmd.Context(), cfg, o)
		},
	}
	g.addPairFlag(cmd, pairFlagUsage)
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the merged events as JSON")
	cmd.Flags().DurationVar(&o.since, "since", 0, "only events of the last DUR, e.g. 24h (default: all the journals hold)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 15*time.Second, "bound on reading both nodes")
	return cmd
}

func runHistory(ctx context.Context, cfg *config.Config, o *historyOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	conns, err := o.connect(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer conns.Close()
	h := actions.FetchHistory(ctx, cfg, conns, o.since)
	if o.asJSON {
		if h.Events == nil {
			h.Events = []wire.Event{}
		}
		err = termsafe.WriteJSON(o.out, h, "  ")
	} else {
		err = writeHistory(o.out, h)
	}
	if err != nil {
		return withCode(exitUnhealthy, fmt.Errorf("history: write: %w", err))
	}
	if len(h.Errors) > 0 {
		return withCode(exitUnhealthy, errors.New("history: "+h.Errors[0]))
	}
	return nil
}

func writeHistory(w io.Writer, h actions.History) error {
	if len(h.Events) == 0 {
		fmt.Fprintln(w, "no events")
	}
	for _, e := range h.Events {
		if _, err := fmt.Fprintln(w, termsafe.Clean(e.String())); err != nil {
			return err
		}
	}
	for _, e := range h.Warnings {
		fmt.Fprintln(w, "warning: "+termsafe.Clean(e))
	}
	for _, e := range h.Errors {
		fmt.Fprintln(w, "error: "+termsafe.Clean(e))
	}
	return nil
}
