package tui

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

// FleetPair names one pair of the fleet as the config does.
type FleetPair struct {
	Name  string
	VIP   string
	Nodes []NodeInfo
}

// PairSnapshot is one node's poll, named by its pair.
type PairSnapshot struct {
	Pair string
	Snap nodes.Snapshot
}

// FleetBackend is the live state of every pair of a fleet.
type FleetBackend interface {
	// Snapshots returns the polls of every node of every pair. The
	// channel is closed when the backend stops.
	Snapshots() <-chan PairSnapshot
	// Open starts what the pair's own view needs (following its logs,
	// polling it at its own interval) and returns that view's Options.
	// The console calls it from a tea.Cmd: it may do I/O.
	Open(pair string) (Options, error)
	// Close stops what Open started. Called from a tea.Cmd.
	Close(pair string)
}

// FleetJudgeFunc decides a pair's verdict from the latest snapshot of each
// of its nodes; pure and quick, like JudgeFunc.
type FleetJudgeFunc func(pair string, snaps []nodes.Snapshot) Verdict

// FleetOptions configure the fleet console. Pairs, Backend and Judge are
// required.
type FleetOptions struct {
	Pairs   []FleetPair
	Backend FleetBackend
	Judge   FleetJudgeFunc
	// Open names the pair whose view opens first; "" opens on the fleet.
	Open string
	// StaleAfter is how long a node may send no snapshot before its pair
	// counts as not healthy; a few poll intervals.
	StaleAfter time.Duration
	// Now is the clock; tests fix it.
	Now func() time.Time
	// Tick is how often the clock advances; 0 means 1 s, negative never.
	Tick time.Duration
}

// FleetKeyMap is the fleet view's keys. It takes none of the pair view's
// action keys (s, L, and m and h for maintenance and history).
type FleetKeyMap struct {
	Quit   key.Binding
	Open   key.Binding
	Back   key.Binding
	Filter key.Binding
	Jump   key.Binding
	Up     key.Binding
	Down   key.Binding
	Top    key.Binding
	Bottom key.Binding
}

// DefaultFleetKeyMap returns the fleet view's keys (k9s's / and :).
func DefaultFleetKeyMap() FleetKeyMap {
	return FleetKeyMap{
		Quit:   key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open pair")),
		Back:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear · in a pair: back")),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Jump:   key.NewBinding(key.WithKeys(":"), key.WithHelp(":", "go to pair")),
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Top:    key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom: key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
	}
}

// ShortHelp implements help.KeyMap.
func (k FleetKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Filter, k.Jump, k.Up, k.Down, k.Back, k.Quit}
}

