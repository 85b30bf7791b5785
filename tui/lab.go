package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// labDialog picks a lab failure case and the node to inflict it on.
type labDialog struct {
	keys   LabKeyMap
	styles *Styles
	ctx    context.Context
	lab    Lab
	cases  []LabCase
	nodes  []string
	node   int
	// started is the command the dialog started, "" until it starts one.
	started string
}

func newLabDialog(ctx context.Context, lab Lab, keys LabKeyMap, st *Styles, nodes []string, node int) *labDialog {
	return &labDialog{keys: keys, styles: st, ctx: ctx, lab: lab, cases: lab.Cases(), nodes: nodes, node: node}
}

// openLab opens the lab dialog on the VIP holder: breaking the master is
// what shows a failover.
func (m *Model) openLab() {
	if m.labRunning != "" {
		m.setStatus(false, "%s is still running; one lab command at a time", m.labRunning)
		return
	}
	names := make([]string, len(m.panels))
	for i, p := range m.panels {
		names[i] = p.name
	}
	node, _ := m.panel(m.verdict.VIPHolder)
	m.lab = newLabDialog(m.opts.Context, m.opts.Lab, m.keys.LabDialog, &m.styles, names, max(node, 0))
	m.status = ""
}

// labKey hands a key to the lab dialog and records the command it starts.
func (m *Model) labKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.lab
	var cmd tea.Cmd
	m.lab, cmd = d.Update(msg)
	if d.started != "" {
		m.labRunning = d.started
		m.setStatus(false, "running %s…", d.started)
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

// Update runs the chosen case and closes the dialog at once (it returns
// nil), so the panels and the timeline are in view while the pair reacts.
func (d *labDialog) Update(msg tea.Msg) (*labDialog, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil
	}
	switch {
	case key.Matches(k, d.keys.Close):
		return nil, nil
	case key.Matches(k, d.keys.Node):
		d.node = (d.node + 1) % len(d.nodes)
	case key.Matches(k, d.keys.Heal):
		d.started = "lab heal"
		return nil, labHeal(d.ctx, d.lab)
	case key.Matches(k, d.keys.Case):
		i := int(k.String()[0] - '1')
		if i >= len(d.cases) {
			return d, nil
		}
		kase, node := d.cases[i].Name, d.nodes[d.node]
		d.started = "lab fail " + kase + " --node " + node
		return nil, labFail(d.ctx, d.lab, kase, node)
	}
	return d, nil
}

// View draws the dialog's content.
func (d *labDialog) View() string {
	st := d.styles
	var b strings.Builder
	b.WriteString(st.Title.Render("Lab: inject a failure") + "\n")
	k := d.keys
	fmt.Fprintf(&b, "on node %s %s\n", st.Bold.Render(d.nodes[d.node]), st.Dim.Render("("+k.Node.Help().Key+": other node)"))
	for i, c := range d.cases {
		if i >= 9 {
			break
		}
		fmt.Fprintf(&b, "%s %s %s\n", st.Accent.Render(fmt.Sprintf("%d", i+1)), padRight(c.Name, 15), st.Dim.Render(c.Help))
	}
	fmt.Fprintf(&b, "%s heal everything   %s close", st.Accent.Render(k.Heal.Help().Key), st.Accent.Render(k.Close.Help().Key))
	return b.String()
}
