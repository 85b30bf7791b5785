package tui

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/logs"
)

// Benchmarks for the closing note. Run with:
//
//	go test ./tui/ -run '^$' -bench . -benchtime 1x
//
// They report custom metrics; ns/op is not the number to read.

// benchEvent makes a syslog-like line of node; every 50th is a transition,
// every 97th an error, as a busy failover would log.
func benchEvent(node string, i int, at time.Time) logs.Event {
	e := logs.Event{Node: node, Source: logs.SourceSyslog, Time: at, Kind: logs.KindRaw,
		Raw: fmt.Sprintf("Nov 26 03:00:00 %s redis-server[812]: 812:M 26 Nov 2026 03:00:00.000 * line %d of a busy log", node, i)}
	switch {
	case i%97 == 0:
		e.Level = logs.LevelError
	case i%50 == 0:
		e.Kind, e.State = logs.KindTransition, "BACKUP"
	}
	return e
}

// latencyModel wraps the console to time each key press from the moment
// it was sent to the end of the View that shows its effect.
type latencyModel struct {
	*Model
	mu      sync.Mutex
	pending []time.Time // send times of keys not yet drawn
	updated int         // keys whose Update ran, awaiting their View
	lat     []time.Duration
}

type timedKey struct {
	tea.KeyPressMsg
	sent time.Time
}

func (l *latencyModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(timedKey); ok {
		l.mu.Lock()
		l.pending = append(l.pending, k.sent)
		l.updated++
		l.mu.Unlock()
		_, cmd := l.Model.Update(k.KeyPressMsg)
		return l, cmd
	}
	_, cmd := l.Model.Update(msg)
	return l, cmd
}

func (l *latencyModel) View() tea.View {
	v := l.Model.View()
	l.mu.Lock()
	if l.updated > 0 {
		now := time.Now()
		for _, s := range l.pending {
			l.lat = append(l.lat, now.Sub(s))
		}
		l.pending, l.updated = l.pending[:0], 0
	}
	l.mu.Unlock()
	return v
}

// BenchmarkKeyToRedraw runs the console as a real program (output
// discarded) while both nodes log 5000 lines/s each, presses a key every
// 20 ms and reports the latency from key press to the redrawn view, and
// the process's CPU meanwhile (the line producers included). The renderer
// writes a new view out at its next frame, at most 1/60 s later.
func BenchmarkKeyToRedraw(b *testing.B) {
	const perNode = 5000 // lines per second per node
	m, fb := newTestModel(b, &fakeJudge{v: healthyVerdict()}, func(o *Options) { o.Tick = time.Second })
	lm := &latencyModel{Model: m}
	p := tea.NewProgram(lm, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(120, 40), tea.WithoutSignals())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := p.Run(); err != nil {
			b.Error(err)
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, node := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 5000 lines/s as 50 lines every 10 ms.
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			i := 0
			for {
				select {
				case <-stop:
					return
				case now := <-t.C:
					for range perNode / 100 {
						fb.events <- benchEvent(node, i, now)
						i++
					}
				}
			}
		}()
	}
	p.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	time.Sleep(time.Second) // fill the buffers first
	keys := []string{"tab", "up", "down", "space", "space", "tab", "tab"}
	presses := max(b.N, 200)
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	wall0 := time.Now()
	b.ResetTimer()
	for i := range presses {
		k := press(keys[i%len(keys)])
		p.Send(timedKey{KeyPressMsg: k, sent: time.Now()})
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(100*cpu.Seconds()/time.Since(wall0).Seconds(), "cpu-%")
	close(stop)
	wg.Wait()
	p.Quit()
	<-done

	lm.mu.Lock()
	lat := slices.Clone(lm.lat)
	lm.mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no key press was drawn")
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(float64(m.nodeLogs[0].lines.NextSeq()+m.nodeLogs[1].lines.NextSeq()), "lines")
}