// FullHelp implements help.KeyMap.
func (k FleetKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// fleetRow is one pair as the fleet view shows it.
type fleetRow struct {
	pair  FleetPair
	snaps []nodes.Snapshot // by node, in the pair's order
	seen  []bool
	at    []time.Time // when each node's last snapshot arrived
	// verdict is the pair's, with a problem added for each silent node.
	verdict Verdict
	judged  bool
	// stale names the nodes silent for longer than StaleAfter.
	stale          []string
	lastTransition time.Time
	lag            string
	// offsets are the master's offsets over the polls: the replica's lag
	// in seconds is read from them, as in the pair view's panel.
	offsets offsetHistory
}

// severity orders rows worst first: not healthy, not yet polled, healthy.
func (r *fleetRow) severity() int {
	switch {
	case r.judged && (!r.verdict.Healthy || len(r.stale) > 0):
		return 0
	case !r.judged:
		return 1
	}
	return 2
}

func (r *fleetRow) problems() []string {
	ps := slices.Clone(r.verdict.Problems)
	for _, n := range r.stale {
		ps = append(ps, "no poll of "+n+" lately")
	}
	return ps
}

// prompt is the fleet's open prompt, if any.
type prompt int

const (
	promptNone prompt = iota
	promptFilter
	promptJump
)

// FleetModel is the console of several pairs: a fleet view of one row a
// pair, worst first, which opens a pair's own view (a Model, unchanged)
// and goes back to the fleet. Use NewFleet.
type FleetModel struct {
	opts   FleetOptions
	keys   FleetKeyMap
	styles Styles
	dark   bool
	help   help.Model

	width, height int
	now           time.Time

	rows   []*fleetRow
	byName map[string]*fleetRow
	// shown is the rows drawn: filtered, worst first; sorted marks it
	// stale.
	shown  []*fleetRow
	sorted bool
	// selected names the selected pair, so re-sorting keeps it.
	selected string
	offset   int

	prompt prompt
	input  textinput.Model
	filter string

	status    string
	statusBad bool

	// child is the open pair's view; gen numbers each opening, so that
	// the messages of a closed view's Cmds are dropped.
	child     *Model
	childPair string
	opening   string
	gen       int
}

// NewFleet builds the fleet console from opts.
func NewFleet(opts FleetOptions) (*FleetModel, error) {
	switch {
	case len(opts.Pairs) == 0:
		return nil, errors.New("fleet console: no pairs")
	case opts.Backend == nil:
		return nil, errors.New("fleet console: no backend")
	case opts.Judge == nil:
		return nil, errors.New("fleet console: no verdict function")
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick == 0 {
		opts.Tick = time.Second
	}
	m := &FleetModel{opts: opts, keys: DefaultFleetKeyMap(), help: help.New(), now: opts.Now(), byName: map[string]*fleetRow{}}
	for _, p := range opts.Pairs {
		if _, dup := m.byName[p.Name]; dup {
			return nil, fmt.Errorf("fleet console: pair %q twice", p.Name)
		}
		n := len(p.Nodes)
		r := &fleetRow{pair: p, snaps: make([]nodes.Snapshot, n), seen: make([]bool, n), at: make([]time.Time, n), lag: "-"}
		m.rows = append(m.rows, r)
		m.byName[p.Name] = r
	}
	if opts.Open != "" && m.byName[opts.Open] == nil {
		return nil, fmt.Errorf("fleet console: no pair %q", opts.Open)
	}
	m.selected = opts.Pairs[0].Name
	m.input = textinput.New()
	m.setStyles(true)
	return m, nil
}

func (m *FleetModel) setStyles(dark bool) {
	m.dark = dark
	m.styles = NewStyles(dark)
	m.help.Styles = m.styles.Help
	ts := textinput.DefaultStyles(dark)
	ts.Cursor.Blink = false
	m.input.SetStyles(ts)
}

// Init starts reading the snapshots and opens the first pair, if named.
func (m *FleetModel) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor, waitPairSnapshots(m.opts.Backend.Snapshots(), 0), m.clock()}
	if m.opts.Open != "" {
		cmds = append(cmds, m.open(m.opts.Open))
	}
	return tea.Batch(cmds...)
}

// Messages of the fleet view itself.
type (
	fleetSnapsMsg  struct{ snaps []PairSnapshot }
	fleetClosedMsg struct{}
	fleetClockMsg  time.Time
	pairOpenedMsg  struct {
		gen  int
		pair string
		opts Options
		err  error
	}
	// childMsg is a message of the open pair view's Cmds, numbered with
	// the opening it belongs to.
	childMsg struct {
		gen int
		msg tea.Msg
	}
)

// maxSnapBatch bounds the snapshots one message carries.
const maxSnapBatch = 1024

// fleetBatchEvery is the least time between two batches of snapshots:
// 100 nodes polled every 2 s send 50 a second, and drawing the fleet for
// each cost more than polling it (BenchmarkFleetPollCPU); a quarter second
// later on screen is nothing next to the poll interval.
const fleetBatchEvery = 250 * time.Millisecond

// waitPairSnapshots reads the next snapshots after waiting after: it
// blocks for one, then takes what else is queued, so a fleet's polls are
// judged and drawn in batches rather than one by one.
func waitPairSnapshots(ch <-chan PairSnapshot, after time.Duration) tea.Cmd {
	return func() tea.Msg {
		if after > 0 {
			time.Sleep(after)
		}
		s, ok := <-ch
		if !ok {
			return fleetClosedMsg{}
		}
		batch := []PairSnapshot{s}
		for len(batch) < maxSnapBatch {
			select {
			case s, ok := <-ch:
				if !ok {
					return fleetSnapsMsg{snaps: batch}
				}
				batch = append(batch, s)
			default:
				return fleetSnapsMsg{snaps: batch}
			}
		}
		return fleetSnapsMsg{snaps: batch}
	}
}

