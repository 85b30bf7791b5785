// Package tui is redkeep's operator console: a Bubble Tea program showing
// both nodes of the pair, their logs and a timeline of what happened, and
// driving switchovers (and, in the lab, failures) from the keyboard.
//
// The package does no I/O of its own: nodes, logs and actions reach it
// through the Backend, Switchover and Lab interfaces, read by tea.Cmds that
// return typed messages. Tests drive fakes through the same front door.
package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// NodeInfo names a node as the config does.
type NodeInfo struct {
	Name string
	Host string
}

// Options configure the console. Backend, Judge and exactly two Nodes are
// required; Switchover and Lab are optional actions.
type Options struct {
	Nodes   []NodeInfo
	VIP     string
	Backend Backend
	Judge   JudgeFunc

	// Switchover, when set (and not ReadOnly), offers planned switchovers.
	Switchover Switchover
	// Lab, when set (and not ReadOnly), offers the lab's failure cases.
	Lab Lab
	// Maintenance, when set (and not ReadOnly), offers turning maintenance
	// mode on and off.
	Maintenance Maintenance
	// History, when set, offers the pair's event history (key h); it
	// changes nothing, so --read-only keeps it.
	History History
	// ReadOnly hides every action.
	ReadOnly bool

	// LagWarn is the replica byte lag drawn as a full bar.
	LagWarn int64
	// StaleAfter is how long a node may send no snapshot before its panel
	// says so; a few poll intervals.
	StaleAfter time.Duration
	// LogLines bounds each node's log buffer; the timeline holds as many.
	LogLines int
	// Mouse enables the mouse wheel for scrolling (it stops the terminal's
	// own text selection, so it is off by default).
	Mouse bool
	// Context bounds every action the console starts.
	Context context.Context
	// Now is the clock; tests fix it.
	Now func() time.Time
	// Tick is how often the clock in the header advances; 0 means 1 s,
	// negative means never (tests).
	Tick time.Duration
}

// FPS is the consoles' frame rate, for tea.WithFPS. Bubble Tea's renderer
// wakes at its frame rate whether or not anything changed: at its default
// of 60 those wakeups alone were most of an idle console's CPU (about
// 0.2 ms each on a busy virtual machine), and a tenth of the fleet
// console's watching 50 pairs. A frame every 50 ms is still immediate to
// a typing operator.
const FPS = 20

// Defaults for Options.
const (
	DefaultLogLines   = 5000
	DefaultStaleAfter = 3 * time.Second
)

// pane is what the lower half of the screen shows.
type pane int

const (
	paneTimeline pane = iota
	paneNode0
	paneNode1
)

// Model is the console. Use New; the zero value is not usable.
type Model struct {
	opts   Options
	keys   KeyMap
	styles Styles
	dark   bool // the terminal's background, as it answered
	help   help.Model

	width, height int
	layout        layout
	now           time.Time

	panels []*nodePanel
	// panelsVersion counts changes to the panels; with the width and the
	// clock it says when panelsCache must be redrawn.
	panelsVersion int
	panelsKey     panelsKey
	panelsCache   string
	panelBoxes    panelBoxes
	verdict       Verdict
	judged        bool

	timeline *logPane
	nodeLogs []*logPane
	pane     pane
	// zoom gives the logs the node panels' rows too.
	zoom bool
	// lastTransition is the newest keepalived transition seen, in logs or
	// in the nodes' state files.
	lastTransition time.Time

	filtering bool
	filter    textinput.Model

	showHelp bool
	sw       *switchoverDialog
	swSeq    int
	lab      *labDialog
	hist     *historyView
	histSeq  int
	// labRunning is the lab command in flight, "" when none.
	labRunning string
	maint      *maintenanceDialog
	// maintRunning is the maintenance change in flight, "" when none.
	maintRunning string

	// status is the outcome of the last action, shown in the footer.
	status    string
	statusBad bool

	// frame is the screen View drew last, and dirty says something
	// changed since. View draws again only when dirty: Bubble Tea calls
	// View after every message, and most of a quiet pair's messages (a
	// poll that finds what the last one found, an earlier snapshot's
	// staleness timer) change nothing. Update counts every message as a
	// change unless its handler sets quiet.
	frame string
	dirty bool
	quiet bool
}

