package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// Backend is the live state of the pair as streams. The console reads them
// only through Cmds, so the model itself never blocks or does I/O.
type Backend interface {
	// Snapshots returns the stream of polls of one node. The channel is
	// closed when the backend stops.
	Snapshots(node string) <-chan nodes.Snapshot
	// Events returns the parsed log lines of both nodes, in arrival order.
	Events() <-chan logs.Event
}

// Verdict is the pair's health as the console shows it in the header.
type Verdict struct {
	Healthy bool
	// Problems are one-line reasons, most serious first, e.g. "two Redis masters".
	Problems []string
	// VIPHolder and Master name nodes, "" when none.
	VIPHolder string
	Master    string
}

// JudgeFunc decides the pair's verdict from the latest snapshot of each node.
// It must be pure and quick: the console calls it on every snapshot.
type JudgeFunc func(snaps []nodes.Snapshot) Verdict

// Check is one preflight check of a switchover, with what was measured.
// The dialog shows its Node and Name together ("b: replication lag").
type Check = actions.Check

// StepState is where one switchover step stands.
type StepState = actions.StepState

// Step states.
const (
	StepRunning = actions.StepRunning
	StepDone    = actions.StepDone
	StepFailed  = actions.StepFailed
)

// Step is one progress report of a running switchover. A step is reported
// when it starts and again when it ends; Node and Name identify it.
type Step = actions.Step

// Switchover runs planned switchovers. Preflight changes nothing.
type Switchover interface {
	Preflight(ctx context.Context, target string) ([]Check, error)
	// Run starts the switchover and reports its steps on the channel, which
	// is closed when it ends. The last step says how it ended.
	Run(ctx context.Context, target string) (<-chan Step, error)
}

// LabCase is one of the lab's failure cases.
type LabCase struct {
	Name string // as `redkeep lab fail` takes it
	Help string // one line on what it does
}

// Lab injects the lab's failure cases into a node, for teaching.
type Lab interface {
	Cases() []LabCase
	Fail(ctx context.Context, kase, node string) error
	Heal(ctx context.Context) error
}

// Messages from the outside world. Each carries what it is about, so stale
// ones can be recognised and dropped.
type (
	snapshotMsg struct {
		node string
		snap nodes.Snapshot
	}
	snapshotsClosedMsg struct{ node string }
	eventsMsg          struct{ events []logs.Event }
	eventsClosedMsg    struct{}

	preflightMsg struct {
		id     int
		target string
		checks []Check
		err    error
	}
	stepMsg struct {
		id   int
		step Step
	}
	switchoverStartedMsg struct {
		id    int
		steps <-chan Step
		err   error
	}
	switchoverEndedMsg struct{ id int }

	labDoneMsg struct {
		what string
		err  error
	}
)

// maxEventBatch bounds how many queued log events one message carries: at
// thousands of lines a second a message per line would redraw per line.
const maxEventBatch = 1024

// waitSnapshot reads the next snapshot of node. When several are queued only
// the newest matters, so the older ones are skipped.
func waitSnapshot(node string, ch <-chan nodes.Snapshot) tea.Cmd {
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return snapshotsClosedMsg{node: node}
		}
		for {
			select {
			case newer, ok := <-ch:
				if !ok {
					return snapshotMsg{node: node, snap: s}
				}
				s = newer
			default:
				return snapshotMsg{node: node, snap: s}
			}
		}
	}
}

// waitEvents reads the next log events: it blocks for one, then takes what
// else is already queued, up to maxEventBatch.
func waitEvents(ch <-chan logs.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		batch := []logs.Event{e}
		for len(batch) < maxEventBatch {
			select {
			case e, ok := <-ch:
				if !ok {
					return eventsMsg{events: batch}
				}
				batch = append(batch, e)
			default:
				return eventsMsg{events: batch}
			}
		}
		return eventsMsg{events: batch}
	}
}

func runPreflight(ctx context.Context, sw Switchover, id int, target string) tea.Cmd {
	return func() tea.Msg {
		checks, err := sw.Preflight(ctx, target)
		return preflightMsg{id: id, target: target, checks: checks, err: err}
	}
}

func startSwitchover(ctx context.Context, sw Switchover, id int, target string) tea.Cmd {
	return func() tea.Msg {
		steps, err := sw.Run(ctx, target)
		return switchoverStartedMsg{id: id, steps: steps, err: err}
	}
}

func waitStep(id int, ch <-chan Step) tea.Cmd {
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return switchoverEndedMsg{id: id}
		}
		return stepMsg{id: id, step: s}
	}
}

func labFail(ctx context.Context, lab Lab, kase, node string) tea.Cmd {
	return func() tea.Msg {
		return labDoneMsg{what: "lab fail " + kase + " --node " + node, err: lab.Fail(ctx, kase, node)}
	}
}

func labHeal(ctx context.Context, lab Lab) tea.Cmd {
	return func() tea.Msg {
		return labDoneMsg{what: "lab heal", err: lab.Heal(ctx)}
	}
}
