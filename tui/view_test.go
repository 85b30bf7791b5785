package tui

import (
	"fmt"
	"image/color"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// TestView compares whole screens at fixed sizes with golden files under
// testdata/TestView/. Regenerate with: go test ./tui/ -run TestView -update
func TestView(t *testing.T) {
	cases := []struct {
		name    string
		w, h    int
		profile colorprofile.Profile
		verdict Verdict
		opts    []testOpt
		setup   func(m *Model)
	}{
		{
			name: "healthy", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, eventsMsg{events: failoverEvents()[:1]})
			},
		},
		{
			// A pair running the origin document's scripts: plain facts,
			// and the hooks row says why no action will run.
			name: "not-redkeep", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			setup: func(m *Model) {
				a, b := snapMaster("a"), snapReplica("b")
				for _, s := range []*nodes.Snapshot{&a, &b} {
					s.Version, s.Hooks = "", nodes.HooksNotRedkeep
					s.Keepalived = nodes.Keepalived{Running: true, State: s.Keepalived.State, StateFrom: nodes.StateFromSyslog}
				}
				feed(m, snaps(a, b)...)
			},
		},
		{
			name: "light-background", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			setup: func(m *Model) {
				feed(m, tea.BackgroundColorMsg{Color: color.White})
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, eventsMsg{events: failoverEvents()})
			},
		},
		{
			name: "no-color", w: 80, h: 24, profile: colorprofile.ASCII, verdict: healthyVerdict(),
			setup: func(m *Model) { feed(m, snaps(snapMaster("a"), snapReplica("b"))...) },
		},
		{
			name: "failover", w: 80, h: 24, profile: colorprofile.ANSI,
			verdict: Verdict{Healthy: false, Problems: []string{"replica a is down", "no replica in sync"}, VIPHolder: "b", Master: "b"},
			setup: func(m *Model) {
				a := snapMaster("a")
				a.Keepalived.State, a.Keepalived.Priority, a.HoldsVIP = "FAULT", 150, false
				a.Keepalived.LastAction, a.Keepalived.LastResult = "fault", "redis unreachable"
				a.Redis = nodes.Redis{Up: false, Err: "dial tcp 127.0.0.1:6379: connection refused"}
				b := snapMaster("b")
				b.Keepalived.Priority = 100
				b.Keepalived.Since = t0.Add(-9600 * time.Millisecond)
				b.Redis.Info.ConnectedReplicas, b.Redis.Info.Replicas = 0, nil
				feed(m, snaps(a, b)...)
				feed(m, eventsMsg{events: failoverEvents()})
			},
		},
		{
			name: "degraded", w: 80, h: 24, profile: colorprofile.ANSI,
			verdict: Verdict{Healthy: false, Problems: []string{"two Redis masters", "VIP on replica"}, VIPHolder: "a", Master: "b"},
			setup: func(m *Model) {
				a := snapReplica("a")
				a.HoldsVIP = true
				a.Keepalived.State = "MASTER"
				a.Redis.Info.ReplicaOffset = 123456789 - 900_000
				a.Redis.Info.MasterReplOffset = a.Redis.Info.ReplicaOffset
				a.Redis.Info.LastIOSecs = 4
				b := snapMaster("b")
				b.Took = 450 * time.Millisecond
				feed(m, snaps(a, b)...)
			},
		},
		{
			name: "reconnecting", w: 80, h: 24, profile: colorprofile.ANSI,
			verdict: Verdict{Healthy: false, Problems: []string{"b unreachable"}, VIPHolder: "a", Master: "a"},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				lost := nodes.Snapshot{Node: "b", Time: t0, Conn: nodes.ConnReconnecting, ConnErr: "dial tcp 198.51.100.12:22: i/o timeout"}
				feed(m, snaps(lost)...)
			},
		},
		{
			name: "host-key-refused", w: 80, h: 24, profile: colorprofile.ANSI,
			verdict: Verdict{Healthy: false, Problems: []string{"b: host key refused"}, VIPHolder: "a", Master: "a"},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"))...)
				refused := nodes.Snapshot{Node: "b", Time: t0, Conn: nodes.ConnHostKeyRefused,
					ConnErr: "198.51.100.12:22 presented ssh-ed25519 SHA256:Xq3… which ~/.ssh/known_hosts does not list"}
				feed(m, snaps(refused)...)
			},
		},
		{
			name: "narrow", w: 60, h: 30, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, eventsMsg{events: failoverEvents()})
			},
		},
		{
			name: "wide-logs", w: 160, h: 30, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, eventsMsg{events: failoverEvents()}, press("tab"))
			},
		},
		{
			name: "zoomed-logs", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, eventsMsg{events: failoverEvents()}, press("z"), press("tab"))
			},
		},
		{
			name: "help", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(&fakeSwitchover{}, &fakeLab{})},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, press("?"))
			},
		},
		{
			name: "help-read-only", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(&fakeSwitchover{}, &fakeLab{}), func(o *Options) { o.ReadOnly = true }},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, press("?"))
			},
		},
		{
			name: "switchover-confirm", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(&fakeSwitchover{}, nil)},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, press("s"), preflightMsg{id: 1, target: "b", checks: passingChecks()})
				feed(m, press("b"))
			},
		},
		{
			name: "switchover-many-checks", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(&fakeSwitchover{}, nil)},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				checks := append(passingChecks(), passingChecks()...)
				checks = append(checks, Check{Name: "b: replication lag", Value: "3.2 MiB", Threshold: "<= 1 MiB"})
				feed(m, press("s"), preflightMsg{id: 1, target: "b", checks: checks})
			},
		},
		{
			name: "switchover-refused", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(&fakeSwitchover{}, nil)},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				checks := passingChecks()
				checks[5] = Check{Name: "byte lag", Value: "3.2 MiB", Threshold: "<= 1 MiB", Pass: false}
				feed(m, press("s"), preflightMsg{id: 1, target: "b", checks: checks})
			},
		},
		{
			name: "switchover-progress", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(&fakeSwitchover{}, nil)},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, press("s"), preflightMsg{id: 1, target: "b", checks: passingChecks()}, press("b"), press("enter"))
				feed(m,
					stepMsg{id: 1, step: Step{Name: "FAILOVER TO b", State: StepDone, Detail: "offsets equal at 123456789 in 41 ms"}},
					stepMsg{id: 1, step: Step{Name: "drain a", State: StepRunning}},
				)
			},
		},
		{
			name: "maintenance-banner", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withMaintenance(&fakeMaintenance{})},
			setup: func(m *Model) {
				feed(m, snaps(inMaintenance(snapMaster("a")), inMaintenance(snapReplica("b")))...)
			},
		},
		{
			name: "maintenance-on-dialog", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withMaintenance(&fakeMaintenance{})},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, press("m"))
				for _, r := range "upgrade" {
					feed(m, press(string(r)))
				}
				feed(m, press("tab"))
			},
		},
		{
			name: "maintenance-off-dialog", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withMaintenance(&fakeMaintenance{})},
			setup: func(m *Model) {
				feed(m, snaps(inMaintenance(snapMaster("a")), snapReplica("b"))...)
				feed(m, press("m"))
			},
		},
		{
			name: "lab", w: 80, h: 24, profile: colorprofile.ANSI, verdict: healthyVerdict(),
			opts: []testOpt{withActions(nil, &fakeLab{})},
			setup: func(m *Model) {
				feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
				feed(m, press("L"))
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, _ := newTestModel(t, &fakeJudge{v: c.verdict}, c.opts...)
			m.Update(teaSize(c.w, c.h))
			c.setup(m)
			out := screen(t, m, c.w, c.h, c.profile)
			checkScreen(t, out, c.w, c.h)
			golden.RequireEqual(t, out)
		})
	}
}

