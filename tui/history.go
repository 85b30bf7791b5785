package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/internal/termsafe"
)

// History reads the pair's event journals: both nodes', merged by time,
// oldest first (actions.FetchHistory over the console's connections).
type History interface {
	History(ctx context.Context) actions.History
}

// historyMsg is one fetched history, for the view opened as id.
type historyMsg struct {
	id int
	h  actions.History
}

func fetchHistory(ctx context.Context, h History, id int) tea.Cmd {
	return func() tea.Msg { return historyMsg{id: id, h: h.History(ctx)} }
}

// historyView is the history in the lower half: one line per event,
// newest at the bottom, scrolled with the log keys.
type historyView struct {
	id      int
	loading bool
	lines   []string
	errs    []string
	// off is how many lines from the bottom the view is scrolled up.
	off int
}

// HistoryKeyMap is the history view's keys (besides the scroll keys).
type HistoryKeyMap struct {
	Refresh key.Binding
	Close   key.Binding
}

// ShortHelp implements help.KeyMap.
func (k HistoryKeyMap) ShortHelp() []key.Binding { return []key.Binding{k.Refresh, k.Close} }

// FullHelp implements help.KeyMap.
func (k HistoryKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// openHistory shows the history view and fetches it.
func (m *Model) openHistory() tea.Cmd {
	m.histSeq++
	m.hist = &historyView{id: m.histSeq, loading: true}
	return fetchHistory(m.opts.Context, m.opts.History, m.histSeq)
}

func (m *Model) onHistory(msg historyMsg) {
	if m.hist == nil || msg.id != m.hist.id {
		return // closed or refreshed since
	}
	v := m.hist
	v.loading, v.lines, v.errs = false, nil, nil
	for _, e := range msg.h.Events {
		v.lines = append(v.lines, termsafe.Clean(e.String()))
	}
	for _, e := range append(msg.h.Errors, msg.h.Warnings...) {
		v.errs = append(v.errs, termsafe.Clean(e))
	}
}

func (m *Model) historyKey(msg tea.KeyPressMsg) tea.Cmd {
	v, k := m.hist, m.keys
	rows := m.historyRows()
	page := max(rows-1, 1)
	maxOff := max(len(v.lines)-rows, 0)
	switch {
	case key.Matches(msg, k.HistoryView.Close):
		m.hist = nil
	case key.Matches(msg, k.HistoryView.Refresh):
		return m.openHistory()
	case key.Matches(msg, k.Up):
		v.off++
	case key.Matches(msg, k.Down):
		v.off--
	case key.Matches(msg, k.PageUp):
		v.off += page
	case key.Matches(msg, k.PageDown):
		v.off -= page
	case key.Matches(msg, k.Top):
		v.off = maxOff
	case key.Matches(msg, k.Bottom):
		v.off = 0
	}
	if m.hist != nil {
		v.off = min(max(v.off, 0), maxOff)
	}
	return nil
}

// historyRows is how many event lines fit under the view's title and
// error lines.
func (m *Model) historyRows() int {
	return max(m.layout.dialogH-1-len(m.hist.errs), 1)
}

// View draws the history, the newest events at the bottom.
func (v *historyView) view(m *Model) string {
	st := &m.styles
	title := st.Title.Render("History") + st.Dim.Render("  both nodes' journals, newest last · r refresh · esc close")
	out := []string{title}
	for _, e := range v.errs {
		out = append(out, st.Bad.Render(ansi.Truncate(e, m.width-4, "…")))
	}
	switch {
	case v.loading:
		out = append(out, st.Dim.Render("reading both nodes' journals…"))
	case len(v.lines) == 0:
		out = append(out, st.Dim.Render("no events"))
	default:
		rows := m.historyRows()
		end := len(v.lines) - v.off
		start := max(end-rows, 0)
		for _, l := range v.lines[start:end] {
			out = append(out, ansi.Truncate(l, m.width-4, "…"))
		}
		if v.off > 0 {
			out[0] += st.Dim.Render(fmt.Sprintf("  (%d newer below)", v.off))
		}
	}
	return strings.Join(out, "\n")
}
