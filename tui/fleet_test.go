package tui

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/redkeep/redkeep/nodes"
)

// fakeFleet feeds the fleet console and records which pair views it opened
// and closed.
type fakeFleet struct {
	snaps chan PairSnapshot
	mu    sync.Mutex
	calls []string
	views map[string]*fakeBackend
}

func newFakeFleet() *fakeFleet {
	return &fakeFleet{snaps: make(chan PairSnapshot, 256), views: map[string]*fakeBackend{}}
}

func (f *fakeFleet) Snapshots() <-chan PairSnapshot { return f.snaps }

func (f *fakeFleet) Open(pair string) (Options, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "open "+pair)
	b := newFakeBackend()
	f.views[pair] = b
	j := &fakeJudge{v: healthyVerdict()}
	return Options{
		Nodes:   []NodeInfo{{Name: "a", Host: "198.51.100.11"}, {Name: "b", Host: "198.51.100.12"}},
		VIP:     "198.51.100.100",
		Backend: b, Judge: j.judge, Now: func() time.Time { return t0 }, Tick: -1,
	}, nil
}

func (f *fakeFleet) Close(pair string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "close "+pair)
}

func (f *fakeFleet) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fleetJudge returns each pair's verdict as the test set it.
type fleetJudge struct {
	mu sync.Mutex
	v  map[string]Verdict
}

func (j *fleetJudge) set(pair string, v Verdict) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.v[pair] = v
}

func (j *fleetJudge) judge(pair string, _ []nodes.Snapshot) Verdict {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.v[pair]
}

var fleetPairs = []string{"cache", "queue", "sessions", "search"}

func newTestFleet(t testing.TB, j *fleetJudge) (*FleetModel, *fakeFleet) {
	t.Helper()
	b := newFakeFleet()
	o := FleetOptions{Backend: b, Judge: j.judge, Now: func() time.Time { return t0 }, Tick: -1}
	for _, p := range fleetPairs {
		o.Pairs = append(o.Pairs, FleetPair{Name: p, VIP: "198.51.100.100", Nodes: []NodeInfo{{Name: "a"}, {Name: "b"}}})
	}
	m, err := NewFleet(o)
	if err != nil {
		t.Fatal(err)
	}
	m.Update(teaSize(100, 12))
	return m, b
}

func newFleetJudge() *fleetJudge {
	j := &fleetJudge{v: map[string]Verdict{}}
	for _, p := range fleetPairs {
		j.set(p, healthyVerdict())
	}
	return j
}

// pollPairs hands the model one poll of both nodes of each pair.
func pollPairs(m *FleetModel, pairs ...string) {
	var batch []PairSnapshot
	for _, p := range pairs {
		batch = append(batch, PairSnapshot{Pair: p, Snap: snapMaster("a")}, PairSnapshot{Pair: p, Snap: snapReplica("b")})
	}
	m.Update(fleetSnapsMsg{snaps: batch})
}

// rowOrder is the pairs in the order the fleet view draws them.
func rowOrder(m *FleetModel) []string {
	var out []string
	for _, r := range m.visible() {
		out = append(out, r.pair.Name)
	}
	return out
}

// run runs cmd, as the program would, and hands its message to the model;
// for the Cmds that do not block (opening and closing a pair).
func run(m *FleetModel, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	if msg := cmd(); msg != nil {
		_, next := m.Update(msg)
		run(m, next)
	}
}

func fleetScreen(t *testing.T, m *FleetModel) string {
	t.Helper()
	return ansi.Strip(m.View().Content)
}