func (m *FleetModel) clock() tea.Cmd {
	if m.opts.Tick < 0 {
		return nil
	}
	now := m.opts.Now
	return tea.Tick(m.opts.Tick, func(time.Time) tea.Msg { return fleetClockMsg(now()) })
}

// open asks the backend for pair's view, in a Cmd: opening follows logs.
// One opening at a time: a second enter before the first view shows is
// dropped, so the backend never has two views of a pair racing.
func (m *FleetModel) open(pair string) tea.Cmd {
	if m.opening != "" {
		return nil
	}
	m.gen++
	m.opening = pair
	m.setStatus(false, "opening %s…", pair)
	gen, b := m.gen, m.opts.Backend
	return func() tea.Msg {
		opts, err := b.Open(pair)
		return pairOpenedMsg{gen: gen, pair: pair, opts: opts, err: err}
	}
}

func closePair(b FleetBackend, pair string) tea.Cmd {
	return func() tea.Msg {
		b.Close(pair)
		return nil
	}
}

// back closes the pair view and shows the fleet.
func (m *FleetModel) back() tea.Cmd {
	pair := m.childPair
	m.child, m.childPair = nil, ""
	m.gen++
	m.sorted = false
	return closePair(m.opts.Backend, pair)
}

// tuiPkg is this package's path: the pair view's Cmds return messages of
// its types, which childCmd numbers; tea's own (quit, batches, terminal
// queries) pass as they are.
var tuiPkg = reflect.TypeOf(childMsg{}).PkgPath()

// childCmd numbers the messages cmd returns with the pair view's opening
// gen, through batches.
func childCmd(gen int, cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg {
		msg := cmd()
		switch msg := msg.(type) {
		case nil:
			return nil
		case tea.BatchMsg:
			out := make(tea.BatchMsg, 0, len(msg))
			for _, c := range msg {
				if c != nil {
					out = append(out, childCmd(gen, c))
				}
			}
			return out
		}
		if reflect.TypeOf(msg).PkgPath() == tuiPkg {
			return childMsg{gen: gen, msg: msg}
		}
		return msg
	}
}

// updateChild hands msg to the open pair view.
func (m *FleetModel) updateChild(msg tea.Msg) tea.Cmd {
	_, cmd := m.child.Update(msg)
	return childCmd(m.gen, cmd)
}

// atRest tells a pair view with nothing open that esc would close: no
// dialog, prompt, help or filter.
func (m *Model) atRest() bool {
	return m.sw == nil && m.lab == nil && !m.filtering && !m.showHelp && m.filter.Value() == ""
}

// Update handles one message.
func (m *FleetModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		if m.child != nil {
			return m, m.updateChild(msg)
		}
		return m, nil
	case tea.BackgroundColorMsg:
		m.setStyles(msg.IsDark())
		if m.child != nil {
			return m, m.updateChild(msg)
		}
		return m, nil
	case fleetClockMsg:
		m.now = time.Time(msg)
		m.checkStale()
		return m, m.clock()
	case fleetSnapsMsg:
		m.onSnapshots(msg.snaps)
		return m, waitPairSnapshots(m.opts.Backend.Snapshots(), fleetBatchEvery)
	case fleetClosedMsg:
		return m, nil
	case pairOpenedMsg:
		return m, m.onOpened(msg)
	case childMsg:
		if m.child != nil && msg.gen == m.gen {
			return m, m.updateChild(msg.msg)
		}
		return m, nil
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			return m, tea.Interrupt
		}
		if m.child != nil {
			if key.Matches(msg, m.keys.Back) && m.child.atRest() {
				return m, m.back()
			}
			return m, m.updateChild(msg)
		}
		return m, m.onKey(msg)
	}
	if m.child != nil {
		return m, m.updateChild(msg)
	}
	if m.prompt != promptNone {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *FleetModel) onOpened(msg pairOpenedMsg) tea.Cmd {
	if msg.gen != m.gen || msg.pair != m.opening {
		// Not the opening awaited (open allows one at a time).
		if msg.err == nil {
			return closePair(m.opts.Backend, msg.pair)
		}
		return nil
	}
	m.opening = ""
	m.status = ""
	if msg.err != nil {
		m.setStatus(true, "open %s: %v", msg.pair, msg.err)
		return nil
	}
	child, err := New(msg.opts)
	if err != nil {
		m.setStatus(true, "open %s: %v", msg.pair, err)
		return closePair(m.opts.Backend, msg.pair)
	}
	m.child, m.childPair, m.selected = child, msg.pair, msg.pair
	child.setStyles(m.dark)
	cmds := []tea.Cmd{childCmd(m.gen, child.Init())}
	if m.width > 0 {
		cmds = append(cmds, m.updateChild(tea.WindowSizeMsg{Width: m.width, Height: m.height}))
	}
	return tea.Batch(cmds...)
}

