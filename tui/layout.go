package tui

// Layout heights.
const (
	footerLines  = 1
	minLogHeight = 3
	// sideBySideLogs is the width from which both nodes' logs fit side by side.
	sideBySideLogs = 140
	// helpLabelW is the width of the dialogs' names in the help.
	helpLabelW = 11
)

// layout is the screen's geometry. It is computed when the terminal's size
// changes and when the state that shapes the screen does (the verdict's
// lines in the header, the zoom), so View only reads it and Update never
// draws to measure.
type layout struct {
	header int // lines of the header
	panels int // lines of the node panels, 0 when zoomed
	// panelW is the width of each node panel, border included; the panels
	// stand side by side when the screen is wide enough for them.
	panelW     []int
	sideBySide bool
	// panelContentW is the room inside each panel's border and padding.
	panelContentW []int
	lower         int // lines of the log area, or of the dialog or help in its place
	logRows       int // log lines below the tab bar
	// logCols are the widths of the two nodes' logs side by side, nil when
	// one pane takes the width.
	logCols []int
	// dialogW and dialogH are the room inside a dialog's border.
	dialogW, dialogH int
	// dialogHelpW is the room for a dialog's keys in the help, after its name.
	dialogHelpW int
}

// setSize records the terminal's size and lays the screen out for it.
func (m *Model) setSize(w, h int) {
	m.width, m.height = w, h
	m.help.SetWidth(w)
	m.filter.SetWidth(max(w/3, 10))
	m.relayout()
}

// relayout computes the layout from the size and the state that shapes the
// screen, and hands the open dialog its room.
func (m *Model) relayout() {
	l := layout{header: 1 + len(m.headerProblems())}
	if _, in := m.maintenanceNow(); len(in) > 0 {
		l.header++ // the banner
	}
	l.panelW, l.sideBySide = panelWidths(m.width, len(m.panels))
	for _, w := range l.panelW {
		l.panelContentW = append(l.panelContentW, max(w-4, 1))
	}
	if !m.zoom {
		l.panels = panelRows + 2 // the border
		if !l.sideBySide {
			l.panels *= len(m.panels)
		}
	}
	l.lower = max(m.height-l.header-l.panels-footerLines, minLogHeight)
	l.logRows = l.lower - 1 // the tab bar
	if m.width >= sideBySideLogs {
		colW := (m.width - 1) / 2 // a column of │ between them
		l.logCols = []int{colW, m.width - 1 - colW}
	}
	l.dialogW, l.dialogH = m.width-4, l.lower-2 // border and padding
	l.dialogHelpW = max(m.width-4-helpLabelW, 1)
	m.layout = l
	if m.sw != nil {
		m.sw.SetSize(l.dialogW, l.dialogH)
	}
}

// panelWidths shares the width among n panels: side by side when each gets
// panelMinWidth, the last one taking the odd column; else each the whole
// width, stacked.
func panelWidths(width, n int) ([]int, bool) {
	ws := make([]int, n)
	if width < n*panelMinWidth {
		for i := range ws {
			ws[i] = width
		}
		return ws, false
	}
	for i := range ws {
		ws[i] = width / n
	}
	ws[n-1] = width - width/n*(n-1)
	return ws, true
}
