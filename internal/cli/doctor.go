package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/doctor"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/nodes"
)

type doctorOptions struct {
	asJSON bool
	// facts prints the gathered facts instead of the findings (hidden:
	// how the recorded facts under doctor/testdata were made).
	facts   bool
	timeout time.Duration
	out     io.Writer
	// gather reads both nodes (doctor.Gather over SSH); tests pass fakes.
	gather func(ctx context.Context, cfg *config.Config, timeout time.Duration) doctor.Facts
}

func newDoctorCmd(g *globalFlags) *cobra.Command {
	o := &doctorOptions{gather: doctor.Gather}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Examine both nodes for hazards (exit 0 clean, 1 findings)",
		Long: `Read both nodes over SSH, read-only and without sudo: keepalived.conf (the
running keepalived's -f, else /etc/keepalived/keepalived.conf) and the scripts
it runs, Redis's INFO and CONFIG GET (save, appendonly), redkeep's files and
their modes, the Redis password file's mode (never its content), and the
clocks. Then report each finding with its severity, the evidence and the fix:

  fixed-sleep                notify scripts that sleep instead of measuring
  nopreempt-negative-weight  a check that never fails over
  stop-leaves-two-masters    no action when keepalived stops or is killed
  empty-master-restart       a restarted empty master its replica follows
  no-persistence-restarted   Redis without persistence restarted by systemd
  vrid-mismatch, vip-mismatch, auth-mismatch   the nodes' VRRP settings differ
  clock-skew                 beyond the uncertainty of the SSH round trips
  version-mismatch           different redkeep builds
  unsafe-mode                files root runs or reads that others may change
  password-readable          the Redis password file readable by everyone
  unreachable, cannot-read, not-redkeep, keepalived-conf   what doctor could not check

A file the SSH user may not read is an info finding naming it, not a failure.
Text from the nodes is cleaned for the terminal; --json carries it exactly.

With several pairs in the config, --pair names the one to examine.

Exit codes: 0 no finding of warning or worse (info findings may be printed),
1 findings, 2 usage or config error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.timeout <= 0 {
				return withCode(exitUsage, fmt.Errorf("doctor: --timeout must be positive, got %s", o.timeout))
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
			return runDoctor(cmd.Context(), cfg, o)
		},
	}
	g.addPairFlag(cmd, pairFlagUsage)
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the findings as JSON")
	cmd.Flags().BoolVar(&o.facts, "facts", false, "print the facts read from the nodes as JSON, not the findings")
	_ = cmd.Flags().MarkHidden("facts")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 20*time.Second, "bound on reading each node")
	return cmd
}

// runDoctor gathers, analyzes and prints; the error carries the exit code.
func runDoctor(ctx context.Context, cfg *config.Config, o *doctorOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	facts := o.gather(ctx, cfg, o.timeout)
	if o.facts {
		if err := termsafe.WriteJSON(o.out, facts, "  "); err != nil {
			return withCode(exitUnhealthy, fmt.Errorf("doctor: write: %w", err))
		}
		return nil
	}
	r := doctor.Analyze(facts)
	var err error
	if o.asJSON {
		err = termsafe.WriteJSON(o.out, doctorJSON{Clean: r.Clean(), Findings: r.Findings}, "  ")
	} else {
		err = writeFindings(o.out, r)
	}
	if err != nil {
		return withCode(exitUnhealthy, fmt.Errorf("doctor: write: %w", err))
	}
	if !r.Clean() {
		return withCode(exitUnhealthy, errSilent)
	}
	return nil
}

// doctorJSON is `redkeep doctor --json`.
type doctorJSON struct {
	Clean    bool             `json:"clean"`
	Findings []doctor.Finding `json:"findings"`
}

func writeFindings(w io.Writer, r doctor.Report) error {
	counts := map[doctor.Severity]int{}
	for _, f := range r.Findings {
		counts[f.Severity]++
		where := f.Node
		if where == "" {
			where = "pair"
		}
		fmt.Fprintf(w, "%-8s %-4s %s: %s\n", strings.ToUpper(string(f.Severity)), termsafe.Clean(where), f.ID, termsafe.Clean(f.Summary))
		fmt.Fprintf(w, "    evidence: %s\n", termsafe.Clean(f.Evidence))
		fmt.Fprintf(w, "    fix:      %s\n\n", termsafe.Clean(f.Fix))
	}
	if len(r.Findings) == 0 {
		_, err := fmt.Fprintln(w, "doctor: no findings")
		return err
	}
	_, err := fmt.Fprintf(w, "doctor: %d critical, %d warning, %d info\n", counts[doctor.Critical], counts[doctor.Warning], counts[doctor.Info])
	return err
}