// New builds the console from opts.
func New(opts Options) (*Model, error) {
	switch {
	case len(opts.Nodes) != 2:
		return nil, fmt.Errorf("console: need exactly 2 nodes, got %d", len(opts.Nodes))
	case opts.Backend == nil:
		return nil, errors.New("console: no backend")
	case opts.Judge == nil:
		return nil, errors.New("console: no verdict function")
	}
	if opts.LogLines <= 0 {
		opts.LogLines = DefaultLogLines
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.LagWarn <= 0 {
		opts.LagWarn = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	if opts.Tick == 0 {
		opts.Tick = time.Second
	}
	m := &Model{
		opts:     opts,
		keys:     DefaultKeyMap(),
		help:     help.New(),
		now:      opts.Now(),
		timeline: newLogPane("timeline", opts.LogLines),
	}
	if opts.ReadOnly || opts.Switchover == nil {
		m.keys.Switchover.SetEnabled(false)
	}
	if opts.ReadOnly || opts.Lab == nil {
		m.keys.Lab.SetEnabled(false)
	}
	if opts.ReadOnly || opts.Maintenance == nil {
		m.keys.Maintenance.SetEnabled(false)
	}
	if opts.History == nil {
		m.keys.History.SetEnabled(false)
	}
	for _, n := range opts.Nodes {
		m.panels = append(m.panels, &nodePanel{name: n.Name, host: n.Host})
		m.nodeLogs = append(m.nodeLogs, newLogPane(n.Name+" logs", opts.LogLines))
	}
	m.filter = textinput.New()
	m.filter.Prompt = "/"
	m.filter.Placeholder = "filter"
	m.setStyles(true)
	m.relayout()
	return m, nil
}

// setStyles builds the styles once per terminal background.
func (m *Model) setStyles(dark bool) {
	m.dark = dark
	m.styles = NewStyles(dark)
	m.panelsVersion++
	m.panelBoxes = panelBoxes{} // their borders' colour
	m.dirty = true
	m.help.Styles = m.styles.Help
	ts := textinput.DefaultStyles(dark)
	ts.Cursor.Blink = false
	m.filter.SetStyles(ts)
}

// Init starts reading the streams and asks the terminal for its background.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor, waitEvents(m.opts.Backend.Events()), m.clock()}
	for _, p := range m.panels {
		cmds = append(cmds, waitSnapshot(p.name, m.opts.Backend.Snapshots(p.name)), m.staleTimer(p))
	}
	return tea.Batch(cmds...)
}

type clockMsg time.Time

func (m *Model) clock() tea.Cmd {
	if m.opts.Tick < 0 {
		return nil
	}
	now := m.opts.Now
	return tea.Tick(m.opts.Tick, func(time.Time) tea.Msg { return clockMsg(now()) })
}

// panelsLookSame reports whether the node panels drawn now would look as
// in the last frame, but perhaps for the times of the polls in their
// titles when the clock draws those within a second anyway: one frame a
// second for a quiet pair, not one per node and one for the clock.
func (m *Model) panelsLookSame() bool {
	switch {
	case m.zoom:
		return true // not on screen
	case m.width <= 0 || m.panelBoxes.lines == nil:
		return false
	}
	contents, clocks := m.panelContents()
	if !m.panelBoxes.drawnFrom(contents, &m.layout) {
		return false
	}
	return slices.Equal(clocks, m.panelBoxes.shown) || m.clockEverySecond()
}

// dialogOpen reports whether a dialog or the help fills the lower half.
func (m *Model) dialogOpen() bool {
	return m.sw != nil || m.lab != nil || m.maint != nil || m.hist != nil || m.showHelp
}

// clockEverySecond reports whether the clock redraws the screen at least
// once a second.
func (m *Model) clockEverySecond() bool {
	return m.opts.Tick > 0 && m.opts.Tick <= time.Second
}

func (m *Model) staleTimer(p *nodePanel) tea.Cmd {
	node, gen := p.name, p.gen
	return tea.Tick(m.opts.StaleAfter, func(time.Time) tea.Msg { return staleTickMsg{node: node, gen: gen} })
}

func (m *Model) panel(node string) (int, *nodePanel) {
	for i, p := range m.panels {
		if p.name == node {
			return i, p
		}
	}
	return -1, nil
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.quiet = false
	defer func() { m.dirty = m.dirty || !m.quiet }()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return m, nil
	case tea.BackgroundColorMsg:
		m.setStyles(msg.IsDark())
		return m, nil
	case clockMsg:
		m.now = time.Time(msg)
		m.relayout() // a maintenance banner goes when its deadline passes
		return m, m.clock()
	case snapshotMsg:
		return m, m.onSnapshot(msg)
	case snapshotsClosedMsg:
		return m, nil
	case staleTickMsg:
		if _, p := m.panel(msg.node); p != nil && msg.gen == p.gen {
			p.stale = true
			m.panelsVersion++
		} else {
			m.quiet = true // the timer of an earlier snapshot
		}
		return m, nil
	case eventsMsg:
		m.onEvents(msg.events)
		return m, waitEvents(m.opts.Backend.Events())
	case eventsClosedMsg:
		return m, nil
	case preflightMsg, switchoverStartedMsg, stepMsg, switchoverEndedMsg:
		return m, m.updateSwitchover(msg)
	case labDoneMsg:
		return m, m.onLabDone(msg)
	case maintenanceDoneMsg:
		return m, m.onMaintenanceDone(msg)
	case historyMsg:
		m.onHistory(msg)
		return m, nil
	case tea.MouseWheelMsg:
		switch msg.Mouse().Button {
		case tea.MouseWheelUp:
			m.focused().scroll(-3)
		case tea.MouseWheelDown:
			m.focused().scroll(3)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.onKey(msg)
	}
	if m.filtering {
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) onSnapshot(msg snapshotMsg) tea.Cmd {
	_, p := m.panel(msg.node)
	if p == nil {
		return nil
	}
	cleanSnapshot(&msg.snap)
	prevBanner := m.bannerView()
	if p.update(msg.snap) {
		m.panelsVersion++
	}
	prevVerdict, prevJudged, prevTransition := m.verdict, m.judged, m.lastTransition
	if since := msg.snap.Keepalived.Since; since.After(m.lastTransition) {
		m.lastTransition = since
	}
	snaps := make([]nodes.Snapshot, 0, len(m.panels))
	for _, q := range m.panels {
		if q.seen {
			snaps = append(snaps, q.last)
		}
	}
	m.verdict, m.judged = m.opts.Judge(snaps), true
	m.verdict.Problems = cleanAll(m.verdict.Problems)
	m.relayout() // the header grows or shrinks with the problems
	// A poll that finds what the last one found (the banner, the header
	// and the panels would look the same: most of a quiet pair's INFO
	// fields are not shown) changes nothing on screen, unless a dialog
	// showing the nodes' state is open.
	m.quiet = prevJudged && m.lastTransition.Equal(prevTransition) && sameVerdict(prevVerdict, m.verdict) &&
		m.bannerView() == prevBanner && m.panelsLookSame() && !m.dialogOpen()
	return tea.Batch(waitSnapshot(p.name, m.opts.Backend.Snapshots(p.name)), m.staleTimer(p))
}

// sameVerdict reports whether two verdicts draw the same header.
func sameVerdict(a, b Verdict) bool {
	return a.Healthy == b.Healthy && a.VIPHolder == b.VIPHolder && a.Master == b.Master && slices.Equal(a.Problems, b.Problems)
}

func (m *Model) onEvents(evs []logs.Event) {
	for _, e := range evs {
		cleanEvent(&e)
		if i, _ := m.panel(e.Node); i >= 0 {
			m.nodeLogs[i].push(entry{ev: e})
		}
		if onTimeline(&e) {
			addToTimeline(m.timeline, e)
			if e.Kind == logs.KindTransition && e.Time.After(m.lastTransition) {
				m.lastTransition = e.Time
			}
		}
	}
}

// focused is the log pane the scroll keys act on.
func (m *Model) focused() *logPane {
	switch m.pane {
	case paneNode0:
		return m.nodeLogs[0]
	case paneNode1:
		return m.nodeLogs[1]
	}
	return m.timeline
}

func (m *Model) allPanes() []*logPane {
	return append([]*logPane{m.timeline}, m.nodeLogs...)
}

func (m *Model) onKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	// ctrl+c always ends the program, whatever is open, like any Unix tool.
	if msg.String() == "ctrl+c" {
		return m, tea.Interrupt
	}
	switch {
	case m.sw != nil:
		return m, m.updateSwitchover(msg)
	case m.lab != nil:
		return m, m.labKey(msg)
	case m.maint != nil:
		return m, m.maintenanceKey(msg)
	case m.hist != nil:
		return m, m.historyKey(msg)
	case m.filtering:
		return m, m.filterKey(msg)
	case m.showHelp:
		if key.Matches(msg, m.keys.Help, m.keys.Cancel) {
			m.showHelp = false
		} else if key.Matches(msg, m.keys.Quit) {
			return m, tea.Quit
		}
		return m, nil
	}

	k := m.keys
	page := max(m.layout.logRows-1, 1)
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
	case key.Matches(msg, k.NextPane):
		m.pane = (m.pane + 1) % (paneNode1 + 1)
	case key.Matches(msg, k.Zoom):
		m.zoom = !m.zoom
		m.relayout()
	case key.Matches(msg, k.Filter):
		m.filtering = true
		return m, m.filter.Focus()
	case key.Matches(msg, k.Cancel):
		m.setFilter("")
		m.status = ""
	case key.Matches(msg, k.Follow):
		// Pause and resume every pane together, so the two nodes' logs
		// stay comparable while reading.
		on := !m.focused().follow
		for _, p := range m.allPanes() {
			p.setFollow(on)
		}
	case key.Matches(msg, k.Up):
		m.focused().scroll(-1)
	case key.Matches(msg, k.Down):
		m.focused().scroll(1)
	case key.Matches(msg, k.PageUp):
		m.focused().scroll(-page)
	case key.Matches(msg, k.PageDown):
		m.focused().scroll(page)
	case key.Matches(msg, k.Top):
		m.focused().top(m.layout.logRows)
	case key.Matches(msg, k.Bottom):
		m.focused().setFollow(true)
	case key.Matches(msg, k.Switchover):
		return m, m.openSwitchover()
	case key.Matches(msg, k.Lab):
		m.openLab()
	case key.Matches(msg, k.Maintenance):
		return m, m.openMaintenance()
	case key.Matches(msg, k.History):
		return m, m.openHistory()
	}
	return m, nil
}

func (m *Model) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Confirm):
		m.filtering = false
		m.filter.Blur()
		return nil
	case key.Matches(msg, m.keys.Cancel):
		m.filtering = false
		m.filter.Blur()
		m.filter.SetValue("")
		m.setFilter("")
		return nil
	}
	var cmd tea.Cmd
	m.filter, cmd = m.filter.Update(msg)
	m.setFilter(m.filter.Value())
	return cmd
}

// setFilter applies one filter to every pane, so switching panes keeps it.
func (m *Model) setFilter(f string) {
	f = strings.ToLower(f)
	for _, p := range m.allPanes() {
		p.filter = f
	}
	if f == "" {
		m.filter.SetValue("")
	}
}

// setStatus sets the footer's line; errors in it come from the nodes, so
// it is cleaned like their logs.
func (m *Model) setStatus(bad bool, format string, args ...any) {
	m.status, m.statusBad = termsafe.Clean(fmt.Sprintf(format, args...)), bad
}
