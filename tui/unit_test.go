package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

func TestRing(t *testing.T) {
	r := newRing[int](3)
	for i := range 5 {
		r.Push(i)
	}
	if r.Len() != 3 || r.At(0) != 2 || r.At(2) != 4 {
		t.Fatalf("ring holds %d items, oldest %d, newest %d; want 3, 2, 4", r.Len(), r.At(0), r.At(2))
	}
	if r.FirstSeq() != 2 || r.NextSeq() != 5 {
		t.Errorf("seqs %d..%d, want 2..5", r.FirstSeq(), r.NextSeq())
	}
	if r.Index(0) != 0 || r.Index(3) != 1 || r.Index(99) != 2 {
		t.Errorf("Index clamps wrong: %d %d %d", r.Index(0), r.Index(3), r.Index(99))
	}
}

func lines(p *logPane, n int) string {
	var out []string
	for _, e := range p.visible(n) {
		out = append(out, e.ev.Message)
	}
	return strings.Join(out, ",")
}

func fill(p *logPane, from, to int) {
	for i := from; i < to; i++ {
		p.push(entry{ev: logs.Event{Message: fmt.Sprintf("m%d", i)}})
	}
}

func TestLogPane(t *testing.T) {
	p := newLogPane("t", 10)
	fill(p, 0, 20) // holds m10..m19
	if got := lines(p, 3); got != "m17,m18,m19" {
		t.Fatalf("following shows %s", got)
	}
	p.scroll(-2)
	if got := lines(p, 3); got != "m15,m16,m17" {
		t.Fatalf("after scrolling up 2: %s", got)
	}
	fill(p, 20, 23) // paused: the view stays put
	if got := lines(p, 3); got != "m15,m16,m17" || p.behind() != 5 {
		t.Fatalf("paused view moved to %s, %d behind", got, p.behind())
	}
	fill(p, 23, 30) // m17 falls out of the ring: the view clamps to the oldest
	if got := lines(p, 3); got != "m20" {
		t.Fatalf("evicted anchor shows %s", got)
	}
	p.top(3)
	if got := lines(p, 3); got != "m20,m21,m22" {
		t.Fatalf("top shows %s", got)
	}
	p.filter = "m2"
	p.setFollow(true)
	if got := lines(p, 20); got != "m20,m21,m22,m23,m24,m25,m26,m27,m28,m29" {
		t.Fatalf("filter m2 shows %s", got)
	}
	p.filter = "m25"
	p.scroll(-5) // nothing older matches: stays on the only match
	if got := lines(p, 3); got != "m25" {
		t.Fatalf("filtered scroll shows %s", got)
	}
}

func TestExplain(t *testing.T) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	script := func(node string, ms int, ok bool) logs.Event {
		return logs.Event{Node: node, Time: at(ms), Kind: logs.KindScript, OK: ok}
	}
	trans := func(node, state string, ms int) logs.Event {
		return logs.Event{Node: node, Time: at(ms), Kind: logs.KindTransition, State: state}
	}
	cases := []struct {
		name   string
		events []logs.Event // arrival order
		want   string       // reason of the last transition in time order
	}{
		{"check failure", []logs.Event{script("a", 0, false), trans("a", "FAULT", 100), trans("b", "MASTER", 300)},
			"check failed on a, a FAULT, b MASTER after 0.3 s"},
		{"cause arrives after effect", []logs.Event{trans("b", "MASTER", 300), trans("a", "FAULT", 100), script("a", 0, false)},
			"check failed on a, a FAULT, b MASTER after 0.3 s"},
		{"repeated failures said once", []logs.Event{script("a", 0, false), script("a", 50, false), trans("b", "MASTER", 1000)},
			"check failed on a, b MASTER after 1.0 s"},
		{"another node's passing check is no cause", []logs.Event{script("a", 0, true), trans("b", "MASTER", 300)},
			"b MASTER"},
		{"own passing check explains recovery", []logs.Event{script("a", 0, false), trans("a", "FAULT", 100), script("a", 5000, true), trans("a", "BACKUP", 5100)},
			"check passed on a, a BACKUP after 0.1 s"},
		{"peer silent", []logs.Event{trans("b", "MASTER", 300)}, "b MASTER"},
		{"keepalived stopped", []logs.Event{
			{Node: "a", Time: at(0), Kind: logs.KindDaemon, State: "stop", Message: "keepalived stopping"},
			trans("a", "STOP", 10), trans("b", "MASTER", 800)},
			"keepalived stopping on a, a STOP, b MASTER after 0.8 s"},
		{"drained by the track file", []logs.Event{
			{Node: "a", Time: at(0), Kind: logs.KindScript, OK: false, Message: "track file drain puts VI_REDIS in FAULT"},
			trans("a", "FAULT", 5), trans("b", "MASTER", 210)},
			"a drained, a FAULT, b MASTER after 0.2 s"},
		{"keepalived 1.x announces then enters", []logs.Event{
			script("a", 0, false), trans("a", "FAULT", 100), trans("b", "MASTER", 250), trans("b", "MASTER", 300)},
			"check failed on a, a FAULT, b MASTER after 0.3 s"},
		{"the peer's start-up BACKUP is no cause", []logs.Event{trans("b", "BACKUP", 0), script("a", 2000, false), trans("a", "FAULT", 2100)},
			"check failed on a, a FAULT after 0.1 s"},
		{"daemon start is no cause", []logs.Event{
			{Node: "a", Time: at(0), Kind: logs.KindDaemon, State: "start", Message: "keepalived starting"},
			trans("b", "MASTER", 800)},
			"b MASTER"},
		{"too old to be the cause", []logs.Event{script("a", 0, false), trans("b", "MASTER", 20000)}, "b MASTER"},
		{"own earlier transition ends the story", []logs.Event{script("a", 0, false), trans("b", "BACKUP", 100), trans("b", "MASTER", 300)},
			"b MASTER"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newLogPane("timeline", 100)
			for _, e := range c.events {
				addToTimeline(p, e)
			}
			last := p.lines.At(p.lines.Len() - 1)
			if last.reason != c.want {
				t.Errorf("reason %q, want %q", last.reason, c.want)
			}
		})
	}
}