// checkScreen holds every golden screen to the terminal's size.
func checkScreen(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) > h {
		t.Errorf("screen has %d lines, terminal %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Errorf("line %d is %d cells wide, terminal %d: %q", i+1, lw, w, ansi.Strip(l))
		}
	}
}

func withActions(sw Switchover, lab Lab) testOpt {
	return func(o *Options) {
		if sw != nil {
			o.Switchover = sw
		}
		if lab != nil {
			o.Lab = lab
		}
	}
}

// TestViewAnySize resizes one busy console through many terminal sizes,
// tiny ones included: every screen must fit and nothing may panic.
func TestViewAnySize(t *testing.T) {
	sw := &fakeSwitchover{checks: passingChecks()}
	m, _ := newTestModel(t, &fakeJudge{v: Verdict{Problems: []string{"two Redis masters", "VIP on replica"}}}, withActions(sw, &fakeLab{}))
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	feed(m, eventsMsg{events: failoverEvents()})
	for _, mode := range []string{"timeline", "logs", "help", "switchover"} {
		switch mode {
		case "logs":
			feed(m, press("tab"))
		case "help":
			feed(m, press("?"))
		case "switchover":
			feed(m, press("esc"), press("s"), preflightMsg{id: 1, target: "b", checks: passingChecks()})
		}
		for _, w := range []int{1, 20, 40, 75, 76, 80, 139, 140, 200} {
			for _, h := range []int{1, 5, 10, 24, 50} {
				out := screen(t, m, w, h, colorprofile.ANSI)
				t.Run(fmt.Sprintf("%s/%dx%d", mode, w, h), func(t *testing.T) { checkScreen(t, out, w, h) })
			}
		}
	}
}