func TestFleetWorstFirst(t *testing.T) {
	j := newFleetJudge()
	m, _ := newTestFleet(t, j)
	if got := rowOrder(m); !slices.Equal(got, []string{"cache", "queue", "search", "sessions"}) {
		t.Errorf("before any poll: %v, want by name", got)
	}
	pollPairs(m, "cache", "queue", "sessions")
	// search not yet polled: after the unhealthy, before the healthy.
	if got := rowOrder(m); !slices.Equal(got, []string{"search", "cache", "queue", "sessions"}) {
		t.Errorf("search unpolled: %v", got)
	}
	j.set("sessions", Verdict{Problems: []string{"b: redis down"}, Master: "a", VIPHolder: "a"})
	pollPairs(m, "sessions", "search")
	if got := rowOrder(m); !slices.Equal(got, []string{"sessions", "cache", "queue", "search"}) {
		t.Errorf("sessions unhealthy: %v, want it first", got)
	}
	// The selection follows its pair through re-sorting: cache, the
	// first pair, is second now, so j selects queue.
	m.Update(press("j"))
	if m.selected != "queue" {
		t.Errorf("selected %q after j, want queue", m.selected)
	}
	// A node silent for longer than StaleAfter makes its pair unhealthy.
	m.Update(fleetClockMsg(t0.Add(time.Hour)))
	if got := m.byName["cache"].severity(); got != 0 {
		t.Errorf("cache silent for an hour: severity %d, want 0", got)
	}
	if s := fleetScreen(t, m); !strings.Contains(s, "no poll of a lately") {
		t.Errorf("screen does not say the nodes are silent:\n%s", s)
	}
}

// TestFleetView compares the fleet's screen with its golden file.
func TestFleetView(t *testing.T) {
	j := newFleetJudge()
	m, _ := newTestFleet(t, j)
	j.set("sessions", Verdict{Problems: []string{"b: Redis is down (connection refused)", "no replica in sync"}, Master: "a", VIPHolder: "a"})
	pollPairs(m, "cache", "queue", "sessions")
	var buf strings.Builder
	cw := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ASCII}
	if _, err := cw.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	checkScreen(t, buf.String(), 100, 12)
	golden.RequireEqual(t, buf.String())
}

func TestFleetFilterAndJump(t *testing.T) {
	m, b := newTestFleet(t, newFleetJudge())
	pollPairs(m, fleetPairs...)
	for _, k := range []string{"/", "s", "e"} {
		m.Update(press(k))
	}
	if got := rowOrder(m); !slices.Equal(got, []string{"search", "sessions"}) {
		t.Errorf("filter se: %v", got)
	}
	m.Update(press("enter"))
	if s := fleetScreen(t, m); !strings.Contains(s, `filter "se": 2 shown`) || strings.Contains(s, "cache") {
		t.Errorf("filtered screen:\n%s", s)
	}
	m.Update(press("esc"))
	if got := rowOrder(m); len(got) != 4 {
		t.Errorf("esc did not clear the filter: %v", got)
	}

	// : jumps by a unique prefix; an ambiguous one is refused.
	for _, k := range []string{":", "s", "e", "enter"} {
		run(m, m.mustUpdate(press(k)))
	}
	if m.child != nil || !strings.Contains(m.status, `"se" matches several pairs: sessions, search`) {
		t.Fatalf("ambiguous jump: child %v, status %q", m.child != nil, m.status)
	}
	for _, k := range []string{":", "q", "u", "enter"} {
		run(m, m.mustUpdate(press(k)))
	}
	if m.child == nil || m.childPair != "queue" {
		t.Fatalf("jump to qu: no pair view (status %q)", m.status)
	}
	if got := b.log(); !slices.Equal(got, []string{"open queue"}) {
		t.Errorf("backend calls %v", got)
	}
	// The pair's view is today's console.
	if s := fleetScreen(t, m); !strings.Contains(s, "VIP 198.51.100.100") || !strings.Contains(s, "timeline") {
		t.Errorf("pair view:\n%s", s)
	}
	// esc with the pair view's filter set clears the filter first.
	for _, k := range []string{"/", "x", "enter"} {
		run(m, m.mustUpdate(press(k)))
	}
	run(m, m.mustUpdate(press("esc")))
	if m.child == nil {
		t.Fatal("esc with a filter set left the pair view")
	}
	run(m, m.mustUpdate(press("esc")))
	if m.child != nil {
		t.Fatal("esc did not go back to the fleet")
	}
	if got := b.log(); !slices.Equal(got, []string{"open queue", "close queue"}) {
		t.Errorf("backend calls %v", got)
	}
	if s := fleetScreen(t, m); !strings.Contains(s, "redkeep fleet") {
		t.Errorf("not the fleet after esc:\n%s", s)
	}
	// Unknown pair.
	for _, k := range []string{":", "z", "enter"} {
		run(m, m.mustUpdate(press(k)))
	}
	if !strings.Contains(m.status, `no pair matches "z"`) {
		t.Errorf("status %q", m.status)
	}
}

func (m *FleetModel) mustUpdate(msg tea.Msg) tea.Cmd {
	_, cmd := m.Update(msg)
	return cmd
}

// TestFleetDropsClosedViewsMessages: the messages of a closed pair view's
// Cmds (a snapshot it was waiting for, its clock) never reach the view of
// the pair opened next.
func TestFleetDropsClosedViewsMessages(t *testing.T) {
	m, _ := newTestFleet(t, newFleetJudge())
	pollPairs(m, fleetPairs...)
	run(m, m.open("cache"))
	oldGen := m.gen
	// A Cmd of cache's view, still blocked when the view closes.
	stale := childCmd(oldGen, func() tea.Msg { return snapshotMsg{node: "a", snap: snapMaster("a")} })
	run(m, m.back())
	run(m, m.open("queue"))
	if m.childPair != "queue" {
		t.Fatal("queue did not open")
	}
	m.Update(stale())
	if _, p := m.child.panel("a"); p.seen {
		t.Error("queue's view took a snapshot meant for cache's closed view")
	}
	fresh := childCmd(m.gen, func() tea.Msg { return snapshotMsg{node: "a", snap: snapMaster("a")} })
	m.Update(fresh())
	if _, p := m.child.panel("a"); !p.seen {
		t.Error("queue's view dropped its own snapshot")
	}
	// tea's own messages pass through unnumbered, batches numbered inside.
	if msg := childCmd(1, tea.Quit)(); msg != (tea.QuitMsg{}) {
		t.Errorf("tea.Quit wrapped: %T", msg)
	}
	batch := childCmd(1, tea.Batch(tea.Quit, func() tea.Msg { return clockMsg(t0) }))().(tea.BatchMsg)
	if msg := batch[1](); msg != (childMsg{gen: 1, msg: clockMsg(t0)}) {
		t.Errorf("batched clock: %#v", msg)
	}
}

// TestFlowFleet runs the fleet console as a real program: polls arrive,
// a pair fails and rises to the top, enter opens it, esc goes back.
func TestFlowFleet(t *testing.T) {
	t.Parallel()
	j := newFleetJudge()
	b := newFakeFleet()
	o := FleetOptions{Backend: b, Judge: j.judge, Now: func() time.Time { return t0 }, Tick: -1}
	for _, p := range fleetPairs {
		o.Pairs = append(o.Pairs, FleetPair{Name: p, VIP: "198.51.100.100", Nodes: []NodeInfo{{Name: "a"}, {Name: "b"}}})
	}
	m, err := NewFleet(o)
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 12))
	t.Cleanup(func() { _ = tm.Quit() })
	send := func(pair string) {
		b.snaps <- PairSnapshot{Pair: pair, Snap: snapMaster("a")}
		b.snaps <- PairSnapshot{Pair: pair, Snap: snapReplica("b")}
	}
	for _, p := range fleetPairs {
		send(p)
	}
	waitFor(t, tm, "4 healthy")
	j.set("search", Verdict{Problems: []string{"two Redis masters"}})
	send("search")
	waitFor(t, tm, "two Redis masters")
	// The first row is the failing pair.
	tm.Send(press("g"))
	tm.Send(press("enter"))
	waitFor(t, tm, "timeline")
	tm.Send(press("esc"))
	waitFor(t, tm, "1 not healthy")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if got := b.log(); !slices.Equal(got, []string{"open search", "close search"}) {
		t.Errorf("backend calls %v, want search opened and closed", got)
	}
}

// TestFleetOneOpeningAtATime: enter pressed twice before the first view
// shows opens one view; the backend is asked once.
func TestFleetOneOpeningAtATime(t *testing.T) {
	m, b := newTestFleet(t, newFleetJudge())
	pollPairs(m, fleetPairs...)
	first := m.mustUpdate(press("enter"))
	if second := m.mustUpdate(press("enter")); second != nil {
		t.Fatal("a second enter while opening asked for another view")
	}
	run(m, first)
	if m.child == nil || m.childPair != "cache" || !slices.Equal(b.log(), []string{"open cache"}) {
		t.Errorf("child %v %q, calls %v", m.child != nil, m.childPair, b.log())
	}
}
