package tui

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

// replID is the pair's shared replication history in the fixtures.
const replID = "8e2a6b0c4f3d1a9e7b5c3d1f0a2b4c6d8e0f1a2b"

// t0 is the fixed "now" of every test view.
var t0 = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

// fakeBackend feeds the console through its real input streams.
type fakeBackend struct {
	snaps  map[string]chan nodes.Snapshot
	events chan logs.Event
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{
		snaps:  map[string]chan nodes.Snapshot{"a": make(chan nodes.Snapshot, 16), "b": make(chan nodes.Snapshot, 16)},
		events: make(chan logs.Event, 4096),
	}
}

func (f *fakeBackend) Snapshots(node string) <-chan nodes.Snapshot { return f.snaps[node] }
func (f *fakeBackend) Events() <-chan logs.Event                   { return f.events }

// fakeJudge returns whatever verdict the test set.
type fakeJudge struct {
	mu sync.Mutex
	v  Verdict
}

func (j *fakeJudge) judge([]nodes.Snapshot) Verdict {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.v
}

// fakeSwitchover records what the console asked of it.
type fakeSwitchover struct {
	mu         sync.Mutex
	checks     []Check
	steps      []Step
	preflights []string
	runs       []string
}

func (f *fakeSwitchover) Preflight(_ context.Context, target string) ([]Check, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.preflights = append(f.preflights, target)
	return f.checks, nil
}

func (f *fakeSwitchover) Run(_ context.Context, target string) (<-chan Step, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, target)
	ch := make(chan Step, len(f.steps))
	for _, s := range f.steps {
		ch <- s
	}
	close(ch)
	return ch, nil
}

func (f *fakeSwitchover) calls() (preflights, runs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.preflights...), append([]string(nil), f.runs...)
}

type fakeLab struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeLab) Cases() []LabCase {
	return []LabCase{
		{"redis-down", "redis-server crashes (SIGKILL) and stays down"},
		{"redis-restart", "redis-server crashes and restarts at once, empty"},
		{"keepalived-kill", "keepalived is SIGKILLed: no notify runs"},
		{"keepalived-stop", "keepalived stops cleanly (SIGTERM)"},
		{"both-down", "keepalived and redis-server are SIGKILLed"},
		{"node-down", "every process dies and the link goes down"},
		{"partition", "the node's link goes down; processes keep running"},
	}
}

func (f *fakeLab) Fail(_ context.Context, kase, node string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, kase+"@"+node)
	return nil
}

func (f *fakeLab) Heal(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "heal")
	return nil
}

func passingChecks() []Check {
	return []Check{
		{Name: "ssh reachable", Value: "a, b", Pass: true},
		{Name: "redkeep version", Value: "dev = dev", Pass: true},
		{Name: "keepalived running", Value: "a, b", Pass: true},
		{Name: "one VIP holder, the master", Value: "a", Pass: true},
		{Name: "target replica, link up", Value: "b ← a up", Pass: true},
		{Name: "byte lag", Value: "89 B", Threshold: "<= 1 MiB", Pass: true},
	}
}

func healthyVerdict() Verdict { return Verdict{Healthy: true, VIPHolder: "a", Master: "a"} }

func snapMaster(node string) nodes.Snapshot {
	return nodes.Snapshot{
		Node: node, Time: t0.Add(-300 * time.Millisecond), Took: 12 * time.Millisecond,
		Conn: nodes.ConnConnected, Version: "dev",
		Keepalived: nodes.Keepalived{Running: true, State: "MASTER", Priority: 150, Since: t0.Add(-2*time.Minute - 13*time.Second), LastAction: "master", LastResult: "promoted, offset 123456789"},
		HoldsVIP:   true,
		Redis: nodes.Redis{Up: true, Info: replication.Info{
			Role: replication.RoleMaster, ReplID: replID, MasterReplOffset: 123456789, ConnectedReplicas: 1,
			Replicas: []replication.Replica{{IP: "198.51.100.12", Port: 6379, State: "online", Offset: 123456700}},
			Keys:     104857,
		}},
	}
}