func TestBar(t *testing.T) {
	cases := []struct {
		v, max int64
		want   string
	}{
		{0, 100, "▕      ▏"},
		{1, 1 << 20, "▕▏     ▏"},
		{50, 100, "▕███   ▏"},
		{100, 100, "▕██████▏"},
		{500, 100, "▕██████▏"},
	}
	for _, c := range cases {
		if got := bar(c.v, c.max, 6); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.v, c.max, got, c.want)
		}
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:              "0s",
		1500 * time.Millisecond:   "1s",
		133 * time.Second:         "2m13s",
		3*time.Hour + time.Minute: "3h01m",
		72 * time.Hour:            "3d",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestStaleTick(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	feed(m, snaps(snapMaster("a"))...)
	_, p := m.panel("a")
	old := p.gen
	feed(m, snaps(snapMaster("a"))...)
	feed(m, staleTickMsg{node: "a", gen: old})
	if p.stale {
		t.Fatal("a stale tick from an earlier snapshot marked the node stale")
	}
	feed(m, staleTickMsg{node: "a", gen: p.gen})
	if !p.stale {
		t.Fatal("the current stale tick did not mark the node stale")
	}
	if view := screen(t, m, 80, 24, 0); !strings.Contains(view, "no poll for a while") {
		t.Errorf("stale node not shown as such:\n%s", view)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	b := newFakeBackend()
	j := (&fakeJudge{}).judge
	for name, o := range map[string]Options{
		"one node":   {Nodes: []NodeInfo{{Name: "a"}}, Backend: b, Judge: j},
		"no backend": {Nodes: []NodeInfo{{Name: "a"}, {Name: "b"}}, Judge: j},
		"no judge":   {Nodes: []NodeInfo{{Name: "a"}, {Name: "b"}}, Backend: b},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestOnTimeline(t *testing.T) {
	for _, c := range []struct {
		e    logs.Event
		want bool
	}{
		{logs.Event{Kind: logs.KindRaw}, false},
		{logs.Event{Kind: logs.KindRaw, Level: logs.LevelWarn}, true},
		{logs.Event{Kind: logs.KindTransition, Source: logs.SourceSyslog}, true},
		{logs.Event{Kind: logs.KindHook, Source: logs.SourceState}, true},
		{logs.Event{Kind: logs.KindHook, Source: logs.SourceSyslog}, false}, // the syslog copy
		{logs.Event{Kind: logs.KindHook, Source: logs.SourceJournal}, false},
	} {
		if got := onTimeline(&c.e); got != c.want {
			t.Errorf("%s from %s at level %v: on timeline %v, want %v", c.e.Kind, c.e.Source, c.e.Level, got, c.want)
		}
	}
}

func TestMouseWheelScrolls(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, func(o *Options) { o.Mouse = true })
	feed(m, eventsMsg{events: failoverEvents()})
	feed(m, tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.timeline.follow {
		t.Fatal("wheel up did not pause the timeline to scroll it")
	}
	if v := m.View(); v.MouseMode != tea.MouseModeCellMotion {
		t.Errorf("mouse mode %v with Options.Mouse", v.MouseMode)
	}
}

func TestSameLook(t *testing.T) {
	a := snapMaster("a")
	b := a
	b.Time = a.Time.Add(100 * time.Millisecond).Truncate(time.Second) // same second
	b.Took = a.Took + 5*time.Millisecond
	if !a.Time.Truncate(time.Second).Equal(b.Time) {
		t.Fatal("fixture: not the same second")
	}
	if !sameLook(a, b) {
		t.Error("a fast poll in the same second changed the panel")
	}
	b.Took = time.Second
	if sameLook(a, b) {
		t.Error("a slow poll did not change the panel")
	}
	c := a
	c.Redis.Info.Replicas = append([]replication.Replica(nil), a.Redis.Info.Replicas...)
	c.Redis.Info.Replicas[0].Offset++
	if sameLook(a, c) {
		t.Error("a replica's new offset did not change the panel")
	}
}

// TestHostileLogLine: an escape sequence written to a node's syslog reaches
// the screen as harmless text.
func TestHostileLogLine(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	evil := logs.Event{Node: "a", Source: logs.SourceSyslog, Time: t0, Kind: logs.KindRaw, Level: logs.LevelError,
		Raw: "x\x1b]0;pwned\x07\x1b[2J\nsecond line", Message: "x\x1b]0;pwned\x07"}
	feed(m, eventsMsg{events: []logs.Event{evil}}, press("tab"))
	m.Update(teaSize(80, 24))
	view := m.View().Content // raw, as the renderer gets it
	if strings.Contains(view, "\x1b]0;") || strings.Contains(view, "\x1b[2J") || strings.Contains(view, "\x07") {
		t.Fatalf("a log line's escape sequence reached the screen: %q", view)
	}
	if !strings.Contains(view, "\uFFFD]0;pwned\uFFFD\uFFFD[2J second line") {
		t.Errorf("the hostile line is not shown as text:\n%s", view)
	}
}

// FuzzLogLine feeds arbitrary log text to every pane: the screen must keep
// to the terminal's size, and only the console's own styling may reach it
// as escape sequences (SGR, ending in 'm').
func FuzzLogLine(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[31mred", "\x1b]0;t\x07", "中文 wide", "\xff\xfe", "a\nb\rc\td", "\u200b\u0301combining"} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, text string, kind uint8) {
		m, _ := newTestModel(t, &fakeJudge{v: Verdict{Problems: []string{text}}})
		kinds := []logs.Kind{logs.KindRaw, logs.KindTransition, logs.KindHook, logs.KindScript}
		e := logs.Event{Node: "a", Source: logs.SourceSyslog, Time: t0, Kind: kinds[int(kind)%len(kinds)],
			Level: logs.Level(kind % 3), State: text, Raw: text, Message: text}
		feed(m, snaps(snapMaster("a"))...)
		feed(m, eventsMsg{events: []logs.Event{e}})
		for _, p := range []string{"", "tab"} {
			if p != "" {
				feed(m, press(p))
			}
			m.Update(teaSize(80, 24))
			out := m.View().Content
			checkScreen(t, out, 80, 24)
			for i := 0; i < len(out); i++ {
				if out[i] != 0x1b {
					continue
				}
				j := i + 1
				if j >= len(out) || out[j] != '[' {
					t.Fatalf("non-CSI escape on screen at %d: %q", i, out[i:min(i+12, len(out))])
				}
				for j++; j < len(out) && (out[j] >= '0' && out[j] <= '9' || out[j] == ';' || out[j] == ':'); j++ {
				}
				if j >= len(out) || out[j] != 'm' {
					t.Fatalf("escape other than SGR on screen at %d: %q", i, out[i:min(i+12, len(out))])
				}
			}
		}
	})
}

// TestLastSeenAges: an unreachable node's "last seen" follows the clock,
// though nothing else arrives to redraw its panel.
func TestLastSeenAges(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	good := snapReplica("b")
	good.Time = t0
	feed(m, snaps(snapMaster("a"), good)...)
	feed(m, snaps(nodes.Snapshot{Node: "b", Time: t0, Conn: nodes.ConnReconnecting})...)
	for _, d := range []time.Duration{3 * time.Second, 42 * time.Second} {
		feed(m, clockMsg(t0.Add(d)))
		want := fmt.Sprintf("last seen %s ago", ago(d))
		if view := screen(t, m, 80, 24, colorprofile.ASCII); !strings.Contains(view, want) {
			t.Fatalf("after %v the panel does not say %q:\n%s", d, want, view)
		}
	}
}

// TestSwitchoverDialog drives the dialog on its own: a late answer to an
// earlier dialog is dropped, and closing returns no dialog and leaves the
// footer a line.
func TestSwitchoverDialog(t *testing.T) {
	st := NewStyles(true)
	d := newSwitchoverDialog(context.Background(), &fakeSwitchover{}, DefaultKeyMap().SwitchoverDialog, &st, true, 2, "b")
	d, _ = d.Update(preflightMsg{id: 1, target: "b", checks: passingChecks()})
	if d.phase != swPreflight {
		t.Fatalf("an earlier dialog's preflight moved this one to phase %d", d.phase)
	}
	d, _ = d.Update(preflightMsg{id: 2, target: "b", checks: passingChecks()})
	if d.phase != swConfirm {
		t.Fatalf("after its preflight passed: phase %d, want the prompt", d.phase)
	}
	if closed, _ := d.Update(press("esc")); closed != nil || d.note == nil || d.note.text != "switchover cancelled" {
		t.Errorf("esc at the prompt: dialog %v, note %+v", closed != nil, d.note)
	}
}

// TestLagAge: the replica's lag in seconds is how old its data is, read
// from the master's polled offsets: 0 on an idle pair in sync, however long
// since the last byte (master_last_io_seconds_ago would climb there).
func TestLagAge(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	master := func(at time.Duration, replid string, offset int64) nodes.Snapshot {
		return nodes.Snapshot{Time: t0.Add(at), Redis: nodes.Redis{Up: true, Info: replication.Info{Role: replication.RoleMaster, ReplID: replid, MasterReplOffset: offset}}}
	}
	var h offsetHistory
	for i, off := range []int64{1000, 1000, 2000, 3000, 4000} {
		h.add(master(time.Duration(i)*500*time.Millisecond, "r1", off))
	}
	h.add(nodes.Snapshot{Time: t0.Add(3 * time.Second), Redis: nodes.Redis{Up: true, Info: replication.Info{Role: replication.RoleReplica}}}) // not a master: ignored
	for _, c := range []struct {
		name   string
		replid string
		offset int64
		at     time.Duration
		age    time.Duration
		known  bool
	}{
		{"has all of the last poll", "r1", 4000, 2100 * time.Millisecond, 0, true},
		{"ahead of the last poll", "r1", 4500, 2100 * time.Millisecond, 0, true},
		{"behind: had all of the poll at 1 s", "r1", 2500, 2100 * time.Millisecond, 1100 * time.Millisecond, true},
		{"read before the later polls", "r1", 2000, 1 * time.Second, 0, true},
		{"behind every poll", "r1", 500, 2100 * time.Millisecond, 2100 * time.Millisecond, false},
		{"another history", "r2", 4000, 2100 * time.Millisecond, 0, false},
	} {
		age, known := h.age(c.replid, c.offset, t0.Add(c.at))
		if age != c.age || known != c.known {
			t.Errorf("%s: age %s known %v, want %s %v", c.name, age, known, c.age, c.known)
		}
	}
	// Idle and in sync for a minute: still 0, not the seconds since the
	// last byte.
	var idle offsetHistory
	for i := range 120 {
		idle.add(master(time.Duration(i)*500*time.Millisecond, "r1", 7000))
	}
	if age, known := idle.age("r1", 7000, t0.Add(time.Minute)); age != 0 || !known {
		t.Errorf("idle pair in sync: age %s known %v, want 0", age, known)
	}
	if len(idle.samples) != historyLen {
		t.Errorf("history holds %d samples, want at most %d", len(idle.samples), historyLen)
	}
}

// View draws again only when something changed, and what it hands back is
// always what a fresh drawing would show, whether or not View ran between
// messages (Bubble Tea calls it after each; the fleet view does not).
func TestFrameKeptUntilChange(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	m.Update(teaSize(100, 30))
	later := snapMaster("a")
	later.Time = later.Time.Add(2 * time.Second) // the title shows the poll's second
	quietIO := snapReplica("b")
	quietIO.Redis.Info.LastIOSecs = 7 // not shown
	demoted := snapReplica("a")
	steps := []struct {
		name  string
		msgs  []tea.Msg
		quiet bool // nothing on screen changes
	}{
		{"first polls", snaps(snapMaster("a"), snapReplica("b")), false},
		{"same poll again", snaps(snapMaster("a")), true},
		{"same polls of both", snaps(snapMaster("a"), snapReplica("b")), true},
		{"an earlier snapshot's stale timer", []tea.Msg{staleTickMsg{node: "a", gen: -1}}, true},
		{"a field the panels do not show", snaps(quietIO), true},
		{"a later second", snaps(later), false},
		{"a change, then a poll that changes nothing", append(snaps(demoted), snaps(snapReplica("b"))...), false},
		{"log lines", []tea.Msg{eventsMsg{events: failoverEvents()}}, false},
		{"a key", []tea.Msg{press("tab")}, false},
	}
	for _, s := range steps {
		before := m.View().Content
		feed(m, s.msgs...)
		if m.dirty == s.quiet {
			t.Errorf("%s: dirty = %v, want %v", s.name, m.dirty, !s.quiet)
		}
		got, want := m.View().Content, m.render()
		if got != want {
			t.Fatalf("%s: View kept a stale frame:\n%s\nwant:\n%s", s.name, got, want)
		}
		if s.quiet && got != before {
			t.Errorf("%s: the screen changed:\n%s\nwas:\n%s", s.name, got, before)
		}
	}
}

// A poll that changes only the second in a panel's title puts the new
// time into the panels as drawn instead of drawing them again, and the
// screen is what drawing them again would show, side by side and stacked.
func TestPanelClockWithoutRedraw(t *testing.T) {
	for _, width := range []int{120, 60} {
		m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
		m.Update(teaSize(width, 40))
		feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
		_ = m.View()
		b := &m.panelBoxes
		if !b.byLine {
			t.Fatalf("width %d: the boxes do not join line by line", width)
		}
		drawn := &b.lines[0][0]
		later := snapMaster("a")
		later.Time = later.Time.Add(61 * time.Second)
		feed(m, snaps(later)...)
		got := m.View().Content
		if &b.lines[0][0] != drawn {
			t.Errorf("width %d: a new second drew the panels again", width)
		}
		want := later.Time.Format(clockLayout)
		if !strings.Contains(got, want) || strings.Contains(got, clockToken) {
			t.Errorf("width %d: the title does not show %s:\n%s", width, want, got)
		}
		m.panelBoxes = panelBoxes{}
		if fresh := m.render(); got != fresh {
			t.Errorf("width %d: with the time put in:\n%s\ndrawn again:\n%s", width, got, fresh)
		}
	}
}

// With the clock redrawing every second, a poll that changes only the
// second in its panel's title is drawn by the next tick, in one frame with
// the clock's; a poll that changes anything else is drawn at once.
func TestTimeOnlyPollWaitsForClock(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, func(o *Options) { o.Tick = time.Second })
	m.Update(teaSize(120, 40))
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	before := m.View().Content
	later := snapMaster("a")
	later.Time = later.Time.Add(3 * time.Second)
	feed(m, snaps(later)...)
	if got := m.View().Content; got != before {
		t.Errorf("a poll changing only its time was drawn before the clock:\n%s", got)
	}
	feed(m, clockMsg(t0.Add(3*time.Second)))
	if got := m.View().Content; !strings.Contains(got, later.Time.Format(clockLayout)) {
		t.Errorf("the clock's frame does not show the poll's time %s:\n%s", later.Time.Format(clockLayout), got)
	}
	down := snapMaster("a")
	down.Time = later.Time.Add(time.Second)
	down.Keepalived.State = "FAULT"
	feed(m, snaps(down)...)
	if got := m.View().Content; !strings.Contains(got, "FAULT") {
		t.Errorf("a poll with news was not drawn at once:\n%s", got)
	}
}
