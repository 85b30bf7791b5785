package tui

import (
	"strings"

	"github.com/redkeep/redkeep/logs"
)

// entry is one line of a log pane.
type entry struct {
	ev logs.Event
	// reason explains a transition in the timeline ("" elsewhere).
	reason string
	// hay is the lower-cased text the filter searches.
	hay string
}

// logPane is a bounded, scrollable, filterable list of log lines. While it
// follows, it shows the newest lines; paused, it stays on the line it showed
// (anchor) however many lines arrive, until that line falls out of the ring.
type logPane struct {
	title  string
	lines  *ring[entry]
	follow bool
	anchor uint64 // when paused: sequence number of the bottom line shown
	filter string // lower-cased; "" shows everything
}

func newLogPane(title string, capacity int) *logPane {
	return &logPane{title: title, lines: newRing[entry](capacity), follow: true}
}

func (p *logPane) push(e entry) {
	p.lines.Push(entryWithHay(e))
}

// entryWithHay fills in what the filter searches.
func entryWithHay(e entry) entry {
	hay := e.ev.Node + " " + string(e.ev.Source) + " " + e.ev.Raw
	if e.ev.Message != e.ev.Raw { // an unparsed line's message is the line
		hay += " " + e.ev.Message
	}
	if e.reason != "" {
		hay += " " + e.reason
	}
	e.hay = strings.ToLower(hay)
	return e
}

func (p *logPane) matches(e *entry) bool {
	return p.filter == "" || strings.Contains(e.hay, p.filter)
}

// bottom returns the index of the bottom line to show.
func (p *logPane) bottom() int {
	if p.follow {
		return p.lines.Len() - 1
	}
	return p.lines.Index(p.anchor)
}

// visible returns up to n matching lines ending at the bottom line, oldest first.
func (p *logPane) visible(n int) []*entry {
	if n <= 0 || p.lines.Len() == 0 {
		return nil
	}
	out := make([]*entry, 0, n)
	for i := p.bottom(); i >= 0 && len(out) < n; i-- {
		e := p.lines.At(i)
		if p.matches(&e) {
			out = append(out, &e)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// scroll moves the view by n matching lines: negative is up (older). Any
// scroll pauses the pane, so the lines being read stay put.
func (p *logPane) scroll(n int) {
	if p.lines.Len() == 0 {
		return
	}
	i := p.bottom()
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for moved := 0; moved < n; {
		j := i + step
		for j >= 0 && j < p.lines.Len() {
			e := p.lines.At(j)
			if p.matches(&e) {
				break
			}
			j += step
		}
		if j < 0 || j >= p.lines.Len() {
			break
		}
		i = j
		moved++
	}
	p.follow = false
	p.anchor = p.lines.FirstSeq() + uint64(i)
}

// top shows the oldest lines the ring still holds.
func (p *logPane) top(height int) {
	if p.lines.Len() == 0 {
		return
	}
	// Put the anchor on the oldest line, then move down a page less one.
	p.follow = false
	p.anchor = p.lines.FirstSeq()
	first := p.lines.At(0)
	if !p.matches(&first) {
		p.scroll(1)
	}
	p.scroll(height - 1)
}

// setFollow resumes following the newest lines, or pauses on the current ones.
func (p *logPane) setFollow(on bool) {
	if !on && p.follow && p.lines.Len() > 0 {
		p.anchor = p.lines.NextSeq() - 1
	}
	p.follow = on
}

// behind counts the lines that arrived below a paused view.
func (p *logPane) behind() uint64 {
	if p.follow || p.lines.Len() == 0 {
		return 0
	}
	last := p.lines.NextSeq() - 1
	first := p.lines.FirstSeq() + uint64(p.bottom())
	return last - first
}
