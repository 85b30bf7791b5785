package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/redkeep/redkeep/internal/termsafe"
)

// swPhase is where a switchover dialog stands.
type swPhase int

const (
	swPreflight swPhase = iota // preflight running
	swRefused                  // preflight failed: nothing will happen
	swConfirm                  // preflight passed: waiting for the target's name
	swRunning                  // switchover running
	swDone                     // finished, successfully or not
)

// switchoverDialog is one switchover, from preflight to its last step. id
// tags its messages so a late answer to a cancelled dialog is dropped.
type switchoverDialog struct {
	keys   SwitchoverKeyMap
	styles *Styles
	ctx    context.Context
	sw     Switchover

	id       int
	target   string
	phase    swPhase
	checks   []Check
	err      error
	input    textinput.Model
	mismatch bool
	stream   <-chan Step
	steps    []Step

	// width and height are the room the dialog is drawn in.
	width, height int

	// note is a line for the console's footer, taken by the console after
	// each Update.
	note *note
}

// note is a line a dialog leaves for the console's footer.
type note struct {
	text string
	bad  bool
}

func newSwitchoverDialog(ctx context.Context, sw Switchover, keys SwitchoverKeyMap, st *Styles, dark bool, id int, target string) *switchoverDialog {
	in := textinput.New()
	in.Prompt = "> "
	in.CharLimit = 64
	ts := textinput.DefaultStyles(dark)
	ts.Cursor.Blink = false
	in.SetStyles(ts)
	return &switchoverDialog{keys: keys, styles: st, ctx: ctx, sw: sw, id: id, target: target, phase: swPreflight, input: in}
}

// Init runs the preflight.
func (d *switchoverDialog) Init() tea.Cmd {
	return runPreflight(d.ctx, d.sw, d.id, d.target)
}

// SetSize gives the dialog w columns and h lines.
func (d *switchoverDialog) SetSize(w, h int) {
	d.width, d.height = w, h
}

func (d *switchoverDialog) say(bad bool, format string, args ...any) {
	d.note = &note{text: fmt.Sprintf(format, args...), bad: bad}
}

func (d *switchoverDialog) failed() bool {
	if d.err != nil {
		return true
	}
	for _, s := range d.steps {
		if s.State == StepFailed {
			return true
		}
	}
	return false
}

// switchoverTarget picks the node to promote: the peer of the VIP holder,
// else of the Redis master.
func (m *Model) switchoverTarget() (string, error) {
	from := m.verdict.VIPHolder
	if from == "" {
		from = m.verdict.Master
	}
	if from == "" {
		return "", fmt.Errorf("no node holds the VIP or Redis master role; nothing to switch over from")
	}
	for _, p := range m.panels {
		if p.name != from {
			return p.name, nil
		}
	}
	return "", fmt.Errorf("no peer of %s", from)
}

func (m *Model) openSwitchover() tea.Cmd {
	target, err := m.switchoverTarget()
	if err != nil {
		m.setStatus(true, "switchover: %v", err)
		return nil
	}
	m.swSeq++
	m.sw = newSwitchoverDialog(m.opts.Context, m.opts.Switchover, m.keys.SwitchoverDialog, &m.styles, m.dark, m.swSeq, target)
	m.sw.SetSize(m.layout.dialogW, m.layout.dialogH)
	m.status = ""
	return m.sw.Init()
}

// updateSwitchover hands msg to the open switchover dialog, if any, and
// takes the line it leaves for the footer.
func (m *Model) updateSwitchover(msg tea.Msg) tea.Cmd {
	d := m.sw
	if d == nil {
		return nil
	}
	var cmd tea.Cmd
	m.sw, cmd = d.Update(msg)
	if n := d.note; n != nil {
		m.setStatus(n.bad, "%s", n.text)
		d.note = nil
	}
	return cmd
}

// Update handles the dialog's keys and its switchover's messages. It
// returns nil once the dialog is closed.
func (d *switchoverDialog) Update(msg tea.Msg) (*switchoverDialog, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		return d.onKey(k)
	}
	return d, d.onMsg(msg)
}

