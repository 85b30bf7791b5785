package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

type statusOptions struct {
	asJSON  bool
	timeout time.Duration
	out     io.Writer
	// probe reads both nodes (nodes.ProbeAll over SSH); tests pass fakes.
	probe func(ctx context.Context, cfg *config.Config, timeout time.Duration) []nodes.Snapshot
	// now is the clock maintenance deadlines are read against (nil: time.Now).
	now func() time.Time
}

func probeOverSSH(ctx context.Context, cfg *config.Config, timeout time.Duration) []nodes.Snapshot {
	return nodes.ProbeAll(ctx, cfg, nodes.WithProbeTimeout(timeout))
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	o := &statusOptions{probe: probeOverSSH}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "One snapshot of both nodes and the pair's verdict (exit 0 healthy, 1 not)",
		Long: `Probe both nodes at once over SSH (keepalived state, VIP, Redis replication)
and print a table, or JSON with --json, followed by the pair's verdict.

The table shows the nodes' text (INFO fields, errors, keepalived state)
cleaned for the terminal: control and format characters, escape sequences
among them, show as U+FFFD. --json carries that text exactly, for scripts,
with every control and format character written as a \uXXXX escape.

A replica's LAG is in bytes and seconds: after the probe, its offset is read
again until it reaches the offset the master had at the probe (at most 1 s),
so the seconds are 0 when it had everything and "> 1 s" when it did not get
there in time. --json gives it as redis.lag with its source.

When the config names several pairs (a directory of pair files or a pairs
list), every pair is probed at once and printed under its name, then one
line per pair; --json prints {"healthy", "pairs": [...]}, each pair as a
single pair's --json with its "pair" name. --pair NAME probes one pair only,
printed as a single pair is.

Maintenance mode (redkeep maintenance) is shown below the verdict and in
--json's "maintenance" field: while a node is in it, its hooks do not fail
over, so a healthy pair in maintenance has an exit code of its own.

Exit codes: 0 healthy (every pair), 1 not healthy (each reason is printed),
2 usage or config error, 4 healthy but a node (of any pair) in maintenance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.timeout <= 0 {
				return withCode(exitUsage, fmt.Errorf("status: --timeout must be positive, got %s", o.timeout))
			}
			fleet, err := g.loadFleet()
			if err != nil {
				return err
			}
			pairs, err := g.pairsOf(fleet)
			if err != nil {
				return err
			}
			// An unusable ssh setting is a config error (exit 2), not an
			// unhealthy pair.
			for _, cfg := range pairs {
				for i := range cfg.Nodes {
					if _, err := nodes.ResolveTarget(&cfg.Nodes[i]); err != nil {
						return withCode(exitUsage, fmt.Errorf("pair %s: %w", cfg.Pair, err))
					}
				}
			}
			o.out = cmd.OutOrStdout()
			if len(pairs) == 1 {
				return runStatus(cmd.Context(), pairs[0], o)
			}
			return runFleetStatus(cmd.Context(), pairs, o)
		},
	}
	g.addPairFlag(cmd, "only this pair (default: every pair the config names)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print both snapshots and the verdict as JSON")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 10*time.Second, "bound on the whole probe")
	return cmd
}

// runStatus probes the pair once, prints it and returns the verdict as
// the error: nil when healthy.
func runStatus(ctx context.Context, cfg *config.Config, o *statusOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	snaps := o.probe(ctx, cfg, o.timeout)
	v := nodes.Judge(snaps, nodes.Thresholds{LagWarn: cfg.Console.LagWarn})
	now := o.clock()
	maint := maintenanceOf(snaps, now)

	var err error
	out := o.out
	if o.asJSON {
		err = termsafe.WriteJSON(out, newStatusJSON(cfg.Pair, snaps, v, maint), "  ")
	} else {
		err = writeStatusTable(out, cfg, snaps, v)
		if err == nil {
			err = writeMaintenanceStatus(out, snaps, now)
		}
	}
	if err != nil {
		return withCode(exitUnhealthy, fmt.Errorf("status: write: %w", err))
	}
	if !v.Healthy {
		// The reasons are printed already.
		return withCode(exitUnhealthy, errSilent)
	}
	if maint.Active {
		return withCode(exitMaintenance, errSilent)
	}
	return nil
}

// clock is the time maintenance deadlines are read against.
func (o *statusOptions) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

// statusMaintenanceJSON is `status --json`'s "maintenance": whether any
// node is in maintenance now, and which (each node's record is in its
// snapshot's "maintenance").
type statusMaintenanceJSON struct {
	Active bool     `json:"active"`
	Nodes  []string `json:"nodes"`
}

func maintenanceOf(snaps []nodes.Snapshot, now time.Time) statusMaintenanceJSON {
	m := statusMaintenanceJSON{Nodes: []string{}}
	for _, s := range snaps {
		if _, on := s.InMaintenance(now); on {
			m.Active = true
			m.Nodes = append(m.Nodes, s.Node)
		}
	}
	return m
}

// writeMaintenanceStatus adds a line per node in maintenance (or whose
// maintenance file could not be read) below the verdict.
func writeMaintenanceStatus(w io.Writer, snaps []nodes.Snapshot, now time.Time) error {
	for _, s := range snaps {
		rec, on := s.InMaintenance(now)
		switch {
		case on:
			if _, err := fmt.Fprintf(w, "MAINTENANCE on %s: %s (%s left): its hooks do not fail over\n", s.Node, termsafe.Clean(rec.String()), human.Duration(rec.Until.Sub(now))); err != nil {
				return err
			}
		case s.MaintenanceErr != "":
			if _, err := fmt.Fprintf(w, "maintenance on %s unknown: %s\n", s.Node, termsafe.Clean(s.MaintenanceErr)); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusJSON is `redkeep status --json`: the verdict first, then each
// node's snapshot as the console sees it.
type statusJSON struct {
	Pair      string       `json:"pair,omitempty"`
	Healthy   bool         `json:"healthy"`
	VIPHolder string       `json:"vip_holder"`
	Master    string       `json:"master"`
	Reasons   []reasonJSON `json:"reasons"`
	// Notes do not make the pair unhealthy: nodes without redkeep.
	Notes []reasonJSON `json:"notes"`
	// Maintenance says which nodes are in maintenance now.
	Maintenance statusMaintenanceJSON `json:"maintenance"`
	Nodes       []nodes.Snapshot      `json:"nodes"`
}

type reasonJSON struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

func newStatusJSON(pair string, snaps []nodes.Snapshot, v nodes.Verdict, m statusMaintenanceJSON) statusJSON {
	s := statusJSON{Pair: pair, Healthy: v.Healthy, VIPHolder: v.VIPHolder, Master: v.Master, Reasons: []reasonJSON{}, Notes: []reasonJSON{}, Maintenance: m, Nodes: snaps}
	for _, r := range v.Reasons {
		s.Reasons = append(s.Reasons, reasonJSON{Code: r.Code, Text: r.Text})
	}
	for _, r := range v.Notes {
		s.Notes = append(s.Notes, reasonJSON{Code: r.Code, Text: r.Text})
	}
	return s
}

// fleetStatusJSON is `redkeep status --json` over several pairs.
type fleetStatusJSON struct {
	Healthy bool         `json:"healthy"`
	Pairs   []statusJSON `json:"pairs"`
}

// maxParallelPairs bounds the pairs status probes at once: each probe
// opens two SSH connections.
const maxParallelPairs = 16

// runFleetStatus probes every pair at once (at most maxParallelPairs at a
// time, all within --timeout), prints each under its name and a summary,
// and returns nil only when every pair is healthy.
func runFleetStatus(ctx context.Context, pairs []*config.Config, o *statusOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	snaps := make([][]nodes.Snapshot, len(pairs))
	verdicts := make([]nodes.Verdict, len(pairs))
	sem := make(chan struct{}, maxParallelPairs)
	var wg sync.WaitGroup
	for i, cfg := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				snaps[i] = o.probe(ctx, cfg, o.timeout)
			case <-ctx.Done():
				// Never started: every node is reported as not probed.
				for _, n := range cfg.Nodes {
					snaps[i] = append(snaps[i], nodes.Snapshot{Node: n.Name, Time: time.Now(), Conn: nodes.ConnUnreachable,
						ConnErr: fmt.Sprintf("not probed within --timeout %s", o.timeout)})
				}
			}
			verdicts[i] = nodes.Judge(snaps[i], nodes.Thresholds{LagWarn: cfg.Console.LagWarn})
		}()
	}
	wg.Wait()

	healthy, inMaint := true, false
	now := o.clock()
	maint := make([]statusMaintenanceJSON, len(pairs))
	for i, v := range verdicts {
		healthy = healthy && v.Healthy
		maint[i] = maintenanceOf(snaps[i], now)
		inMaint = inMaint || maint[i].Active
	}
	var err error
	if o.asJSON {
		fs := fleetStatusJSON{Healthy: healthy}
		for i, cfg := range pairs {
			fs.Pairs = append(fs.Pairs, newStatusJSON(cfg.Pair, snaps[i], verdicts[i], maint[i]))
		}
		err = termsafe.WriteJSON(o.out, fs, "  ")
	} else {
		err = writeFleetTable(o.out, pairs, snaps, verdicts, maint, now)
	}
	if err != nil {
		return withCode(exitUnhealthy, fmt.Errorf("status: write: %w", err))
	}
	if !healthy {
		return withCode(exitUnhealthy, errSilent)
	}
	if inMaint {
		return withCode(exitMaintenance, errSilent)
	}
	return nil
}

// writeFleetTable prints each pair as status prints one, under its name,
// then one line a pair.
func writeFleetTable(w io.Writer, pairs []*config.Config, snaps [][]nodes.Snapshot, verdicts []nodes.Verdict, maint []statusMaintenanceJSON, now time.Time) error {
	for i, cfg := range pairs {
		fmt.Fprintf(w, "== pair %s (VIP %s)\n", termsafe.Clean(cfg.Pair), cfg.VIPAddr())
		if err := writeStatusTable(w, cfg, snaps[i], verdicts[i]); err != nil {
			return err
		}
		if err := writeMaintenanceStatus(w, snaps[i], now); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	bad := 0
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeRow(tw, "PAIR", "VERDICT", "MASTER", "VIP")
	for i, cfg := range pairs {
		v := verdicts[i]
		verdict := "healthy"
		if !v.Healthy {
			bad++
			verdict = fmt.Sprintf("NOT HEALTHY (%d)", len(v.Reasons))
		}
		if maint[i].Active {
			verdict += ", MAINTENANCE on " + strings.Join(maint[i].Nodes, ", ")
		}
		writeRow(tw, cfg.Pair, verdict, orNone(v.Master), orNone(v.VIPHolder))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if bad == 0 {
		_, err := fmt.Fprintf(w, "\nall %d pairs healthy\n", len(pairs))
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d of %d pairs NOT HEALTHY\n", bad, len(pairs))
	return err
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeRow writes one table row. Every cell is cleaned: most hold what
// the nodes sent (their Redis INFO, keepalived state, version, errors).
func writeRow(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = termsafe.Clean(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

func writeStatusTable(w io.Writer, cfg *config.Config, snaps []nodes.Snapshot, v nodes.Verdict) error {
	var master *replication.Info
	for i := range snaps {
		if snaps[i].Node == v.Master {
			master = &snaps[i].Redis.Info
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	writeRow(tw, "NODE", "SSH", "KEEPALIVED", "VIP", "REDIS", "OFFSET", "LINK", "LAG", "REDKEEP")
	for _, s := range snaps {
		ka, vip, version := "?", "?", "?"
		if s.Conn == nodes.ConnConnected && s.Keepalived.Err == "" {
			ka = keepalivedCell(s.Keepalived)
			vip = "-"
			if s.HoldsVIP {
				vip = "yes"
			}
			version = s.Version
			if version == "" {
				version = "(none)"
			}
			if s.Hooks == nodes.HooksNotRedkeep {
				version = "(none): hooks: not redkeep"
			}
		}
		role, offset, link, lag := "?", "-", "-", "-"
		if s.Redis.Up {
			in := s.Redis.Info
			role, offset = string(in.Role), fmt.Sprint(in.Offset())
			if in.Role == replication.RoleReplica {
				link = replicaLink(in)
				if master != nil {
					if n, ok := replication.Lag(in, *master); ok {
						lag = human.Bytes(n)
					}
					if s.Redis.Lag != nil {
						lag = s.Redis.Lag.String()
					}
				}
			}
		} else if s.Conn == nodes.ConnConnected {
			role = "down"
		}
		writeRow(tw, s.Node, string(s.Conn), ka, vip, role, offset, link, lag, version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, n := range v.Notes {
		fmt.Fprintf(w, "%s\n", termsafe.Clean(n.Text))
	}
	if v.Healthy {
		_, err := fmt.Fprintf(w, "healthy: VIP %s on %s, master %s\n", cfg.VIPAddr(), v.VIPHolder, v.Master)
		return err
	}
	// Node names come from the validated config; reasons quote the nodes.
	fmt.Fprintf(w, "NOT HEALTHY (%d):\n", len(v.Reasons))
	for _, r := range v.Reasons {
		fmt.Fprintf(w, "  %-16s %s\n", r.Code, termsafe.Clean(r.Text))
	}
	return nil
}

func keepalivedCell(k nodes.Keepalived) string {
	var parts []string
	if !k.Running {
		parts = append(parts, "not running")
	}
	switch {
	case k.State != "" && (k.StateFrom == "" || k.StateFrom == nodes.StateFromFile):
		parts = append(parts, fmt.Sprintf("%s (prio %d)", k.State, k.Priority))
	case k.State != "":
		// A node without redkeep: no priority known, and the state's
		// source matters (a guess from the VIP is only a guess).
		parts = append(parts, fmt.Sprintf("%s (from %s)", k.State, k.StateFrom))
	case k.Running:
		parts = append(parts, "running, no state yet")
	}
	if k.Drained {
		parts = append(parts, "drained")
	}
	return strings.Join(parts, ", ")
}

func replicaLink(in replication.Info) string {
	switch {
	case in.SyncInProgress:
		return "syncing"
	case in.Loading:
		return "loading"
	case in.LinkUp:
		return "up"
	}
	return "down"
}
