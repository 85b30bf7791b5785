package tui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/redkeep/redkeep/logs"
)

// These flows run the console as a real Bubble Tea program on a fake
// terminal, fed through the backend's channels and the keyboard.

func startProgram(t *testing.T, m *Model, b *fakeBackend) *teatest.TestModel {
	t.Helper()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	t.Cleanup(func() { _ = tm.Quit() })
	b.snaps["a"] <- snapMaster("a")
	b.snaps["b"] <- snapReplica("b")
	for _, e := range failoverEvents() {
		b.events <- e
	}
	waitFor(t, tm, "b MASTER after 0.3 s")
	return tm
}

func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
		return bytes.Contains(out, []byte(s))
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

func finalModel(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
}

func TestFlowFilter(t *testing.T) {
	t.Parallel()
	m, b := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	tm := startProgram(t, m, b)

	tm.Type("/FAULT")
	tm.Send(press("enter"))
	waitFor(t, tm, "(esc clears)")

	fm := finalModel(t, tm)
	view := fm.View().Content
	if !strings.Contains(view, "a FAULT after 0.1 s") {
		t.Errorf("filtered timeline lost the matching line:\n%s", view)
	}
	if strings.Contains(view, "check chk_redis failed") || strings.Contains(view, "promoted at offset") {
		t.Errorf("filter /FAULT still shows lines without it:\n%s", view)
	}
	feed(fm, press("esc"))
	if view := fm.View().Content; !strings.Contains(view, "promoted at offset") {
		t.Errorf("esc did not clear the filter:\n%s", view)
	}
}

func TestFlowPause(t *testing.T) {
	t.Parallel()
	m, b := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	tm := startProgram(t, m, b)

	tm.Send(press("space"))
	waitFor(t, tm, "paused, 0 newer")
	for i := range 12 {
		b.events <- logs.Event{Node: "b", Source: logs.SourceState, Time: t0.Add(time.Duration(i) * time.Millisecond),
			Kind: logs.KindHook, Message: fmt.Sprintf("late-%d", i)}
	}
	waitFor(t, tm, "12 newer")

	fm := finalModel(t, tm)
	if view := fm.View().Content; strings.Contains(view, "late-") {
		t.Errorf("paused timeline scrolled to new lines:\n%s", view)
	}
	feed(fm, press("G"))
	if view := fm.View().Content; !strings.Contains(view, "late-11") || !strings.Contains(view, "following") {
		t.Errorf("G did not resume following:\n%s", view)
	}
}

func TestFlowSwitchoverConfirm(t *testing.T) {
	t.Parallel()
	sw := &fakeSwitchover{checks: passingChecks(), steps: []Step{
		{Name: "FAILOVER TO b", State: StepRunning},
		{Name: "FAILOVER TO b", State: StepDone, Detail: "offsets equal"},
		{Name: "drain a", State: StepDone},
		{Name: "VIP on b, verified", State: StepDone},
	}}
	m, b := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withActions(sw, nil))
	tm := startProgram(t, m, b)

	tm.Send(press("s"))
	waitFor(t, tm, "and press enter to switch over")
	tm.Type("b")
	tm.Send(press("enter"))
	waitFor(t, tm, "b is the master")
	tm.Send(press("esc"))

	fm := finalModel(t, tm)
	pre, runs := sw.calls()
	if fmt.Sprint(pre) != "[b]" || fmt.Sprint(runs) != "[b]" {
		t.Fatalf("preflights %v, runs %v; want one of each for b", pre, runs)
	}
	if fm.sw != nil || fm.status != "switchover to b done" || fm.statusBad {
		t.Errorf("after the switchover: dialog %v, status %q (bad %v)", fm.sw != nil, fm.status, fm.statusBad)
	}
}

func TestFlowSwitchoverCancel(t *testing.T) {
	t.Parallel()
	sw := &fakeSwitchover{checks: passingChecks()}
	m, b := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withActions(sw, nil))
	tm := startProgram(t, m, b)

	tm.Send(press("s"))
	waitFor(t, tm, "and press enter to switch over")
	tm.Type("a") // the current master, not the target
	tm.Send(press("enter"))
	waitFor(t, tm, "exactly")
	tm.Send(press("esc"))
	waitFor(t, tm, "switchover cancelled")

	fm := finalModel(t, tm)
	if _, runs := sw.calls(); len(runs) != 0 {
		t.Fatalf("cancelled switchover ran: %v", runs)
	}
	if fm.sw != nil {
		t.Error("dialog still open after esc")
	}
}

func TestQuitKeys(t *testing.T) {
	t.Parallel()
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	_, cmd := m.Update(press("q"))
	if cmd == nil {
		t.Fatal("q returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("q does not quit")
	}
	_, cmd = m.Update(press("ctrl+c"))
	if cmd == nil {
		t.Fatal("ctrl+c returned no command")
	}
	if _, ok := cmd().(tea.InterruptMsg); !ok {
		t.Error("ctrl+c does not interrupt (exit 130)")
	}
}

func TestQuitRefusedWhileSwitchoverRuns(t *testing.T) {
	t.Parallel()
	sw := &fakeSwitchover{checks: passingChecks()}
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withActions(sw, nil))
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	feed(m, press("s"), preflightMsg{id: 1, target: "b", checks: passingChecks()}, press("b"), press("enter"))
	if _, cmd := m.Update(press("q")); cmd != nil {
		t.Fatal("q during a running switchover returned a command; it must not quit")
	}
	if !strings.Contains(m.status, "wait for it to finish") {
		t.Errorf("status %q does not explain why q was ignored", m.status)
	}
}

func TestReadOnlyHidesActions(t *testing.T) {
	t.Parallel()
	sw, lab := &fakeSwitchover{checks: passingChecks()}, &fakeLab{}
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withActions(sw, lab), func(o *Options) { o.ReadOnly = true })
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	for _, k := range []string{"s", "L"} {
		if _, cmd := m.Update(press(k)); cmd != nil {
			t.Errorf("%s in read-only returned a command", k)
		}
	}
	if m.sw != nil || m.lab != nil {
		t.Error("read-only opened an action dialog")
	}
	view := screen(t, m, 80, 24, 0)
	for _, s := range []string{"switchover", "lab"} {
		if strings.Contains(view, s) {
			t.Errorf("read-only screen mentions %q", s)
		}
	}
}

func TestLabKeys(t *testing.T) {
	t.Parallel()
	lab := &fakeLab{}
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withActions(nil, lab))
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	run := func(k string) {
		t.Helper()
		_, cmd := m.Update(press(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		m.Update(cmd())
	}
	feed(m, press("L"))
	if m.lab.node != 0 {
		t.Errorf("lab dialog opened on node %d, want the VIP holder a", m.lab.node)
	}
	feed(m, press("tab"))
	_, cmd := m.Update(press("1")) // redis-down on b
	if m.lab != nil || m.status != "running lab fail redis-down --node b…" {
		t.Errorf("while lab fail runs: dialog open %v, status %q", m.lab != nil, m.status)
	}
	feed(m, press("L"))
	if m.lab != nil {
		t.Error("a second lab command could start while one runs")
	}
	m.Update(cmd())
	if m.status != "lab fail redis-down --node b: done; watch the timeline" {
		t.Errorf("after lab fail: status %q", m.status)
	}
	feed(m, press("L"))
	run("h")
	if got := fmt.Sprint(lab.calls); got != "[redis-down@b heal]" {
		t.Errorf("lab calls %s", got)
	}
}
