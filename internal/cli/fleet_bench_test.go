package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/tui"
)

// countingFleet counts the fleet backend's snapshots of connected nodes
// with Redis up on their way to the console.
type countingFleet struct {
	*fleet
	out   chan tui.PairSnapshot
	polls atomic.Int64
	seen  [256]atomic.Bool
}

func (c *countingFleet) Snapshots() <-chan tui.PairSnapshot { return c.out }

// BenchmarkFleetPollCPU runs the fleet console as the operator would see
// it, a real Bubble Tea program (drawn to io.Discard at 160x60) over
// startFleet, with 50 pairs (100 nodes) polled every 2 s (fleetPollInterval)
// over SSH: 20 real sshd processes and 2 redis-server processes stand in
// for the 100 nodes, each node with its own SSH connection and its
// Redis reached through it, as on real hosts. After every node has been
// polled once it measures, over 20 s:
//   - %cpu: this process's user+system time (getrusage) as a percentage
//     of one core; the budget is 5.
//   - polls/s: snapshots of connected nodes with Redis up (100 nodes at
//     2 s is 50/s).
//   - heap-MB: live heap after a GC at the end of the window, and
//     heap-growth-MB its change over the window (bounded memory: ~0).
//
// REDKEEP_BENCH_CPUPROFILE=FILE writes a CPU profile of the window.
//
//	go test ./internal/cli -run '^$' -bench BenchmarkFleetPollCPU -benchtime 1x
func BenchmarkFleetPollCPU(b *testing.B) {
	const pairs, servers, window = 50, 20, 20 * time.Second
	var srv [servers]*sshtest.Server
	kh := filepath.Join(b.TempDir(), "known_hosts")
	for i := range srv {
		srv[i] = sshtest.Start(b)
		srv[i].WriteKnownHosts(kh)
		if i > 0 {
			srv[i].Authorize(srv[0].ClientKey.PublicKey())
		}
	}
	var rs [2]*redistest.Server
	for i := range rs {
		rs[i] = redistest.Start(b)
	}
	rs[1].ReplicaOf(rs[0])
	dir := b.TempDir()
	for i := range pairs {
		path := statusConfig(b, [2]int{srv[(2*i)%servers].Port, srv[(2*i+1)%servers].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, 0)
		data, err := os.ReadFile(path)
		must(b, err)
		must(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("pair-%02d.yaml", i)), data, 0o600))
	}
	fl, err := config.LoadFleet(dir)
	must(b, err)

	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		f := startFleet(ctx, fl.Pairs, &consoleOptions{readOnly: true})
		cf := &countingFleet{fleet: f, out: make(chan tui.PairSnapshot, 2*pairs)}
		index := map[string]int{}
		for i, c := range fl.Pairs {
			index[c.Pair] = 2 * i
		}
		go func() {
			defer close(cf.out)
			for ps := range f.Snapshots() {
				if ps.Snap.Conn == nodes.ConnConnected && ps.Snap.Redis.Up {
					cf.polls.Add(1)
					n := index[ps.Pair]
					if ps.Snap.Node == "b" {
						n++
					}
					cf.seen[n].Store(true)
				}
				select {
				case cf.out <- ps:
				case <-ctx.Done():
					return
				}
			}
		}()
		opts := f.options(fl.Pairs, "")
		opts.Backend = cf
		m, err := tui.NewFleet(opts)
		must(b, err)
		popts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(io.Discard),
			tea.WithWindowSize(160, 60), tea.WithoutSignalHandler()}, consoleProgramOptions()...)
		p := tea.NewProgram(m, popts...)
		done := make(chan struct{})
		go func() { _, _ = p.Run(); close(done) }()

		// Every node polled once: connections are made, the steady state
		// is what the console costs all night.
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			all := true
			for i := range 2 * pairs {
				all = all && cf.seen[i].Load()
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("not every node was polled within 2 minutes")
			}
		}
		heapBefore := liveHeap()
		if path := os.Getenv("REDKEEP_BENCH_CPUPROFILE"); path != "" {
			// The window alone: go test's -cpuprofile includes starting
			// 20 sshd and 100 handshakes.
			pf, err := os.Create(path)
			must(b, err)
			must(b, pprof.StartCPUProfile(pf))
			defer pf.Close()
			defer pprof.StopCPUProfile()
		}
		before, wallStart, polls0 := cpuTime(b), time.Now(), cf.polls.Load()
		time.Sleep(window)
		used, wall, polls := cpuTime(b)-before, time.Since(wallStart), cf.polls.Load()-polls0
		heapAfter := liveHeap()
		cancel()
		<-done
		f.wait(5 * time.Second)
		b.ReportMetric(100*used.Seconds()/wall.Seconds(), "%cpu")
		b.ReportMetric(float64(polls)/wall.Seconds(), "polls/s")
		b.ReportMetric(float64(heapAfter)/(1<<20), "heap-MB")
		b.ReportMetric((float64(heapAfter)-float64(heapBefore))/(1<<20), "heap-growth-MB")
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