// BenchmarkMillionLines feeds a million log lines through Update, as the
// program would in batches, and reports the live heap after 100k and after
// 1M lines: bounded by the ring buffers, not by the lines seen. (ns/line
// includes making each line.)
func BenchmarkMillionLines(b *testing.B) {
	const total = 1_000_000
	for range b.N {
		m, _ := newTestModel(b, &fakeJudge{v: healthyVerdict()})
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		runtime.GC()
		var atTenth runtime.MemStats
		start := time.Now()
		batch := make([]logs.Event, 0, maxEventBatch)
		for i := range total {
			node := "a"
			if i%2 == 1 {
				node = "b"
			}
			batch = append(batch, benchEvent(node, i, t0.Add(time.Duration(i)*time.Microsecond)))
			if len(batch) == maxEventBatch {
				m.Update(eventsMsg{events: batch})
				batch = make([]logs.Event, 0, maxEventBatch)
			}
			if i == total/10 {
				runtime.GC()
				runtime.ReadMemStats(&atTenth)
			}
		}
		m.Update(eventsMsg{events: batch})
		_ = m.View()
		elapsed := time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(atTenth.HeapAlloc)/(1<<20), "heap-MiB@100k")
		b.ReportMetric(float64(after.HeapAlloc)/(1<<20), "heap-MiB@1M")
		b.ReportMetric(float64(elapsed.Nanoseconds())/total, "ns/line")
		runtime.KeepAlive(m)
	}
}

// BenchmarkIdleCPU runs the console with both nodes polled twice a second
// and no log traffic for 5 s, and reports the CPU it used.
func BenchmarkIdleCPU(b *testing.B) {
	b.Run("polled", func(b *testing.B) { idleCPU(b, 500*time.Millisecond, FPS) })
	b.Run("quiet", func(b *testing.B) { idleCPU(b, 0, FPS) })
	// Bubble Tea's default frame rate, for comparison.
	b.Run("polled-60fps", func(b *testing.B) { idleCPU(b, 500*time.Millisecond, 60) })
}

func idleCPU(b *testing.B, poll time.Duration, fps int) {
	m, fb := newTestModel(b, &fakeJudge{v: healthyVerdict()}, func(o *Options) { o.Tick = time.Second })
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithWindowSize(120, 40), tea.WithoutSignals(), tea.WithFPS(fps))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := p.Run(); err != nil {
			b.Error(err)
		}
	}()
	p.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	const span = 5 * time.Second
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	if poll > 0 {
		tick := time.NewTicker(poll)
		for time.Since(start) < span {
			<-tick.C
			fb.snaps["a"] <- snapMaster("a")
			fb.snaps["b"] <- snapReplica("b")
		}
		tick.Stop()
	} else {
		time.Sleep(span)
	}
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	wall := time.Since(start)
	p.Quit()
	<-done
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
}

// BenchmarkView is one full redraw of a busy 120x40 console.
func BenchmarkView(b *testing.B) {
	m, _ := newTestModel(b, &fakeJudge{v: healthyVerdict()})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	var batch []logs.Event
	for i := range 10000 {
		batch = append(batch, benchEvent([]string{"a", "b"}[i%2], i, t0))
	}
	m.Update(eventsMsg{events: batch})
	b.ReportAllocs()
	for b.Loop() {
		m.dirty = true // a full redraw, not the kept frame
		_ = m.View()
	}
}

// BenchmarkViewNewSecond is the frame a quiet pair's console draws most:
// a poll whose only change is the second in a node panel's title, on a
// 160x45 screen with a few hundred log lines.
func BenchmarkViewNewSecond(b *testing.B) {
	m, _ := newTestModel(b, &fakeJudge{v: healthyVerdict()})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 45})
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	var batch []logs.Event
	for i := range 200 {
		batch = append(batch, benchEvent([]string{"a", "b"}[i%2], i, t0))
	}
	m.Update(eventsMsg{events: batch})
	b.ReportAllocs()
	s := snapMaster("a")
	for b.Loop() {
		s.Time = s.Time.Add(time.Second)
		feed(m, snaps(s)...)
		_ = m.View()
	}
}
