package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/tui"
)

// BenchmarkConsoleIdleCPU runs the pair console as the operator would see
// it, read-only, a real Bubble Tea program (drawn to io.Discard at 160x45)
// over startPair: both nodes polled at the default 500 ms over SSH (a real
// sshd each, Redis reached through it, the node's facts from a stand-in
// for `redkeep hook state`) and their logs followed, nothing happening.
// After the first polls it measures this process's user+system time
// (getrusage) over 30 s as a percentage of one core: %cpu, the budget
// is 1. scripts/bench-console measures the real console on a lab.
//
// REDKEEP_BENCH_CPUPROFILE=FILE writes a CPU profile of the window.
//
//	go test ./internal/cli -run '^$' -bench BenchmarkConsoleIdleCPU -benchtime 1x
func BenchmarkConsoleIdleCPU(b *testing.B) {
	const window = 30 * time.Second
	var srv [2]*sshtest.Server
	kh := filepath.Join(b.TempDir(), "known_hosts")
	for i := range srv {
		srv[i] = sshtest.Start(b)
		srv[i].WriteKnownHosts(kh)
	}
	srv[1].Authorize(srv[0].ClientKey.PublicKey())
	var rs [2]*redistest.Server
	for i := range rs {
		rs[i] = redistest.Start(b)
	}
	rs[1].ReplicaOf(rs[0])
	path := statusConfig(b, [2]int{srv[0].Port, srv[1].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, 0)
	cfg, err := config.Load(path)
	must(b, err)

	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		p, err := startPair(ctx, cfg)
		must(b, err)
		opts := tui.Options{
			VIP: cfg.VIPAddr().String(), Backend: p, Judge: p.judge, ReadOnly: true,
			LagWarn: cfg.Console.LagWarn, StaleAfter: staleAfter(cfg.Console.PollInterval), Context: ctx,
		}
		for _, n := range cfg.Nodes {
			opts.Nodes = append(opts.Nodes, tui.NodeInfo{Name: n.Name, Host: n.Host})
		}
		m, err := tui.New(opts)
		must(b, err)
		popts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(io.Discard),
			tea.WithWindowSize(160, 45), tea.WithoutSignalHandler()}, consoleProgramOptions()...)
		prog := tea.NewProgram(m, popts...)
		done := make(chan struct{})
		var final tea.Model
		go func() { final, _ = prog.Run(); close(done) }()

		// Connected and polled: the steady state is what the console
		// costs all night.
		time.Sleep(5 * time.Second)
		if path := os.Getenv("REDKEEP_BENCH_CPUPROFILE"); path != "" {
			pf, err := os.Create(path)
			must(b, err)
			must(b, pprof.StartCPUProfile(pf))
			defer pf.Close()
			defer pprof.StopCPUProfile()
		}
		before, wallStart := cpuTime(b), time.Now()
		time.Sleep(window)
		used, wall := cpuTime(b)-before, time.Since(wallStart)
		cancel()
		<-done
		p.wait(5 * time.Second)
		if v := final.(*tui.Model).View().Content; strings.Count(v, "connected") != 2 || !strings.Contains(v, "master") {
			b.Fatalf("the console did not show both nodes polled:\n%s", v)
		}
		b.ReportMetric(100*used.Seconds()/wall.Seconds(), "%cpu")
	}
}
