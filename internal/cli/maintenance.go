package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/wire"
)

type maintenanceOptions struct {
	verb   string
	reason string
	dur    time.Duration
	asJSON bool
	out    io.Writer
	// connect opens the pair's node connections (SSH); tests pass fakes.
	connect func(*config.Config) (pairConns, error)
	now     func() time.Time
}

func newMaintenanceCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance on|off|status",
		Short: "Maintenance mode on both nodes: no failover while Redis is restarted or upgraded",
		Long: `While maintenance is on, on both nodes, the hooks change no Redis role and the
check does not fail on a stopped or restarting Redis, so Redis can be restarted
or upgraded on the master without a failover; the state log says what a hook
would have done. Planned switchovers are refused. It expires by itself at its
deadline (--for, default 1h, at most 24h), so a forgotten maintenance does not
leave the pair without failover for long. Each node records who (the SSH user),
from which host, why and until when, in hooks.maintenance_file.

Restart the master's Redis so that it keeps its data: with persistence
(SHUTDOWN SAVE, or appendonly), started as a master. A master that comes back
empty is a hazard maintenance cannot cover: see docs/safety.md.

Exit codes: 0 done on both nodes, 1 a node failed or could not be reached (the
message says which node has maintenance on and which not), 2 usage or config
error.`,
		Args: cobra.NoArgs,
	}
	for _, verb := range []string{wire.MaintenanceOn, wire.MaintenanceOff, wire.MaintenanceStatus} {
		cmd.AddCommand(newMaintenanceVerbCmd(g, verb))
	}
	return cmd
}

func newMaintenanceVerbCmd(g *globalFlags, verb string) *cobra.Command {
	o := &maintenanceOptions{verb: verb, connect: connectSSH, now: time.Now}
	short := map[string]string{
		wire.MaintenanceOn:     "Turn maintenance on, on both nodes (--for DUR, default 1h; --reason TEXT)",
		wire.MaintenanceOff:    "Turn maintenance off on every node reachable",
		wire.MaintenanceStatus: "Show each node's maintenance record",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			o.out = cmd.OutOrStdout()
			return runMaintenance(cmd.Context(), cfg, o)
		},
	}
	if verb == wire.MaintenanceOn {
		cmd.Flags().DurationVar(&o.dur, "for", wire.DefaultMaintenance, fmt.Sprintf("how long until it expires by itself (at most %s)", wire.MaxMaintenance))
		cmd.Flags().StringVar(&o.reason, "reason", "", "why, for the nodes' logs and the console's banner")
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print each node's answer as JSON")
	g.addPairFlag(cmd, pairFlagUsage)
	return cmd
}

// runMaintenance checks the flags, runs the verb on both nodes and prints
// each node's answer.
func runMaintenance(ctx context.Context, cfg *config.Config, o *maintenanceOptions) error {
	if o.verb == wire.MaintenanceOn {
		if _, err := hooks.MaintenanceDuration(o.dur); err != nil {
			return withCode(exitUsage, fmt.Errorf("maintenance on: %w", err))
		}
		if err := wire.CheckReason(o.reason); err != nil {
			return withCode(exitUsage, fmt.Errorf("maintenance on: --%w", err))
		}
	}
	sn, err := o.connect(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer sn.Close()
	res := actions.Maintenance(ctx, cfg, sn, actions.MaintenanceOptions{Verb: o.verb, Reason: o.reason, For: o.dur})
	now := o.now()
	if o.asJSON {
		if err := writeMaintenanceJSON(o.out, res); err != nil {
			return withCode(exitUnhealthy, fmt.Errorf("maintenance: write: %w", err))
		}
	} else {
		writeMaintenanceText(o.out, res, now)
		if o.verb == wire.MaintenanceOn {
			fmt.Fprintln(o.out, "Restart Redis keeping its data (persistence on: SHUTDOWN SAVE or appendonly) and as a master; see docs/safety.md.")
		}
	}
	return withCode(exitUnhealthy, actions.MaintenanceError(o.verb, res, now))
}

type maintenanceNodeJSON struct {
	Node        string            `json:"node"`
	Maintenance *wire.Maintenance `json:"maintenance"`
	Active      bool              `json:"active"`
	Error       string            `json:"error,omitempty"`
}

func writeMaintenanceJSON(w io.Writer, res []actions.NodeMaintenance) error {
	out := make([]maintenanceNodeJSON, 0, len(res))
	for _, r := range res {
		n := maintenanceNodeJSON{Node: r.Node, Maintenance: r.Reply.Maintenance, Active: r.Reply.Active}
		if r.Err != nil {
			n.Error = r.Err.Error()
		}
		out = append(out, n)
	}
	return termsafe.WriteJSON(w, map[string]any{"nodes": out}, "  ")
}

func writeMaintenanceText(w io.Writer, res []actions.NodeMaintenance, now time.Time) {
	for _, r := range res {
		var line string
		switch m := r.Reply.Maintenance; {
		case r.Err != nil:
			line = "UNKNOWN: " + r.Err.Error()
		default:
			line = maintenanceLine(m, now)
		}
		fmt.Fprintf(w, "%s: %s\n", r.Node, termsafe.Clean(line))
	}
}

// maintenanceLine says what a node's record means at now.
func maintenanceLine(m *wire.Maintenance, now time.Time) string {
	switch {
	case m == nil:
		return "maintenance off (never turned on)"
	case m.Active(now):
		return fmt.Sprintf("maintenance ON %s (%s left)", m, human.Duration(m.Until.Sub(now)))
	case m.Expired(now):
		return fmt.Sprintf("maintenance off: expired at %s (%s)", m.Until.UTC().Format("2006-01-02 15:04:05 MST"), m)
	}
	return "maintenance " + m.String()
}

// consoleMaintenance is the console's maintenance backend (tui.Maintenance)
// on top of actions, over the console's own connections.
type consoleMaintenance struct {
	cfg   *config.Config
	nodes actions.Nodes
}

// Set turns maintenance on or off on both nodes; the text names what each
// node now has, the error what went wrong where.
func (c consoleMaintenance) Set(ctx context.Context, on bool, reason string, d time.Duration) (string, error) {
	verb := wire.MaintenanceOff
	if on {
		verb = wire.MaintenanceOn
	}
	res := actions.Maintenance(ctx, c.cfg, c.nodes, actions.MaintenanceOptions{Verb: verb, Reason: reason, For: d})
	now := time.Now()
	var parts []string
	for _, r := range res {
		if r.OK() {
			parts = append(parts, r.Node+": "+maintenanceLine(r.Reply.Maintenance, now))
		}
	}
	return strings.Join(parts, "; "), actions.MaintenanceError(verb, res, now)
}
