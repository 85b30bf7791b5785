package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/wire"
)

func newHookHistoryCmd(h *hookEnv) *cobra.Command {
	var asJSON bool
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "history [--since DUR] [--json]",
		Short: "print this node's event journal (hooks.event_log), oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return withCode(exitUsage, fmt.Errorf("hook history: --since must not be negative, got %s", since))
			}
			var from time.Time
			if since > 0 {
				from = time.Now().Add(-since)
			}
			evs, bad, err := nodeEvents(h.cfg, h.self.Name, from)
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if evs == nil {
					evs = []wire.Event{}
				}
				return termsafe.WriteJSON(out, actions.NodeHistory{Node: h.self.Name, Events: evs, Skipped: bad}, "")
			}
			for _, e := range evs {
				fmt.Fprintln(out, termsafe.Clean(e.String()))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for the console")
	cmd.Flags().DurationVar(&since, "since", 0, "only events of the last DUR (default: all the journal holds)")
	annotate(cmd, annReadOnly)
	return cmd
}

// deliverLimit bounds a deliverer's whole life: MaxSpool events, each
// bounded by notify.timeout (command and webhook at once).
func deliverLimit(h *hookEnv) time.Duration {
	return time.Duration(events.MaxSpool+1)*h.cfg.Notify.Timeout + 10*time.Second
}

func newHookDeliverCmd(h *hookEnv) *cobra.Command {
	return &cobra.Command{
		Use:    "deliver",
		Short:  "deliver this node's queued events to notify.command and notify.webhook (started by the hooks)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Started detached by a hook that has returned: nobody reads
			// its output, so it logs to the state log like the hooks.
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			ctx, cancel := context.WithTimeout(context.Background(), deliverLimit(h))
			defer cancel()
			d := &events.Deliverer{Cfg: h.cfg, Logf: func(failed bool, format string, args ...any) {
				level := hooks.Info
				if failed {
					level = hooks.Warn
				}
				h.log.Logf(level, "notify", format, args...)
			}}
			if os.Geteuid() == 0 {
				d.TrustFile = hooks.TrustedFile
			}
			if err := d.Run(ctx); err != nil {
				h.log.Logf(hooks.Error, "notify", "deliver: %v", err)
				return withCode(exitUnhealthy, err)
			}
			return nil
		},
	}
}

// maxStateLogRead bounds how much of the redis-state log history reads.
const maxStateLogRead = 1 << 20

// nodeEvents is the node's journal since from, preceded by the events the
// redis-state log holds from before the journal's first one (a node
// upgraded from a redkeep without a journal), oldest first.
func nodeEvents(cfg *config.Config, node string, from time.Time) ([]wire.Event, int, error) {
	journal, bad, err := events.Read(cfg.Hooks.EventLog, time.Time{})
	if err != nil {
		return nil, 0, err
	}
	var before time.Time
	if len(journal) > 0 {
		before = journal[0].Time
	}
	var evs []wire.Event
	if data, err := events.ReadTail(cfg.Hooks.StateLog, maxStateLogRead); err == nil {
		evs = logs.StateLogEvents(data, node, time.Local, before)
	}
	evs = append(evs, journal...)
	i := 0
	for _, e := range evs {
		if !e.Time.Before(from) {
			evs[i] = e
			i++
		}
	}
	evs = evs[:i]
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	if len(evs) > events.MaxRead {
		evs = evs[len(evs)-events.MaxRead:]
	}
	return evs, bad, nil
}
