package tui

import (
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
	id       int
	target   string
	phase    swPhase
	checks   []Check
	err      error
	input    textinput.Model
	mismatch bool
	stream   <-chan Step
	steps    []Step
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
	in := textinput.New()
	in.Prompt = "> "
	in.CharLimit = 64
	ts := textinput.DefaultStyles(m.dark)
	ts.Cursor.Blink = false
	in.SetStyles(ts)
	m.sw = &switchoverDialog{id: m.swSeq, target: target, phase: swPreflight, input: in}
	m.status = ""
	return runPreflight(m.opts.Context, m.opts.Switchover, m.sw.id, target)
}

func (m *Model) updateSwitchover(msg tea.Msg) tea.Cmd {
	d := m.sw
	switch msg := msg.(type) {
	case preflightMsg:
		if d == nil || msg.id != d.id || d.phase != swPreflight {
			return nil
		}
		d.checks, d.err = msg.checks, msg.err
		for i := range d.checks {
			c := &d.checks[i]
			c.Name, c.Value, c.Threshold = termsafe.Clean(c.Name), termsafe.Clean(c.Value), termsafe.Clean(c.Threshold)
		}
		if d.err != nil || len(d.checks) == 0 || !allPass(d.checks) {
			d.phase = swRefused
			return nil
		}
		d.phase = swConfirm
		return d.input.Focus()
	case switchoverStartedMsg:
		if d == nil || msg.id != d.id {
			return nil
		}
		if msg.err != nil {
			d.err, d.phase = msg.err, swDone
			m.setStatus(true, "switchover to %s failed to start: %v", d.target, msg.err)
			return nil
		}
		d.stream = msg.steps
		return waitStep(d.id, d.stream)
	case stepMsg:
		if d == nil || msg.id != d.id {
			return nil
		}
		msg.step.Name, msg.step.Detail = termsafe.Clean(msg.step.Name), termsafe.Clean(msg.step.Detail)
		d.setStep(msg.step)
		return waitStep(d.id, d.stream)
	case switchoverEndedMsg:
		if d == nil || msg.id != d.id {
			return nil
		}
		d.phase = swDone
		if d.failed() {
			m.setStatus(true, "switchover to %s failed: %s", d.target, d.lastDetail())
		} else {
			m.setStatus(false, "switchover to %s done", d.target)
		}
		return nil
	}
	return nil
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

func allPass(cs []Check) bool {
	for _, c := range cs {
		if !c.Pass {
			return false
		}
	}
	return true
}

func (m *Model) switchoverKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.sw
	switch d.phase {
	case swPreflight, swRefused:
		if key.Matches(msg, m.keys.Cancel, m.keys.Quit, m.keys.Confirm) {
			if d.phase == swPreflight {
				m.setStatus(false, "switchover cancelled during preflight")
			} else {
				m.setStatus(true, "switchover to %s refused by preflight", d.target)
			}
			m.sw = nil
		}
	case swConfirm:
		switch {
		case key.Matches(msg, m.keys.Cancel):
			m.sw = nil
			m.setStatus(false, "switchover cancelled")
		case key.Matches(msg, m.keys.Confirm):
			if strings.TrimSpace(d.input.Value()) != d.target {
				d.mismatch = true
				return nil
			}
			d.input.Blur()
			d.phase = swRunning
			return startSwitchover(m.opts.Context, m.opts.Switchover, d.id, d.target)
		default:
			var cmd tea.Cmd
			d.input, cmd = d.input.Update(msg)
			d.mismatch = false
			return cmd
		}
	case swRunning:
		// A switchover is not interrupted from here: stopping half way is
		// what leaves a pair inconsistent. ctrl+c is still honoured above.
		if key.Matches(msg, m.keys.Quit, m.keys.Cancel) {
			m.setStatus(false, "switchover running; wait for it to finish")
		}
	case swDone:
		if key.Matches(msg, m.keys.Cancel, m.keys.Quit, m.keys.Confirm) {
			m.sw = nil
		}
	}
	return nil
}

// switchoverView draws the dialog in w columns and at most h lines.
func (m *Model) switchoverView(w, h int) string {
	st := &m.styles
	d := m.sw
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
		b.WriteString(m.checksView(w, h-3))
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
		if d.phase == swRunning {
			b.WriteString(st.Dim.Render("running…"))
		} else if d.failed() {
			b.WriteString(st.Bad.Render("failed: "+d.lastDetail()) + st.Dim.Render("  (esc closes)"))
		} else {
			b.WriteString(st.Good.Render("done: "+d.target+" is the master") + st.Dim.Render("  (esc closes)"))
		}
	}
	return b.String()
}

// checksView lists the preflight's checks in at most h lines. When they do
// not all fit, the failed ones come first and the passing rest is counted.
func (m *Model) checksView(w, h int) string {
	st := &m.styles
	d := m.sw
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

// labDialog picks a lab failure case and the node to inflict it on.
type labDialog struct {
	node int
}

// openLab opens the lab dialog on the VIP holder: breaking the master is
// what shows a failover.
func (m *Model) openLab() {
	if m.labRunning != "" {
		m.setStatus(false, "%s is still running; one lab command at a time", m.labRunning)
		return
	}
	m.lab = &labDialog{}
	if i, _ := m.panel(m.verdict.VIPHolder); i >= 0 {
		m.lab.node = i
	}
	m.status = ""
}

// labKey runs the chosen case and closes the dialog at once, so the
// panels and the timeline are in view while the pair reacts.
func (m *Model) labKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.lab
	cases := m.opts.Lab.Cases()
	s := msg.String()
	var cmd tea.Cmd
	switch {
	case key.Matches(msg, m.keys.Cancel, m.keys.Quit, m.keys.Lab):
		m.lab = nil
	case s == "tab" || s == "n":
		d.node = (d.node + 1) % len(m.panels)
	case s == "h":
		m.labRunning = "lab heal"
		cmd = labHeal(m.opts.Context, m.opts.Lab)
	case len(s) == 1 && s[0] >= '1' && s[0] <= '9':
		i := int(s[0] - '1')
		if i >= len(cases) {
			return nil
		}
		node := m.panels[d.node].name
		m.labRunning = "lab fail " + cases[i].Name + " --node " + node
		cmd = labFail(m.opts.Context, m.opts.Lab, cases[i].Name, node)
	}
	if cmd != nil {
		m.lab = nil
		m.setStatus(false, "running %s…", m.labRunning)
	}
	return cmd
}

func (m *Model) onLabDone(msg labDoneMsg) tea.Cmd {
	m.labRunning = ""
	if msg.err != nil {
		m.setStatus(true, "%s: %v", msg.what, msg.err)
	} else {
		m.setStatus(false, "%s: done; watch the timeline", msg.what)
	}
	return nil
}

func (m *Model) labView() string {
	st := &m.styles
	d := m.lab
	var b strings.Builder
	b.WriteString(st.Title.Render("Lab: inject a failure") + "\n")
	node := m.panels[d.node].name
	fmt.Fprintf(&b, "on node %s %s\n", st.Bold.Render(node), st.Dim.Render("(tab: other node)"))
	for i, c := range m.opts.Lab.Cases() {
		if i >= 9 {
			break
		}
		fmt.Fprintf(&b, "%s %s %s\n", st.Accent.Render(fmt.Sprintf("%d", i+1)), padRight(c.Name, 15), st.Dim.Render(c.Help))
	}
	fmt.Fprintf(&b, "%s heal everything   %s close", st.Accent.Render("h"), st.Accent.Render("esc"))
	return b.String()
}
