package lab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// BenchModes are the setups the benchmark compares.
var BenchModes = []string{"redkeep", "baseline"}

// BenchRow is one case of the benchmark in one mode.
type BenchRow struct {
	Mode string // "redkeep" or "baseline"
	CaseResult
}

// Bench runs every scenario case under load in each of modes (default: first
// with redkeep's hooks, then with the baseline (the origin document's scripts), each in a lab of
// its own built from base, and writes a table to w. It refuses to run where
// a lab already exists in the directory it would use.
func Bench(ctx context.Context, base Settings, cases, modes []string, log io.Writer) ([]BenchRow, error) {
	if len(cases) == 0 {
		cases = ScenarioCases
	}
	if len(modes) == 0 {
		modes = BenchModes
	}
	var rows []BenchRow
	for _, mode := range modes {
		s := base
		bl := mode == "baseline"
		s.Baseline = bl
		recover := 30 * time.Second
		if bl {
			recover = 60 * time.Second
		}
		l := &Lab{S: s, Log: log}
		if l.Exists() {
			return rows, fmt.Errorf("a lab already runs in %s: the benchmark needs its own (--dir)", s.Dir)
		}
		logf := func(format string, args ...any) {
			if log != nil {
				fmt.Fprintf(log, "bench %s: %s\n", mode, fmt.Sprintf(format, args...))
			}
		}
		up := func() error {
			if _, _, err := l.Up(ctx); err != nil {
				return err
			}
			if bl {
				// The baseline's start-up scripts sleep for up to 25 s.
				_, err := l.WaitHealthy(ctx, 90*time.Second)
				return err
			}
			return nil
		}
		logf("lab up in %s", s.Dir)
		if err := up(); err != nil {
			return rows, fmt.Errorf("%s lab: %w", mode, err)
		}
		for _, kase := range cases {
			if ctx.Err() != nil {
				break
			}
			r := l.RunCase(ctx, kase, ScenarioOptions{Recover: recover, Log: logf})
			rows = append(rows, BenchRow{Mode: mode, CaseResult: *r})
			logf("%s", r.Summary())
			if r.Err != nil {
				// Start the next case from a fresh pair.
				logf("rebuilding the lab after: %v", r.Err)
				if err := l.Down(context.WithoutCancel(ctx)); err != nil {
					return rows, err
				}
				if err := up(); err != nil {
					return rows, fmt.Errorf("%s lab: %w", mode, err)
				}
			}
		}
		if err := l.Down(context.WithoutCancel(ctx)); err != nil {
			return rows, err
		}
	}
	return rows, ctx.Err()
}

// PrintBench writes the benchmark table.
func PrintBench(w io.Writer, rows []BenchRow) {
	fmt.Fprintf(w, "%-9s %-29s %-6s %12s %10s %6s  %s\n", "mode", "case", "from", "window (ms)", "heal (ms)", "lost", "notes")
	for _, r := range rows {
		var notes []string
		if r.Load != nil {
			if _, unfinished := r.Load.Longest(); unfinished {
				notes = append(notes, "writes still failing at the end")
			}
			notes = append(notes, fmt.Sprintf("%d/%d writes failed", r.Load.Failed, r.Load.Attempts))
		}
		if len(r.TwoMasters) > 0 {
			notes = append(notes, fmt.Sprintf("two masters seen (%d samples)", len(r.TwoMasters)))
		}
		if r.Err != nil {
			notes = append(notes, "error: "+firstLine(r.Err.Error()))
		}
		lost := fmt.Sprint(r.Lost())
		if r.Load == nil || !r.Load.Verified {
			lost = "?"
		}
		fmt.Fprintf(w, "%-9s %-29s %-6s %12d %10d %6s  %s\n", r.Mode, r.Case, r.From+"->"+r.To, r.Window.Milliseconds(), r.HealWindow.Milliseconds(), lost, strings.Join(notes, "; "))
	}
}

// PrintBenchSummary writes, per mode and case, the spread of the windows
// over repeated runs and the total of acknowledged writes lost.
func PrintBenchSummary(w io.Writer, rows []BenchRow) {
	type key struct{ mode, kase string }
	var order []key
	windows := map[key][]time.Duration{}
	lost := map[key]int{}
	for _, r := range rows {
		k := key{r.Mode, r.Case}
		if _, ok := windows[k]; !ok {
			order = append(order, k)
		}
		windows[k] = append(windows[k], r.Window)
		lost[k] += r.Lost()
	}
	fmt.Fprintf(w, "%-9s %-29s %5s %9s %9s %9s %6s\n", "mode", "case", "runs", "min ms", "median ms", "max ms", "lost")
	for _, k := range order {
		ws := windows[k]
		slices.Sort(ws)
		fmt.Fprintf(w, "%-9s %-29s %5d %9d %9d %9d %6d\n", k.mode, k.kase, len(ws),
			ws[0].Milliseconds(), ws[len(ws)/2].Milliseconds(), ws[len(ws)-1].Milliseconds(), lost[k])
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}