func snapReplica(node string) nodes.Snapshot {
	return nodes.Snapshot{
		Node: node, Time: t0.Add(-200 * time.Millisecond), Took: 9 * time.Millisecond,
		Conn: nodes.ConnConnected, Version: "dev",
		Keepalived: nodes.Keepalived{Running: true, State: "BACKUP", Priority: 100, Since: t0.Add(-2*time.Minute - 13*time.Second), LastAction: "backup", LastResult: "replica of 198.51.100.11:6379"},
		Redis: nodes.Redis{Up: true, Info: replication.Info{
			Role: replication.RoleReplica, ReplID: replID, MasterHost: "198.51.100.11", MasterPort: 6379, LinkUp: true,
			LinkDownSecs: -1, LastIOSecs: 0, ReplicaOffset: 123456700, MasterReplOffset: 123456700, Keys: 104857,
		}},
	}
}

// failoverEvents is what both nodes log when a's Redis dies: the check
// fails, a goes FAULT, b becomes MASTER and promotes its Redis.
func failoverEvents() []logs.Event {
	at := func(ms int) time.Time { return t0.Add(-10*time.Second + time.Duration(ms)*time.Millisecond) }
	return []logs.Event{
		{Node: "a", Source: logs.SourceSyslog, Time: at(0), Kind: logs.KindRaw, Raw: "Nov 26 02:59:50 a redis-server[812]: # User requested shutdown..."},
		{Node: "a", Source: logs.SourceSyslog, Time: at(100), Kind: logs.KindScript, Level: logs.LevelWarn, OK: false, Message: "check chk_redis failed", Raw: "Nov 26 02:59:50 a Keepalived_vrrp[640]: Script `chk_redis` now returning 1"},
		{Node: "a", Source: logs.SourceSyslog, Time: at(200), Kind: logs.KindTransition, State: "FAULT", Instance: "VI_REDIS", Message: "VI_REDIS FAULT", Raw: "Nov 26 02:59:50 a Keepalived_vrrp[640]: (VI_REDIS) Entering FAULT STATE"},
		{Node: "b", Source: logs.SourceSyslog, Time: at(400), Kind: logs.KindTransition, State: "MASTER", Instance: "VI_REDIS", Message: "VI_REDIS MASTER", Raw: "Nov 26 02:59:50 b Keepalived_vrrp[641]: (VI_REDIS) Entering MASTER STATE"},
		{Node: "b", Source: logs.SourceState, Time: at(420), Kind: logs.KindHook, State: "master", PID: 2201, Message: "master: promoted at offset 123456789", Raw: "2026-11-26:02:59:50.420|2201|state:[master] promoted at offset 123456789"},
		{Node: "a", Source: logs.SourceSyslog, Time: at(900), Kind: logs.KindRaw, Level: logs.LevelError, Message: "redis down", Raw: "Nov 26 02:59:50 a redkeep[2202]: redis 127.0.0.1:6379: connection refused"},
	}
}

type testOpt func(*Options)

func newTestModel(t testing.TB, judge *fakeJudge, opts ...testOpt) (*Model, *fakeBackend) {
	t.Helper()
	b := newFakeBackend()
	o := Options{
		Nodes:   []NodeInfo{{Name: "a", Host: "198.51.100.11"}, {Name: "b", Host: "198.51.100.12"}},
		VIP:     "198.51.100.100",
		Backend: b,
		Judge:   judge.judge,
		Now:     func() time.Time { return t0 },
		Tick:    -1,
	}
	for _, f := range opts {
		f(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m, b
}

// feed hands messages to the model as the program would, ignoring Cmds.
func feed(m *Model, msgs ...tea.Msg) {
	for _, msg := range msgs {
		m.Update(msg)
	}
}

func snaps(ss ...nodes.Snapshot) []tea.Msg {
	var out []tea.Msg
	for _, s := range ss {
		out = append(out, snapshotMsg{node: s.Node, snap: s})
	}
	return out
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// screen renders the model at a fixed size through a fixed colour profile,
// as the terminal would receive it.
func screen(t testing.TB, m *Model, w, h int, profile colorprofile.Profile) string {
	t.Helper()
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	var buf bytes.Buffer
	cw := &colorprofile.Writer{Forward: &buf, Profile: profile}
	if _, err := cw.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func teaSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }
