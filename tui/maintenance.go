package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/wire"
)

// Maintenance turns the pair's maintenance mode on or off, on both nodes.
type Maintenance interface {
	// Set turns maintenance on (for d, because of reason) or off. The text
	// says what each node did; the error, when a node did not, says which
	// node has maintenance on and which not.
	Set(ctx context.Context, on bool, reason string, d time.Duration) (string, error)
}

// maintenanceDoneMsg is the outcome of a maintenance on or off.
type maintenanceDoneMsg struct {
	on   bool
	text string
	err  error
}

func setMaintenance(ctx context.Context, mt Maintenance, on bool, reason string, d time.Duration) tea.Cmd {
	return func() tea.Msg {
		text, err := mt.Set(ctx, on, reason, d)
		return maintenanceDoneMsg{on: on, text: text, err: err}
	}
}

// maintenanceNow is the pair's maintenance as the latest snapshots show it
// at the console's clock: which nodes are in it, and the record of the
// first of them.
func (m *Model) maintenanceNow() (rec wire.Maintenance, in []string) {
	for _, p := range m.panels {
		s, ok := p.current()
		if !ok {
			continue
		}
		if r, on := s.InMaintenance(m.now); on {
			if len(in) == 0 {
				rec = r
			}
			in = append(in, p.name)
		}
	}
	return rec, in
}

// bannerView is the line above the header while a node is in maintenance:
// who, why and how long it has left, and that it holds off failover.
func (m *Model) bannerView() string {
	rec, in := m.maintenanceNow()
	if len(in) == 0 {
		return ""
	}
	st := &m.styles
	where := "on " + strings.Join(in, " and ")
	if len(in) < len(m.panels) {
		where += " only"
	}
	reason := rec.Reason
	if reason == "" {
		reason = "no reason given"
	}
	// The reason last: a narrow screen cuts it, not the time left.
	return st.Warn.Bold(true).Reverse(true).Render(" MAINTENANCE ") + " " +
		st.Warn.Render(fmt.Sprintf("%s · no failover · %s left · by %s: %s",
			where, human.Duration(rec.Until.Sub(m.now)), rec.Who(), reason))
}

// mtField is the maintenance dialog's focused input.
type mtField int

const (
	mtReason mtField = iota
	mtDuration
)

// maintenanceDialog asks for the reason and duration of a maintenance
// window, or confirms turning one off.
type maintenanceDialog struct {
	keys   MaintenanceKeyMap
	styles *Styles
	ctx    context.Context
	mt     Maintenance

	// off: maintenance is on somewhere, the dialog offers to end it.
	off    bool
	in     []string
	rec    wire.Maintenance
	reason textinput.Model
	dur    textinput.Model
	focus  mtField
	// problem is what is wrong with the input, shown under it.
	problem string
	// started is what the dialog started, "" until it starts it.
	started string
}

func newMaintenanceDialog(ctx context.Context, mt Maintenance, keys MaintenanceKeyMap, st *Styles, dark bool, rec wire.Maintenance, in []string) *maintenanceDialog {
	input := func(prompt, placeholder string, limit int) textinput.Model {
		t := textinput.New()
		t.Prompt = prompt
		t.Placeholder = placeholder
		t.CharLimit = limit
		ts := textinput.DefaultStyles(dark)
		ts.Cursor.Blink = false
		t.SetStyles(ts)
		return t
	}
	d := &maintenanceDialog{keys: keys, styles: st, ctx: ctx, mt: mt, off: len(in) > 0, in: in, rec: rec,
		reason: input("reason:   ", "why (shown to everyone)", wire.MaxMaintenanceReason),
		dur:    input("duration: ", "", 16)}
	d.dur.SetValue(strings.TrimSuffix(wire.DefaultMaintenance.String(), "0m0s")) // "1h"
	return d
}

// Init focuses the reason.
func (d *maintenanceDialog) Init() tea.Cmd {
	if d.off {
		return nil
	}
	return d.reason.Focus()
}

func (m *Model) openMaintenance() tea.Cmd {
	if m.maintRunning != "" {
		m.setStatus(false, "%s is still running", m.maintRunning)
		return nil
	}
	rec, in := m.maintenanceNow()
	m.maint = newMaintenanceDialog(m.opts.Context, m.opts.Maintenance, m.keys.MaintenanceDialog, &m.styles, m.dark, rec, in)
	m.status = ""
	return m.maint.Init()
}