func (m *FleetModel) onSnapshots(snaps []PairSnapshot) {
	now := m.opts.Now()
	changed := map[*fleetRow]bool{}
	for _, ps := range snaps {
		r := m.byName[ps.Pair]
		if r == nil {
			continue
		}
		i := slices.IndexFunc(r.pair.Nodes, func(n NodeInfo) bool { return n.Name == ps.Snap.Node })
		if i < 0 {
			continue
		}
		s := ps.Snap
		cleanSnapshot(&s)
		r.snaps[i], r.seen[i], r.at[i] = s, true, now
		changed[r] = true
	}
	for r := range changed {
		m.judge(r)
	}
	m.now = now
	m.checkStale()
	m.sorted = false
}

// judge decides r's verdict, master, VIP holder, lag and last transition
// from its nodes' latest snapshots.
func (m *FleetModel) judge(r *fleetRow) {
	var snaps []nodes.Snapshot
	for i, s := range r.snaps {
		if r.seen[i] {
			snaps = append(snaps, s)
			if s.Keepalived.Since.After(r.lastTransition) {
				r.lastTransition = s.Keepalived.Since
			}
		}
	}
	r.verdict, r.judged = m.opts.Judge(r.pair.Name, snaps), true
	r.verdict.Problems = cleanAll(r.verdict.Problems)
	r.lag = "-"
	var master *nodes.Snapshot
	for i := range snaps {
		if snaps[i].Node == r.verdict.Master {
			master = &snaps[i]
		}
	}
	if master == nil || !master.Redis.Up {
		return
	}
	r.offsets.add(*master)
	var lags []string
	for _, s := range snaps {
		if s.Node != master.Node && s.Redis.Up && s.Redis.Info.Role == replication.RoleReplica {
			if n, ok := replication.Lag(s.Redis.Info, master.Redis.Info); ok {
				age, known := r.offsets.age(s.Redis.Info.ReplID, s.Redis.Info.Offset(), s.Time)
				secs := seconds(age)
				if !known {
					secs = ">" + secs
				}
				lags = append(lags, human.Bytes(n)+" · "+secs)
			}
		}
	}
	if len(lags) > 0 {
		r.lag = strings.Join(lags, ",")
	}
}

// checkStale marks the nodes that sent nothing for StaleAfter.
func (m *FleetModel) checkStale() {
	for _, r := range m.rows {
		var stale []string
		for i, seen := range r.seen {
			if seen && m.now.Sub(r.at[i]) > m.opts.StaleAfter {
				stale = append(stale, r.pair.Nodes[i].Name)
			}
		}
		if !slices.Equal(stale, r.stale) {
			r.stale = stale
			m.sorted = false
		}
	}
}

// visible returns the rows drawn: those matching the filter, worst first,
// then by name.
func (m *FleetModel) visible() []*fleetRow {
	if m.sorted {
		return m.shown
	}
	m.shown = m.shown[:0]
	for _, r := range m.rows {
		if m.filter == "" || strings.Contains(r.pair.Name, m.filter) {
			m.shown = append(m.shown, r)
		}
	}
	slices.SortStableFunc(m.shown, func(a, b *fleetRow) int {
		if d := a.severity() - b.severity(); d != 0 {
			return d
		}
		return strings.Compare(a.pair.Name, b.pair.Name)
	})
	m.sorted = true
	return m.shown
}

// cursor is the selected row's index among the visible ones; the first
// when the selected pair is filtered out.
func (m *FleetModel) cursor() int {
	rows := m.visible()
	if i := slices.IndexFunc(rows, func(r *fleetRow) bool { return r.pair.Name == m.selected }); i >= 0 {
		return i
	}
	return 0
}

