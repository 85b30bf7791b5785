package lab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Bench modes: redkeep with the timing it ships, redkeep with the timing
// it shipped before issue 12, and the origin document's scripts.
const (
	ModeRedkeep  = "redkeep"
	ModeToday    = "today"
	ModeBaseline = "baseline"
)

// BenchModes are the setups the benchmark compares, in the order of its
// side-by-side table.
var BenchModes = []string{ModeRedkeep, ModeToday, ModeBaseline}

// TodayTiming is the timing before issue 12: the lab's priorities 150/100
// and keepalived's advert_int of 1 s.
var TodayTiming = Timing{PriorityA: 150, PriorityB: 100, AdvertInt: time.Second, VRRPVersion: 2}

// BenchCases are the table rows, the bench's default cases.
var BenchCases = []string{PlannedSwitchover, RedisDown, KeepalivedKill, KeepalivedStop, NodeDown, BothDown}

// AllBenchCases are the cases --case accepts.
var AllBenchCases = append([]string{PlannedSwitchover}, ScenarioCases...)

// modeSettings returns base set up for mode.
func modeSettings(base Settings, mode string) Settings {
	s := base
	s.Baseline = mode == ModeBaseline
	switch mode {
	case ModeToday:
		s.Timing = TodayTiming
		// Nor had it the Redis watcher: the check alone noticed a dead Redis.
		s.NoWatch = true
	case ModeRedkeep:
		s.Timing = ShippedTiming
	}
	return s
}

// BenchRow is one case of the benchmark in one mode.
type BenchRow struct {
	Mode string // one of BenchModes
	CaseResult
}

// Bench runs every case under load in each of modes (default: BenchCases
// in BenchModes), each mode in a lab of its own built from base, and logs
// each result to log. It refuses to run where a lab already exists in the
// directory it would use.
func Bench(ctx context.Context, base Settings, cases, modes []string, log io.Writer) ([]BenchRow, error) {
	if len(cases) == 0 {
		cases = BenchCases
	}
	if len(modes) == 0 {
		modes = BenchModes
	}
	var rows []BenchRow
	for _, mode := range modes {
		s := modeSettings(base, mode)
		bl := s.Baseline
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
		if bl {
			logf("lab up in %s", s.Dir)
		} else {
			logf("lab up in %s (%s)", s.Dir, s.timing())
		}
		if err := up(); err != nil {
			return rows, fmt.Errorf("%s lab: %w", mode, err)
		}
		for _, kase := range cases {
			if ctx.Err() != nil {
				break
			}
			if kase == PlannedSwitchover && bl {
				// The origin's scripts have no planned switchover.
				continue
			}
			var r *CaseResult
			if kase == PlannedSwitchover {
				r = l.RunSwitchover(ctx, ScenarioOptions{Recover: recover, Log: logf})
			} else {
				r = l.RunCase(ctx, kase, ScenarioOptions{Recover: recover, Log: logf})
			}
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

// PrintBenchSideBySide writes the table: one row per case, and per
// mode the median and maximum window over the runs whose writes were read
// back and the acknowledged writes lost over them ("-" where a mode has no
// such run of the case, "(k failed)" where k runs ended in an error, e.g.
// a pair that never healed).
func PrintBenchSideBySide(w io.Writer, rows []BenchRow, modes []string) {
	type key struct{ mode, kase string }
	windows := map[key][]time.Duration{}
	lost := map[key]int{}
	unverified := map[key]bool{}
	failed := map[key]int{}
	var cases []string
	for _, r := range rows {
		k := key{r.Mode, r.Case}
		if !slices.Contains(cases, r.Case) {
			cases = append(cases, r.Case)
		}
		if r.Err != nil {
			failed[k]++
		}
		if r.Load == nil || !r.Load.Verified {
			unverified[k] = true
			continue
		}
		lost[k] += r.Lost()
		windows[k] = append(windows[k], r.Window)
	}
	fmt.Fprintf(w, "%-29s", "window ms (median/max), lost")
	for _, m := range modes {
		fmt.Fprintf(w, " | %-24s", m)
	}
	fmt.Fprintln(w)
	for _, c := range cases {
		fmt.Fprintf(w, "%-29s", c)
		for _, m := range modes {
			k := key{m, c}
			ws := windows[k]
			cell := "-"
			if len(ws) > 0 {
				slices.Sort(ws)
				l := fmt.Sprint(lost[k])
				if unverified[k] {
					l += "?"
				}
				cell = fmt.Sprintf("%d/%d, %s lost (%d)", ws[len(ws)/2].Milliseconds(), ws[len(ws)-1].Milliseconds(), l, len(ws))
			}
			if failed[k] > 0 {
				cell += fmt.Sprintf(" (%d failed)", failed[k])
			}
			fmt.Fprintf(w, " | %-24s", cell)
		}
		fmt.Fprintln(w)
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