// maintenanceKey hands a key to the dialog and records what it starts.
func (m *Model) maintenanceKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.maint
	var cmd tea.Cmd
	m.maint, cmd = d.Update(msg)
	if d.started != "" {
		m.maintRunning = d.started
		m.setStatus(false, "%s…", d.started)
	}
	return cmd
}

func (m *Model) onMaintenanceDone(msg maintenanceDoneMsg) tea.Cmd {
	verb := "off"
	if msg.on {
		verb = "on"
	}
	m.maintRunning = ""
	if msg.err != nil {
		m.setStatus(true, "maintenance %s: %v", verb, msg.err)
	} else {
		m.setStatus(false, "maintenance %s: %s", verb, msg.text)
	}
	return nil
}

// Update handles the dialog's keys; it returns nil once the dialog is
// closed, which it is as soon as it starts the change: the banner and the
// footer show how it went.
func (d *maintenanceDialog) Update(msg tea.Msg) (*maintenanceDialog, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil
	}
	switch {
	case key.Matches(k, d.keys.Cancel):
		return nil, nil
	case d.off && key.Matches(k, d.keys.Confirm):
		d.started = "turning maintenance off"
		return nil, setMaintenance(d.ctx, d.mt, false, "", 0)
	case d.off:
		return d, nil
	case key.Matches(k, d.keys.Next):
		if d.focus == mtReason {
			d.focus = mtDuration
			d.reason.Blur()
			return d, d.dur.Focus()
		}
		d.focus = mtReason
		d.dur.Blur()
		return d, d.reason.Focus()
	case key.Matches(k, d.keys.Confirm):
		dur, reason, problem := d.values()
		if problem != "" {
			d.problem = problem
			return d, nil
		}
		d.started = fmt.Sprintf("turning maintenance on for %s", dur)
		return nil, setMaintenance(d.ctx, d.mt, true, reason, dur)
	}
	var cmd tea.Cmd
	if d.focus == mtReason {
		d.reason, cmd = d.reason.Update(msg)
	} else {
		d.dur, cmd = d.dur.Update(msg)
	}
	d.problem = ""
	return d, cmd
}

// values checks the inputs as the nodes will: a duration above zero and
// at most wire.MaxMaintenance, a reason of printable text.
func (d *maintenanceDialog) values() (time.Duration, string, string) {
	reason := strings.TrimSpace(d.reason.Value())
	if err := wire.CheckReason(reason); err != nil {
		return 0, "", err.Error()
	}
	dur, err := time.ParseDuration(strings.TrimSpace(d.dur.Value()))
	switch {
	case err != nil:
		return 0, "", fmt.Sprintf("duration %q: write it like 30m or 2h", d.dur.Value())
	case dur <= 0:
		return 0, "", "duration: must be more than zero"
	case dur > wire.MaxMaintenance:
		return 0, "", fmt.Sprintf("duration: at most %s", wire.MaxMaintenance)
	}
	return dur, reason, ""
}

// View draws the dialog's content.
func (d *maintenanceDialog) View() string {
	st := d.styles
	k := d.keys
	var b strings.Builder
	if d.off {
		b.WriteString(st.Title.Render("Maintenance: turn it off") + "\n")
		reason := d.rec.Reason
		if reason == "" {
			reason = "no reason given"
		}
		fmt.Fprintf(&b, "on %s, by %s: %s\n", strings.Join(d.in, " and "), d.rec.Who(), reason)
		fmt.Fprintf(&b, "until %s\n", d.rec.Until.UTC().Format("2006-01-02 15:04:05 MST"))
		b.WriteString("Off, the hooks fail over again; on every node reachable.\n")
		fmt.Fprintf(&b, "%s turn off   %s cancel", st.Accent.Render(k.Confirm.Help().Key), st.Accent.Render(k.Cancel.Help().Key))
		return b.String()
	}
	b.WriteString(st.Title.Render("Maintenance: turn it on, on both nodes") + "\n")
	b.WriteString(st.Dim.Render("No Redis role change, no failing check, no switchover until off or expired.") + "\n")
	b.WriteString(st.Dim.Render("Restart Redis keeping its data (SHUTDOWN SAVE) and as a master.") + "\n")
	b.WriteString(d.reason.View() + "\n")
	b.WriteString(d.dur.View() + st.Dim.Render("  (at most 24h)") + "\n")
	if d.problem != "" {
		b.WriteString(st.Bad.Render(d.problem) + "\n")
	}
	fmt.Fprintf(&b, "%s next field   %s turn on   %s cancel", st.Accent.Render(k.Next.Help().Key), st.Accent.Render(k.Confirm.Help().Key), st.Accent.Render(k.Cancel.Help().Key))
	return b.String()
}