func (m *FleetModel) move(d int) {
	rows := m.visible()
	if len(rows) == 0 {
		return
	}
	i := min(max(m.cursor()+d, 0), len(rows)-1)
	m.selected = rows[i].pair.Name
}

func (m *FleetModel) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if m.prompt != promptNone {
		return m.promptKey(msg)
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Filter):
		m.prompt = promptFilter
		m.input.Prompt = "/"
		m.input.Placeholder = "filter pairs"
		m.input.SetValue(m.filter)
		m.input.CursorEnd()
		return m.input.Focus()
	case key.Matches(msg, k.Jump):
		m.prompt = promptJump
		m.input.Prompt = ":"
		m.input.Placeholder = "pair name"
		m.input.SetValue("")
		return m.input.Focus()
	case key.Matches(msg, k.Open):
		if rows := m.visible(); len(rows) > 0 {
			return m.open(rows[m.cursor()].pair.Name)
		}
	case key.Matches(msg, k.Back):
		m.setFilter("")
		m.status = ""
	case key.Matches(msg, k.Up):
		m.move(-1)
	case key.Matches(msg, k.Down):
		m.move(1)
	case key.Matches(msg, k.Top):
		m.move(-len(m.rows))
	case key.Matches(msg, k.Bottom):
		m.move(len(m.rows))
	}
	return nil
}

func (m *FleetModel) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "enter":
		p, v := m.prompt, strings.TrimSpace(m.input.Value())
		m.closePrompt()
		if p == promptJump && v != "" {
			name, err := m.match(v)
			if err != nil {
				m.setStatus(true, "%v", err)
				return nil
			}
			return m.open(name)
		}
		return nil
	case "esc":
		if m.prompt == promptFilter {
			m.setFilter("")
		}
		m.closePrompt()
		return nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.prompt == promptFilter {
		m.setFilter(m.input.Value())
	}
	return cmd
}

func (m *FleetModel) closePrompt() {
	m.prompt = promptNone
	m.input.Blur()
}

func (m *FleetModel) setFilter(f string) {
	m.filter = strings.ToLower(strings.TrimSpace(f))
	m.sorted = false
}

// match finds the pair named v: by its whole name, else the one name v
// starts, else the one name containing v.
func (m *FleetModel) match(v string) (string, error) {
	v = strings.ToLower(v)
	if m.byName[v] != nil {
		return v, nil
	}
	for _, test := range []func(string) bool{
		func(n string) bool { return strings.HasPrefix(n, v) },
		func(n string) bool { return strings.Contains(n, v) },
	} {
		var found []string
		for _, r := range m.rows {
			if test(r.pair.Name) {
				found = append(found, r.pair.Name)
			}
		}
		switch {
		case len(found) == 1:
			return found[0], nil
		case len(found) > 1:
			if len(found) > 5 {
				found = append(found[:5], "…")
			}
			return "", fmt.Errorf("%q matches several pairs: %s", v, strings.Join(found, ", "))
		}
	}
	return "", fmt.Errorf("no pair matches %q", v)
}

func (m *FleetModel) setStatus(bad bool, format string, args ...any) {
	m.status, m.statusBad = cleanAll([]string{fmt.Sprintf(format, args...)})[0], bad
}

// View draws the open pair's view, or the fleet.
func (m *FleetModel) View() tea.View {
	if m.child != nil {
		return m.child.View()
	}
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "redkeep fleet"
	return v
}

// Column widths of the fleet table, besides the pair's name and the
// verdict, which take what is left.
const (
	fleetNodeW  = 8
	fleetLagW   = 16
	fleetTransW = 16
	fleetMaintW = 6
)

