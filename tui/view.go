package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// View draws the whole screen.
func (m *Model) View() tea.View {
	if m.dirty || m.frame == "" {
		m.frame, m.dirty = m.render(), false
	}
	v := tea.NewView(m.frame)
	v.AltScreen = true
	v.WindowTitle = "redkeep"
	if m.opts.Mouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	return v
}

func (m *Model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return "redkeep: starting…"
	}
	parts := []string{m.headerView()}
	if banner := m.bannerView(); banner != "" {
		parts = append([]string{banner}, parts...)
	}
	if panels := m.panelsView(); panels != "" {
		parts = append(parts, panels)
	}
	parts = append(parts, m.lowerView(), m.footerView())
	return clip(strings.Join(parts, "\n"), m.width, m.height)
}

// clip cuts the screen to the terminal, keeping the footer (the keys) on
// the last line when the terminal is too short for everything.
func clip(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = append(lines[:h-1], lines[len(lines)-1])
	}
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = ansi.Truncate(l, w, "…")
		}
	}
	return strings.Join(lines, "\n")
}

// padRight pads s with spaces to w cells. fmt's %-*s counts runes, so a
// wide rune (CJK, emoji) in a node's name or a check would push the rest
// of its line out of its column.
func padRight(s string, w int) string {
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// headerView is the pair at a glance: the verdict, who holds the VIP and
// who is master on the first line, whatever the width; the reasons for an
// unhealthy verdict (sentences) on up to two lines below it.
func (m *Model) headerView() string {
	st := &m.styles
	sep := st.Dim.Render(" │ ")
	var parts []string
	if m.width >= 100 {
		// The window title names the program; on a narrow screen the
		// columns are worth more.
		parts = append(parts, st.Title.Render("redkeep"))
	}
	v := m.verdict
	switch {
	case !m.judged:
		parts = append(parts, st.Dim.Render("waiting for the first poll"))
	case v.Healthy:
		parts = append(parts, st.Good.Render("● healthy"))
	default:
		parts = append(parts, st.Bad.Render(fmt.Sprintf("✖ NOT HEALTHY (%d)", max(len(v.Problems), 1))))
	}
	vip := "VIP " + m.opts.VIP
	if m.judged {
		if v.VIPHolder != "" {
			vip += " on " + st.Bold.Render(v.VIPHolder)
		} else {
			vip += " " + st.Bad.Render("on no node")
		}
	}
	parts = append(parts, vip)
	if m.judged {
		if v.Master != "" {
			parts = append(parts, "master "+st.Bold.Render(v.Master))
		} else {
			parts = append(parts, st.Bad.Render("no single master"))
		}
	}
	if !m.lastTransition.IsZero() {
		parts = append(parts, st.Dim.Render("last transition "+ago(m.now.Sub(m.lastTransition))+" ago"))
	}
	lines := []string{strings.Join(parts, sep)}
	for _, p := range m.headerProblems() {
		lines = append(lines, st.Bad.Render("  "+p))
	}
	return strings.Join(lines, "\n")
}

// headerProblems are the lines below the header's first: the reasons for
// an unhealthy verdict, the second line counting and naming the rest.
func (m *Model) headerProblems() []string {
	ps := m.verdict.Problems
	if !m.judged || m.verdict.Healthy || len(ps) == 0 {
		return nil
	}
	if len(ps) <= 2 {
		return ps
	}
	more := fmt.Sprintf(" (+%d more: %s)", len(ps)-2, strings.Join(ps[2:], "; "))
	return []string{ps[0], ps[1] + more}
}

// panelsView draws the node panels. They change with snapshots and the
// clock, not with log lines, so the drawing is kept until one of those
// changes: under heavy logging most redraws reuse it.
func (m *Model) panelsView() string {
	if m.zoom {
		return ""
	}
	key := panelsKey{width: m.width, version: m.panelsVersion}
	for _, p := range m.panels {
		if p.seen && !p.live() {
			key.now = m.now // "last seen 5s ago" ages with the clock
		}
	}
	if m.panelsCache != "" && key == m.panelsKey {
		return m.panelsCache
	}
	m.panelsKey, m.panelsCache = key, m.drawPanels()
	return m.panelsCache
}

// panelsKey is everything the panels' drawing depends on besides the
// panels themselves, whose changes bump panelsVersion.
type panelsKey struct {
	width   int
	now     time.Time
	version int
}

func (m *Model) drawPanels() string {
	contents, clocks := m.panelContents()
	b := &m.panelBoxes
	if !b.drawnFrom(contents, &m.layout) {
		b.draw(&m.styles, contents, &m.layout)
	}
	b.shown = clocks
	return b.withClocks(&m.styles, clocks)
}

// panelContents are the node panels' contents, with clockToken for the
// time of the latest poll in their titles, and those times ("" where a
// title shows none).
func (m *Model) panelContents() (contents, clocks []string) {
	contents = make([]string, len(m.panels))
	clocks = make([]string, len(m.panels))
	for i, p := range m.panels {
		var peer *nodes.Snapshot
		q := m.panels[1-i]
		if q.seen {
			s, _ := q.current()
			peer = &s
		}
		content, clocked := p.view(&m.styles, m.layout.panelContentW[i], peer, &q.offsets, m.opts.LagWarn, m.now)
		contents[i] = content
		if clocked {
			clocks[i] = p.last.Time.Format(clockLayout)
		}
	}
	return contents, clocks
}

// panelBoxes are the node panels as last drawn, their borders included,
// with clockToken in the titles of those showing the time of a poll. A
// poll of a quiet pair changes that time and nothing else: the time is put
// into the drawing, not drawn again with the boxes around it, which cost
// most of a frame.
type panelBoxes struct {
	// contents and the layout's panel widths are what the boxes were drawn from.
	contents   []string
	panelW     []int
	sideBySide bool
	// lines are each box's lines; clock is the byte index of clockToken,
	// drawn, in each box's title line, -1 when it shows no time.
	lines [][]string
	clock []int
	// byLine says the boxes join line by line (join) as lipgloss joins
	// them; when it does not (it padded something), lipgloss joins them.
	byLine bool
	// shown are the times put into the titles last.
	shown []string
}

// titleLine is the line of a box holding its title: the first inside the
// border.
const titleLine = 1

func (b *panelBoxes) drawnFrom(contents []string, l *layout) bool {
	return b.lines != nil && slices.Equal(b.contents, contents) && slices.Equal(b.panelW, l.panelW) && b.sideBySide == l.sideBySide
}

// draw draws the boxes around contents.
func (b *panelBoxes) draw(st *Styles, contents []string, l *layout) {
	b.contents, b.panelW, b.sideBySide = slices.Clone(contents), slices.Clone(l.panelW), l.sideBySide
	boxes := make([]string, len(contents))
	b.lines, b.clock = make([][]string, len(contents)), make([]int, len(contents))
	token := st.Dim.Render(clockToken)
	for i, c := range contents {
		boxes[i] = st.Panel.Width(l.panelW[i]).Render(c)
		b.lines[i] = strings.Split(boxes[i], "\n")
		b.clock[i] = -1
		if len(b.lines[i]) > titleLine {
			b.clock[i] = strings.LastIndex(b.lines[i][titleLine], token)
		}
	}
	b.byLine = b.join(b.lines) == b.lipglossJoin(b.lines)
}

// lipglossJoin joins the boxes as lipgloss does.
func (b *panelBoxes) lipglossJoin(lines [][]string) string {
	boxes := make([]string, len(lines))
	for i, ls := range lines {
		boxes[i] = strings.Join(ls, "\n")
	}
	if b.sideBySide {
		return lipgloss.JoinHorizontal(lipgloss.Top, boxes...)
	}
	return lipgloss.JoinVertical(lipgloss.Left, boxes...)
}

// join joins the boxes' lines as lipgloss does when they are as tall and
// each as wide throughout: side by side line by line, else one below the
// other.
func (b *panelBoxes) join(lines [][]string) string {
	if !b.sideBySide {
		all := make([]string, 0, len(lines)*(panelRows+2))
		for _, ls := range lines {
			all = append(all, ls...)
		}
		return strings.Join(all, "\n")
	}
	var s strings.Builder
	for r := range lines[0] {
		if r > 0 {
			s.WriteByte('\n')
		}
		for _, ls := range lines {
			if r < len(ls) {
				s.WriteString(ls[r])
			}
		}
	}
	return s.String()
}

// withClocks is the drawing with each box's time (clocks[i], "" for none)
// in its title.
// The boxes drawn with clockToken and with a time differ only there:
// both are as wide, in the same style.
func (b *panelBoxes) withClocks(st *Styles, clocks []string) string {
	token := st.Dim.Render(clockToken)
	lines := slices.Clone(b.lines)
	for i, at := range b.clock {
		if at < 0 || clocks[i] == "" {
			continue
		}
		box := slices.Clone(lines[i])
		title := box[titleLine]
		box[titleLine] = title[:at] + st.Dim.Render(clocks[i]) + title[at+len(token):]
		lines[i] = box
	}
	if !b.byLine {
		return b.lipglossJoin(lines)
	}
	return b.join(lines)
}

// lowerView is the log area, or an open dialog or the help in its place.
func (m *Model) lowerView() string {
	switch {
	case m.sw != nil:
		return m.box(m.sw.View())
	case m.lab != nil:
		return m.box(m.lab.View())
	case m.maint != nil:
		return m.box(m.maint.View())
	case m.hist != nil:
		return m.box(m.hist.view(m))
	case m.showHelp:
		return m.box(m.helpView())
	}
	return m.logsView()
}

// helpView lists the console's keys, then those of each dialog it offers.
func (m *Model) helpView() string {
	st := &m.styles
	lines := []string{st.Title.Render("Keys"), m.help.FullHelpView(m.keys.FullHelp())}
	dialogs := []struct {
		name string
		on   bool
		keys help.KeyMap
	}{
		{"switchover", m.keys.Switchover.Enabled(), m.keys.SwitchoverDialog},
		{"maint mode", m.keys.Maintenance.Enabled(), m.keys.MaintenanceDialog},
		{"lab", m.keys.Lab.Enabled(), m.keys.LabDialog},
		{"history", m.keys.History.Enabled(), m.keys.HistoryView},
	}
	dh := m.help
	dh.SetWidth(m.layout.dialogHelpW)
	for _, d := range dialogs {
		if d.on {
			lines = append(lines, st.Title.Render(padRight(d.name, helpLabelW))+dh.ShortHelpView(d.keys.ShortHelp()))
		}
	}
	return strings.Join(lines, "\n")
}

// box frames a dialog's content in the lower half, cut to the room inside.
func (m *Model) box(content string) string {
	l := &m.layout
	lines := strings.Split(content, "\n")
	if len(lines) > l.dialogH {
		lines = lines[:max(l.dialogH, 1)]
	}
	return m.styles.Dialog.Width(m.width).Height(l.lower).Render(strings.Join(lines, "\n"))
}

func (m *Model) tabsView() string {
	st := &m.styles
	names := []string{"timeline"}
	for _, p := range m.panels {
		names = append(names, p.name+" logs")
	}
	var tabs []string
	for i, n := range names {
		if pane(i) == m.pane {
			tabs = append(tabs, st.TabOn.Render(n))
		} else {
			tabs = append(tabs, st.Tab.Render(n))
		}
	}
	line := strings.Join(tabs, "")
	f := m.focused()
	if f.follow {
		line += " " + st.Good.Render("following")
	} else {
		line += " " + st.Warn.Render(fmt.Sprintf("paused, %d newer", f.behind()))
	}
	switch {
	case m.filtering:
		line += "  " + m.filter.View()
	case f.filter != "":
		line += "  " + st.Accent.Render("/"+f.filter) + st.Dim.Render(" (esc clears)")
	}
	return line
}

func (m *Model) logsView() string {
	rows, cols := m.layout.logRows, m.layout.logCols
	tabs := m.tabsView()
	switch {
	case m.pane == paneTimeline:
		return tabs + "\n" + m.paneLines(m.timeline, m.width, rows, m.timelineLine)
	case cols != nil:
		colW := cols[0]
		a := m.paneLines(m.nodeLogs[0], colW, rows, m.logLine)
		b := m.paneLines(m.nodeLogs[1], cols[1], rows, m.logLine)
		sep := strings.TrimSuffix(strings.Repeat(m.styles.Dim.Render("│")+"\n", rows), "\n")
		return tabs + "\n" + lipgloss.JoinHorizontal(lipgloss.Top, lipgloss.NewStyle().Width(colW).Render(a), sep, b)
	default:
		return tabs + "\n" + m.paneLines(m.focused(), m.width, rows, m.logLine)
	}
}

// paneLines renders rows lines of p at width w, padded so the layout below
// does not jump while a pane fills up.
func (m *Model) paneLines(p *logPane, w, rows int, line func(*entry) string) string {
	vis := p.visible(rows)
	out := make([]string, 0, rows)
	if len(vis) == 0 {
		msg := "no lines yet"
		if p == m.timeline {
			msg = "no transitions or warnings yet (tab: the nodes' logs)"
		}
		if p.filter != "" {
			msg = "no lines match /" + p.filter
		}
		out = append(out, m.styles.Dim.Render(msg))
	}
	for _, e := range vis {
		out = append(out, ansi.Truncate(line(e), w, "…"))
	}
	for len(out) < rows {
		out = append(out, "")
	}
	return strings.Join(out, "\n")
}

// logLine is one log line of a node as the node wrote it, tagged with its
// source. Journal entries are JSON as read, so they show their time and
// message instead.
func (m *Model) logLine(e *entry) string {
	st := &m.styles
	text := e.ev.Raw
	var src string
	switch e.ev.Source {
	case logs.SourceSyslog:
		src = "sys"
	case logs.SourceState:
		src = "st "
	case logs.SourceRedis:
		src = "rds"
	case logs.SourceJournal:
		src = "jnl"
		text = e.ev.Time.Format("Jan _2 15:04:05") + " " + e.ev.Program + ": " + e.ev.Message
	default:
		src = "log"
	}
	if text == "" {
		text = e.ev.Message
	}
	return st.ink.dim.paint(src+" ") + m.levelInk(&e.ev).paint(text)
}

// timelineLine is one event of the merged timeline.
func (m *Model) timelineLine(e *entry) string {
	st := &m.styles
	prefix := st.ink.dim.paint(e.ev.Time.Format("15:04:05.000")) + " " + st.ink.bold.paint(padRight(e.ev.Node, 2)) + " "
	if e.ev.Kind == logs.KindTransition {
		return prefix + st.ink.transit.paint(e.ev.State) + "  " + e.reason
	}
	text := e.ev.Message
	if text == "" {
		text = e.ev.Raw
	}
	return prefix + m.levelInk(&e.ev).paint(text)
}

func (m *Model) levelInk(e *logs.Event) ink {
	st := &m.styles
	switch {
	case e.Level >= logs.LevelError:
		return st.ink.bad
	case e.Level == logs.LevelWarn:
		return st.ink.warn
	case e.Kind == logs.KindTransition || e.Kind == logs.KindRedisRole:
		return st.ink.transit
	}
	return ink{}
}

func (m *Model) footerView() string {
	st := &m.styles
	if m.status != "" {
		s := st.Good
		if m.statusBad {
			s = st.Bad
		}
		return ansi.Truncate(s.Render(m.status)+st.Dim.Render("  (esc clears · ? help)"), m.width, "…")
	}
	return m.help.ShortHelpView(m.keys.ShortHelp())
}
