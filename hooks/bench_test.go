package hooks_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
)

// BenchmarkCheck measures one run of `redkeep hook check` against a local
// Redis, as keepalived runs it (a new process each time), side by side with
// a shell check running `redis-cli PING` as keepalived would run it (sh -c,
// a pipe into grep), the origin document's check script, and redkeep's
// start alone. Each iteration runs every variant once, interleaved, so a
// busy machine slows them alike. It reports each variant's median and p90
// wall time in ms, and the check's median over the shell check's, and logs
// the table (scripts/bench-check prints it). With $REDKEEP_BENCH_OLD naming
// another redkeep executable (an older build), its check and start run in
// the same rounds too, for a before and after under the same load.
//
//	go test -run '^$' -bench BenchmarkCheck -benchtime 300x ./hooks/
func BenchmarkCheck(b *testing.B) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		b.Skip("redis-cli is not installed (apt-get install redis-tools)")
	}
	ra, rb := redistest.Start(b), redistest.Start(b)
	// A node with data: an empty master holding the VIP makes the check
	// look at the peer too.
	if err := ra.Client().Set(context.Background(), "some", "data", 0).Err(); err != nil {
		b.Fatal(err)
	}
	p := newPair(b, ra, rb, pairOpts{deadline: 800 * time.Millisecond})
	port := strconv.Itoa(ra.Port())
	script := filepath.Join(b.TempDir(), "check_redis.sh")
	// The origin's script with its test fixed (spaces, plain quotes).
	body := "#!/bin/sh\nALIVE=$(redis-cli -h 127.0.0.1 -p " + port + " PING)\n[ \"$ALIVE\" = \"PONG\" ] || exit 1\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		b.Fatal(err)
	}
	// A second config whose node has a state file: its check also asks
	// ROLE (pipelined with PING) to reconcile, as on a node after its
	// first notify.
	q := newPair(b, ra, rb, pairOpts{deadline: 800 * time.Millisecond})
	if r := q.notify(b, "a", "MASTER"); r.code != 0 {
		b.Fatalf("MASTER notify: exit %d\n%s", r.code, r.stderr)
	}

	type variant struct {
		name, what string
		argv       []string
	}
	variants := []variant{
		{"shell", "sh -c 'redis-cli PING | grep -q PONG'", []string{"/bin/sh", "-c", "redis-cli -h 127.0.0.1 -p " + port + " PING | grep -q PONG"}},
		{"origin-script", "the origin's check_redis.sh", []string{"/bin/sh", script}},
		{"check", "redkeep hook check", []string{redkeepBin, "hook", "check", "--config", p.cfg["a"], "--node", "a"}},
		{"check-with-state", "redkeep hook check, after a notify", []string{redkeepBin, "hook", "check", "--config", q.cfg["a"], "--node", "a"}},
		{"start", "redkeep hook check --help", []string{redkeepBin, "hook", "check", "--help"}},
		{"version", "redkeep version (hashes itself)", []string{redkeepBin, "version"}},
	}
	if old := os.Getenv("REDKEEP_BENCH_OLD"); old != "" {
		variants = append(variants,
			variant{"old-check", "$REDKEEP_BENCH_OLD hook check", []string{old, "hook", "check", "--config", p.cfg["a"], "--node", "a"}},
			variant{"old-start", "$REDKEEP_BENCH_OLD hook check --help", []string{old, "hook", "check", "--help"}})
	}
	times := make([][]time.Duration, len(variants))
	b.ResetTimer()
	for range b.N {
		for i, v := range variants {
			start := time.Now()
			out, err := exec.Command(v.argv[0], v.argv[1:]...).CombinedOutput()
			times[i] = append(times[i], time.Since(start))
			if err != nil {
				b.Fatalf("%s: %v\n%s", v.name, err, out)
			}
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	var table strings.Builder
	fmt.Fprintf(&table, "%d runs each, interleaved\n%-40s %10s %8s %8s\n", b.N, "what", "median ms", "p90 ms", "x shell")
	var shell float64
	for i, v := range variants {
		slices.Sort(times[i])
		med, p90 := ms(times[i][len(times[i])/2]), ms(times[i][len(times[i])*9/10])
		if i == 0 {
			shell = med
		}
		b.ReportMetric(med, v.name+"-median-ms")
		b.ReportMetric(p90, v.name+"-p90-ms")
		fmt.Fprintf(&table, "%-40s %10.2f %8.2f %8.2f\n", v.what, med, p90, med/shell)
	}
	b.ReportMetric(ms(times[2][len(times[2])/2])/shell, "check/shell")
	if b.N > 1 {
		// go test keeps ten lines of a benchmark's log: the table fits.
		b.Log(strings.TrimSuffix(table.String(), "\n"))
	}
}