// TestWideRunesKeepColumns: a wide rune (CJK, emoji) counts two cells, so a
// check's name or a node's name with one must not push the next column
// (fmt's %-*s pads by runes and did).
func TestWideRunesKeepColumns(t *testing.T) {
	t.Run("preflight checks", func(t *testing.T) {
		m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withActions(&fakeSwitchover{}, nil))
		feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
		checks := []Check{
			{Name: "ssh reachable", Value: "<v>", Pass: true},
			{Name: "主机 b 可达", Value: "<v>", Pass: true},
			{Name: "🚀 lag", Value: "<v>", Pass: true},
		}
		feed(m, press("s"), preflightMsg{id: 1, target: "b", checks: checks})
		requireAligned(t, screen(t, m, 80, 24, colorprofile.ASCII), "<v>", len(checks))
	})
	t.Run("timeline nodes", func(t *testing.T) {
		m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, func(o *Options) {
			o.Nodes = []NodeInfo{{Name: "a", Host: "198.51.100.11"}, {Name: "节", Host: "198.51.100.12"}}
		})
		var evs []logs.Event
		for _, n := range []string{"a", "节"} {
			evs = append(evs, logs.Event{Node: n, Source: logs.SourceState, Time: t0, Kind: logs.KindHook, Message: "<v>"})
		}
		feed(m, eventsMsg{events: evs})
		requireAligned(t, screen(t, m, 80, 24, colorprofile.ASCII), "<v>", len(evs))
	})
}

// requireAligned checks that mark starts at the same cell on the n lines of
// screen that hold it.
func requireAligned(t *testing.T, screen, mark string, n int) {
	t.Helper()
	cols := map[int]bool{}
	found := 0
	for _, l := range strings.Split(ansi.Strip(screen), "\n") {
		if i := strings.Index(l, mark); i >= 0 {
			cols[ansi.StringWidth(l[:i])] = true
			found++
		}
	}
	if found != n || len(cols) != 1 {
		t.Errorf("%q on %d lines at cells %v, want %d lines at one cell:\n%s", mark, found, cols, n, ansi.Strip(screen))
	}
}

// TestHelpListsDialogKeys: the dialogs' keys are bindings like the
// console's, so `?` lists them, and only while their dialog is offered.
func TestHelpListsDialogKeys(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []testOpt
		want bool
	}{
		{"lab offered", []testOpt{withActions(nil, &fakeLab{})}, true},
		{"no lab", nil, false},
		{"read-only", []testOpt{withActions(nil, &fakeLab{}), func(o *Options) { o.ReadOnly = true }}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, c.opts...)
			feed(m, press("?"))
			view := ansi.Strip(screen(t, m, 80, 24, colorprofile.ASCII))
			for _, b := range m.keys.LabDialog.ShortHelp() {
				h := b.Help()
				if got := strings.Contains(view, h.Key+" "+h.Desc); got != c.want {
					t.Errorf("help lists the lab's %q: %v, want %v:\n%s", h.Key+" "+h.Desc, got, c.want, view)
				}
			}
		})
	}
}

// TestLayoutMatchesDrawing: the layout is computed without drawing, so it
// is held here to what the drawing measures, through the states that
// change it.
func TestLayoutMatchesDrawing(t *testing.T) {
	j := &fakeJudge{v: healthyVerdict()}
	m, _ := newTestModel(t, j)
	for _, step := range []struct {
		name string
		do   func()
	}{
		{"before the first poll", func() {}},
		{"healthy", func() { feed(m, snaps(snapMaster("a"), snapReplica("b"))...) }},
		{"two problems", func() {
			j.v = Verdict{Problems: []string{"one", "two"}}
			feed(m, snaps(snapMaster("a"))...)
		}},
		{"four problems", func() {
			j.v = Verdict{Problems: []string{"one", "two", "three", "four"}}
			feed(m, snaps(snapMaster("a"))...)
		}},
		{"zoomed", func() { feed(m, press("z")) }},
	} {
		step.do()
		for _, w := range []int{1, 40, 75, 76, 80, 140, 200} {
			m.Update(teaSize(w, 60))
			l := m.layout
			if got := lipgloss.Height(m.headerView()); got != l.header {
				t.Errorf("%s at width %d: header drawn in %d lines, laid out in %d", step.name, w, got, l.header)
			}
			panels := 0
			if p := m.panelsView(); p != "" {
				panels = lipgloss.Height(p)
			}
			if panels != l.panels {
				t.Errorf("%s at width %d: panels drawn in %d lines, laid out in %d", step.name, w, panels, l.panels)
			}
			if got := lipgloss.Height(m.View().Content); got != 60 {
				t.Errorf("%s at width %d: screen of %d lines, terminal 60", step.name, w, got)
			}
		}
	}
}
