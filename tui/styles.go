package tui

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles are every style the console draws with. They use the 16 basic ANSI
// colours only, so the terminal's own palette (and its light or dark theme)
// decides the exact shades, and nothing is lost on a 16-colour terminal.
// NO_COLOR is handled by the renderer's colour profile, so no meaning is
// carried by colour alone: states are also spelled out.
type Styles struct {
	Title   lipgloss.Style
	Good    lipgloss.Style
	Warn    lipgloss.Style
	Bad     lipgloss.Style
	Dim     lipgloss.Style
	Label   lipgloss.Style
	Bold    lipgloss.Style
	Accent  lipgloss.Style
	Panel   lipgloss.Style
	Tab     lipgloss.Style
	TabOn   lipgloss.Style
	Dialog  lipgloss.Style
	Transit lipgloss.Style // keepalived transitions and role changes in logs
	Help    help.Styles

	// ink holds the hot path's styles (log lines, drawn by the thousand)
	// as plain escape sequences.
	ink struct{ dim, bold, bad, warn, transit ink }
}

// ink is a single-line style reduced to the escape sequences around its
// text: lipgloss measures and wraps on every Render, which a log line
// truncated to the screen's width does not need.
type ink struct{ pre, post string }

func inkOf(s lipgloss.Style) ink {
	const mark = "\x00"
	r := s.Render(mark)
	i := strings.Index(r, mark)
	if i < 0 {
		return ink{}
	}
	return ink{pre: r[:i], post: r[i+len(mark):]}
}

func (k ink) paint(s string) string {
	if k.pre == "" && k.post == "" {
		return s
	}
	return k.pre + s + k.post
}

// NewStyles builds the styles for a dark or light terminal background.
func NewStyles(dark bool) Styles {
	ld := lipgloss.LightDark(dark)
	red := lipgloss.Color("1")
	green := ld(lipgloss.Color("2"), lipgloss.Color("10"))
	yellow := ld(lipgloss.Color("3"), lipgloss.Color("11"))
	cyan := ld(lipgloss.Color("6"), lipgloss.Color("14"))
	magenta := ld(lipgloss.Color("5"), lipgloss.Color("13"))
	dim := lipgloss.Color("8")
	border := ld(lipgloss.Color("8"), lipgloss.Color("7"))

	s := Styles{
		Title:   lipgloss.NewStyle().Bold(true),
		Good:    lipgloss.NewStyle().Foreground(green),
		Warn:    lipgloss.NewStyle().Foreground(yellow),
		Bad:     lipgloss.NewStyle().Foreground(red).Bold(true),
		Dim:     lipgloss.NewStyle().Foreground(dim),
		Label:   lipgloss.NewStyle().Foreground(dim),
		Bold:    lipgloss.NewStyle().Bold(true),
		Accent:  lipgloss.NewStyle().Foreground(cyan),
		Panel:   lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(border).Padding(0, 1),
		Tab:     lipgloss.NewStyle().Foreground(dim).Padding(0, 1),
		TabOn:   lipgloss.NewStyle().Bold(true).Reverse(true).Padding(0, 1),
		Dialog:  lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(cyan).Padding(0, 1),
		Transit: lipgloss.NewStyle().Foreground(magenta).Bold(true),
	}
	s.ink.dim, s.ink.bold, s.ink.bad = inkOf(s.Dim), inkOf(s.Bold), inkOf(s.Bad)
	s.ink.warn, s.ink.transit = inkOf(s.Warn), inkOf(s.Transit)
	key := lipgloss.NewStyle().Foreground(cyan)
	desc := lipgloss.NewStyle()
	sep := lipgloss.NewStyle().Foreground(dim)
	s.Help = help.Styles{
		Ellipsis:       sep,
		ShortKey:       key,
		ShortDesc:      desc,
		ShortSeparator: sep,
		FullKey:        key,
		FullDesc:       desc,
		FullSeparator:  sep,
	}
	return s
}