func (m *FleetModel) render() string {
	if m.width <= 0 || m.height <= 0 {
		return "redkeep: starting…"
	}
	st := &m.styles
	rows := m.visible()
	lines := []string{m.fleetHeader(rows)}

	nameW := len("PAIR")
	for _, r := range m.rows {
		nameW = max(nameW, len(r.pair.Name))
	}
	nameW = min(nameW, 32)
	fixed := 2 + nameW + 1 + 1 + fleetNodeW + 1 + fleetNodeW + 1 + fleetLagW + 1 + fleetTransW + 1 + fleetMaintW
	verdictW := max(m.width-fixed, 20)
	cols := func(sel, name, verdict, master, vip, lag, trans, maint string) string {
		return sel + padRight(trunc(name, nameW), nameW) + " " + padRight(verdict, verdictW) + " " +
			padRight(trunc(master, fleetNodeW), fleetNodeW) + " " + padRight(trunc(vip, fleetNodeW), fleetNodeW) + " " +
			padRight(trunc(lag, fleetLagW), fleetLagW) + " " + padRight(trunc(trans, fleetTransW), fleetTransW) + " " + trunc(maint, fleetMaintW)
	}
	lines = append(lines, st.Label.Render(cols("  ", "PAIR", "VERDICT", "MASTER", "VIP", "LAG", "LAST TRANSITION", "MAINT")))

	body := max(m.height-3, 1)
	cur := m.cursor()
	if cur < m.offset {
		m.offset = cur
	}
	if cur >= m.offset+body {
		m.offset = cur - body + 1
	}
	m.offset = min(m.offset, max(len(rows)-body, 0))
	for i := m.offset; i < len(rows) && i < m.offset+body; i++ {
		r := rows[i]
		sel := "  "
		if i == cur {
			sel = st.Accent.Render("▶ ")
		}
		verdict := m.verdictCell(r, verdictW)
		master, vip, trans := "-", "-", "-"
		if r.judged {
			master, vip = orDash(r.verdict.Master), orDash(r.verdict.VIPHolder)
		}
		if !r.lastTransition.IsZero() {
			trans = ago(m.now.Sub(r.lastTransition)) + " ago"
		}
		name := r.pair.Name
		if i == cur {
			name = st.Bold.Render(trunc(name, nameW))
		}
		lines = append(lines, cols(sel, name, verdict, master, vip, r.lag, trans, ""))
	}
	if len(rows) == 0 {
		lines = append(lines, st.Dim.Render("  no pair matches the filter "+m.filter+" (esc clears it)"))
	}
	for len(lines) < m.height-1 {
		lines = append(lines, "")
	}
	lines = append(lines, m.fleetFooter())
	return clip(strings.Join(lines, "\n"), m.width, m.height)
}

func (m *FleetModel) fleetHeader(rows []*fleetRow) string {
	st := &m.styles
	sep := st.Dim.Render(" │ ")
	var bad, waiting, good int
	for _, r := range m.rows {
		switch r.severity() {
		case 0:
			bad++
		case 1:
			waiting++
		default:
			good++
		}
	}
	parts := []string{st.Title.Render("redkeep fleet"), fmt.Sprintf("%d pairs", len(m.rows))}
	if bad > 0 {
		parts = append(parts, st.Bad.Render(fmt.Sprintf("✖ %d not healthy", bad)))
	}
	if good > 0 {
		parts = append(parts, st.Good.Render(fmt.Sprintf("● %d healthy", good)))
	}
	if waiting > 0 {
		parts = append(parts, st.Dim.Render(fmt.Sprintf("%d waiting for a poll", waiting)))
	}
	if m.filter != "" {
		parts = append(parts, fmt.Sprintf("filter %q: %d shown", m.filter, len(rows)))
	}
	return strings.Join(parts, sep)
}

func (m *FleetModel) verdictCell(r *fleetRow, w int) string {
	st := &m.styles
	switch r.severity() {
	case 1:
		return st.Dim.Render("waiting for the first poll")
	case 2:
		return st.Good.Render("● healthy")
	}
	ps := r.problems()
	text := "✖ " + strings.Join(ps, "; ")
	if len(ps) == 0 {
		text = "✖ NOT HEALTHY"
	}
	return st.Bad.Render(trunc(text, w))
}

func (m *FleetModel) fleetFooter() string {
	switch {
	case m.prompt != promptNone:
		return m.input.View()
	case m.status != "" && m.statusBad:
		return m.styles.Bad.Render(m.status)
	case m.status != "":
		return m.styles.Dim.Render(m.status)
	}
	h := m.help
	h.SetWidth(m.width)
	return h.ShortHelpView(m.keys.ShortHelp())
}

// trunc cuts s to w cells, marking the cut.
func trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