func (d *switchoverDialog) onMsg(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case preflightMsg:
		if msg.id != d.id || d.phase != swPreflight {
			return nil
		}
		return d.onPreflight(msg)
	case switchoverStartedMsg:
		if msg.id != d.id {
			return nil
		}
		if msg.err != nil {
			d.err, d.phase = msg.err, swDone
			d.say(true, "switchover to %s failed to start: %v", d.target, msg.err)
			return nil
		}
		d.stream = msg.steps
		return waitStep(d.id, d.stream)
	case stepMsg:
		if msg.id != d.id {
			return nil
		}
		msg.step.Name, msg.step.Node = termsafe.Clean(nodeLabel(msg.step.Node, msg.step.Name)), ""
		msg.step.Detail = termsafe.Clean(msg.step.Detail)
		d.setStep(msg.step)
		return waitStep(d.id, d.stream)
	case switchoverEndedMsg:
		if msg.id != d.id {
			return nil
		}
		d.phase = swDone
		if d.failed() {
			d.say(true, "switchover to %s failed: %s", d.target, d.lastDetail())
		} else {
			d.say(false, "switchover to %s done", d.target)
		}
	}
	return nil
}

// onPreflight shows the checks and asks for the target's name when every
// one passed.
func (d *switchoverDialog) onPreflight(msg preflightMsg) tea.Cmd {
	d.checks, d.err = msg.checks, msg.err
	for i := range d.checks {
		c := &d.checks[i]
		c.Name, c.Node = termsafe.Clean(nodeLabel(c.Node, c.Name)), ""
		c.Value, c.Threshold = termsafe.Clean(c.Value), termsafe.Clean(c.Threshold)
	}
	if d.err != nil || len(d.checks) == 0 || !allPass(d.checks) {
		d.phase = swRefused
		return nil
	}
	d.phase = swConfirm
	return d.input.Focus()
}

// setStep records a step's report: a step is reported when it starts and
// again when it ends, so a known name replaces its earlier report.
func (d *switchoverDialog) setStep(s Step) {
	for i := range d.steps {
		if d.steps[i].Name == s.Name {
			d.steps[i] = s
			return
		}
	}
	d.steps = append(d.steps, s)
}

func (d *switchoverDialog) lastDetail() string {
	if d.err != nil {
		return termsafe.Clean(d.err.Error())
	}
	for i := len(d.steps) - 1; i >= 0; i-- {
		if d.steps[i].State == StepFailed {
			if d.steps[i].Detail != "" {
				return d.steps[i].Name + ": " + d.steps[i].Detail
			}
			return d.steps[i].Name
		}
	}
	return "unknown"
}

// nodeLabel is how the dialog names a check or step about a node:
// "b: replication lag"; one about the pair keeps its name.
func nodeLabel(node, name string) string {
	if node == "" {
		return name
	}
	return node + ": " + name
}

func allPass(cs []Check) bool {
	for _, c := range cs {
		if !c.Pass {
			return false
		}
	}
	return true
}

func (d *switchoverDialog) onKey(msg tea.KeyPressMsg) (*switchoverDialog, tea.Cmd) {
	k := d.keys
	closing := key.Matches(msg, k.Cancel, k.Close, k.Confirm)
	switch d.phase {
	case swPreflight:
		if closing {
			d.say(false, "switchover cancelled during preflight")
			return nil, nil
		}
	case swRefused:
		if closing {
			d.say(true, "switchover to %s refused by preflight", d.target)
			return nil, nil
		}
	case swConfirm:
		return d.promptKey(msg)
	case swRunning:
		// A switchover is not interrupted from here: stopping half way is
		// what leaves a pair inconsistent. ctrl+c is still honoured by the
		// console.
		if key.Matches(msg, k.Close, k.Cancel) {
			d.say(false, "switchover running; wait for it to finish")
		}
	case swDone:
		if closing {
			return nil, nil
		}
	}
	return d, nil
}

// promptKey reads the target's name; the switchover starts only once it
// is typed exactly.
func (d *switchoverDialog) promptKey(msg tea.KeyPressMsg) (*switchoverDialog, tea.Cmd) {
	switch {
	case key.Matches(msg, d.keys.Cancel):
		d.say(false, "switchover cancelled")
		return nil, nil
	case key.Matches(msg, d.keys.Confirm):
		if strings.TrimSpace(d.input.Value()) != d.target {
			d.mismatch = true
			return d, nil
		}
		d.input.Blur()
		d.phase = swRunning
		return d, startSwitchover(d.ctx, d.sw, d.id, d.target)
	}
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(msg)
	d.mismatch = false
	return d, cmd
}

