package nodes

import (
	"context"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProbe measures one poll of one node over a warm SSH connection:
// the facts command (one SSH session) and INFO through the direct-tcpip
// channel, in parallel. ns/op is the poll latency. "full" runs the node's
// `redkeep hook state --json` (built from this tree) every poll, "fast"
// only reads the state file and addresses, as a Poller does between full
// polls.
//
//	go test -run '^$' -bench BenchmarkProbe -benchtime 200x ./nodes/
func BenchmarkProbe(b *testing.B) {
	p := startPair(b)
	useRealRedkeep(b, p)
	conn, err := DialNode(&p.cfg.Nodes[0], Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for _, mode := range []struct {
		name      string
		fullEvery int
	}{{"full", 1}, {"fast", 1 << 30}} {
		b.Run(mode.name, func(b *testing.B) {
			pr := NewProber(p.cfg, &p.cfg.Nodes[0], conn, 5*time.Second)
			defer pr.Close()
			pr.fullEvery = mode.fullEvery
			if s := pr.Probe(context.Background()); s.Conn != ConnConnected || !s.Redis.Up || s.Keepalived.Err != "" {
				b.Fatalf("warm-up probe: %+v", s)
			}
			for b.Loop() {
				if s := pr.Probe(context.Background()); !s.Redis.Up || s.Keepalived.Err != "" {
					b.Fatalf("probe: %+v", s)
				}
			}
		})
	}
}

// BenchmarkPollTwoNodesCPU polls two idle nodes (sshd + redis-server on
// loopback) at the default 500 ms for 10 s, as the console does, and
// reports the console side's CPU use (this process's user+system time from
// getrusage) as a percentage of one core: %cpu, target at most 2 %. It also
// reports each node's side, node-%cpu: its sshd, the session and the real
// `redkeep hook state --json` each poll runs (built from this tree), but
// not redis-server answering INFO.
//
//	go test -run '^$' -bench BenchmarkPollTwoNodesCPU -benchtime 1x ./nodes/
func BenchmarkPollTwoNodesCPU(b *testing.B) {
	p := startPair(b)
	useRealRedkeep(b, p)
	const window = 10 * time.Second
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		var polls [2]atomic.Int64
		done := make(chan struct{}, 2)
		for i, n := range []string{"a", "b"} {
			pl := NewPoller(p.cfg, n, WithInterval(500*time.Millisecond))
			go pl.Run(ctx)
			go func() {
				defer func() { done <- struct{}{} }()
				for s := range pl.Snapshots() {
					if s.Conn == ConnConnected && s.Redis.Up {
						polls[i].Add(1)
					}
				}
			}()
		}
		// Let both connect before measuring: the steady state is what
		// the console costs all night long.
		time.Sleep(2 * time.Second)
		before, wallStart := cpuTime(b), time.Now()
		nodeBefore := p.ssh[0].CPUTime() + p.ssh[1].CPUTime()
		start0, start1 := polls[0].Load(), polls[1].Load()
		time.Sleep(window)
		used, wall := cpuTime(b)-before, time.Since(wallStart)
		nodeUsed := p.ssh[0].CPUTime() + p.ssh[1].CPUTime() - nodeBefore
		n := polls[0].Load() - start0 + polls[1].Load() - start1
		cancel()
		<-done
		<-done
		b.ReportMetric(100*used.Seconds()/wall.Seconds(), "%cpu")
		b.ReportMetric(float64(n)/wall.Seconds(), "polls/s")
		b.ReportMetric(100*nodeUsed.Seconds()/wall.Seconds()/2, "node-%cpu")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// useRealRedkeep builds redkeep from this tree and makes it the pair's
// node binary, reading the pair's config file.
func useRealRedkeep(b *testing.B, p *testPair) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "redkeep")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/redkeep/redkeep").CombinedOutput(); err != nil {
		b.Fatalf("build redkeep: %v\n%s", err, out)
	}
	for i := range p.cfg.Nodes {
		p.cfg.Nodes[i].Redkeep, p.cfg.Nodes[i].ConfigPath = bin, p.cfgPath
	}
}
