package hooks_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
)

// BenchmarkCheck measures one run of `redkeep hook check` against a local
// Redis, as keepalived runs it (a new process each time), side by side with
// the origin document's check: a shell script running `redis-cli PING`.
// Each iteration runs every variant once, interleaved, so a busy machine
// slows them alike. It reports each variant's median wall time in ms.
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
	script := filepath.Join(b.TempDir(), "check_redis.sh")
	// The origin's script with its test fixed (spaces, plain quotes).
	body := "#!/bin/sh\nALIVE=$(redis-cli -h 127.0.0.1 -p " + strconv.Itoa(ra.Port()) + " PING)\n[ \"$ALIVE\" = \"PONG\" ] || exit 1\n"
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

	variants := []struct {
		name string
		argv []string
	}{
		{"redis-cli-script", []string{"/bin/sh", script}},
		{"redkeep", []string{redkeepBin, "hook", "check", "--config", p.cfg["a"], "--node", "a"}},
		{"redkeep-with-state", []string{redkeepBin, "hook", "check", "--config", q.cfg["a"], "--node", "a"}},
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
	for i, v := range variants {
		slices.Sort(times[i])
		b.ReportMetric(float64(times[i][len(times[i])/2].Microseconds())/1000, v.name+"-median-ms")
	}
}