// View draws the dialog in its width and at most its height.
func (d *switchoverDialog) View() string {
	st := d.styles
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", st.Title.Render("Switchover: make "+d.target+" the master"))
	switch d.phase {
	case swPreflight:
		b.WriteString(st.Dim.Render("running preflight checks… (esc cancels)") + "\n")
	case swRunning, swDone:
		// The checks were read before confirming; the steps need the room
		// (and the run repeats its own preflight as a step).
	default:
		// Title, and two lines of verdict or prompt below the checks.
		b.WriteString(d.checksView(d.width, d.height-3))
	}
	switch d.phase {
	case swRefused:
		if d.err != nil {
			b.WriteString(st.Bad.Render("preflight failed: "+termsafe.Clean(d.err.Error())) + "\n")
		} else {
			b.WriteString(st.Bad.Render("refused: nothing was changed") + "\n")
		}
		b.WriteString(st.Dim.Render("esc closes"))
	case swConfirm:
		fmt.Fprintf(&b, "All checks passed. Type %s and press enter to switch over, esc cancels.\n", st.Bold.Render(d.target))
		b.WriteString(d.input.View())
		if d.mismatch {
			b.WriteString("  " + st.Warn.Render("type "+d.target+" exactly"))
		}
	case swRunning, swDone:
		b.WriteString(d.stepsView())
	}
	return b.String()
}

// stepsView lists the run's steps as they report, and how it ended.
func (d *switchoverDialog) stepsView() string {
	st := d.styles
	var b strings.Builder
	for _, s := range d.steps {
		var mark string
		switch s.State {
		case StepRunning:
			mark = st.Warn.Render("…")
		case StepDone:
			mark = st.Good.Render("✓")
		case StepFailed:
			mark = st.Bad.Render("✗")
		}
		line := mark + " " + s.Name
		if s.Detail != "" {
			line += st.Dim.Render("  " + s.Detail)
		}
		b.WriteString(line + "\n")
	}
	switch {
	case d.phase == swRunning:
		b.WriteString(st.Dim.Render("running…"))
	case d.failed():
		b.WriteString(st.Bad.Render("failed: "+d.lastDetail()) + st.Dim.Render("  (esc closes)"))
	default:
		b.WriteString(st.Good.Render("done: "+d.target+" is the master") + st.Dim.Render("  (esc closes)"))
	}
	return b.String()
}

// checksView lists the preflight's checks in at most h lines. When they do
// not all fit, the failed ones come first and the passing rest is counted.
func (d *switchoverDialog) checksView(w, h int) string {
	st := d.styles
	if len(d.checks) == 0 {
		return ""
	}
	shown := d.checks
	hidden := 0
	if len(shown) > h {
		var failed, passed []Check
		for _, c := range d.checks {
			if c.Pass {
				passed = append(passed, c)
			} else {
				failed = append(failed, c)
			}
		}
		room := max(h-1, 0) // one line says how many passed checks are hidden
		shown = append(failed, passed...)[:min(room, len(d.checks))]
		hidden = len(d.checks) - len(shown)
	}
	nameW := 0
	for _, c := range shown {
		nameW = max(nameW, lipgloss.Width(c.Name))
	}
	var b strings.Builder
	for _, c := range shown {
		mark := st.Good.Render("pass")
		if !c.Pass {
			mark = st.Bad.Render("FAIL")
		}
		line := mark + " " + padRight(c.Name, nameW) + "  " + c.Value
		if c.Threshold != "" && c.Threshold != c.Value {
			line += st.Dim.Render(" (" + c.Threshold + ")")
		}
		b.WriteString(ansi.Truncate(line, w, "…") + "\n")
	}
	if hidden > 0 {
		b.WriteString(st.Good.Render("pass") + st.Dim.Render(fmt.Sprintf(" … and %d more checks", hidden)) + "\n")
	}
	return b.String()
}
