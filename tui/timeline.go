package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/redkeep/redkeep/logs"
)

// The timeline merges both nodes' meaningful events in time order and
// explains each keepalived transition by what led to it.

const (
	// causeWindow is how far back a transition looks for its causes.
	causeWindow = 10 * time.Second
	// maxLookback bounds the entries a transition's explanation reads.
	maxLookback = 64
	// maxReorder bounds how far back an out-of-order event is moved; events
	// from two hosts over SSH arrive a little out of order, not a lot.
	maxReorder = 256
)

// onTimeline reports whether an event belongs on the timeline: anything the
// parsers understood, and any warning or error. The hooks write each step
// to the redis-state log and a copy to syslog; the timeline takes the
// state log's, so a step is told once.
func onTimeline(e *logs.Event) bool {
	if e.Kind == logs.KindHook && e.Source != logs.SourceState {
		return false
	}
	return e.Kind != logs.KindRaw || e.Level >= logs.LevelWarn
}

// addToTimeline inserts e in time order and (re)explains the transitions
// its arrival may explain: a cause can arrive after its effect when the two
// come from different hosts.
func addToTimeline(p *logPane, e logs.Event) {
	p.push(entry{ev: e})
	r := p.lines
	i := r.Len() - 1
	for steps := 0; i > 0 && steps < maxReorder; steps++ {
		prev := r.At(i - 1)
		if !prev.ev.Time.After(e.Time) {
			break
		}
		cur := r.At(i)
		r.Set(i-1, cur)
		r.Set(i, prev)
		i--
	}
	for j := i; j < r.Len() && j <= i+maxLookback; j++ {
		x := r.At(j)
		if x.ev.Time.Sub(e.Time) > causeWindow {
			break
		}
		if x.ev.Kind == logs.KindTransition {
			x.reason = explain(r, j)
			p.lines.Set(j, entryWithHay(x))
		}
	}
}

// explain describes the transition at index i by the events before it:
// failed checks, priority changes and the other node's transitions since
// this node's previous transition, within causeWindow. For example
// "check failed on a, a FAULT, b MASTER after 0.3 s".
func explain(r *ring[entry], i int) string {
	t := r.At(i).ev
	this := fmt.Sprintf("%s %s", t.Node, t.State)
	var causes []logs.Event
	for j := i - 1; j >= 0 && i-j <= maxLookback; j-- {
		c := r.At(j).ev
		if t.Time.Sub(c.Time) > causeWindow {
			break
		}
		if c.Kind == logs.KindTransition && c.Node == t.Node {
			if c.State == t.State {
				continue // keepalived 1.x: "Transition to X" before "Entering X"
			}
			break // what came before belongs to that earlier transition
		}
		if isCause(&c, &t) {
			causes = append(causes, c)
		}
	}
	if len(causes) == 0 {
		return this
	}
	// causes is newest first; tell the story oldest first, once per step.
	var parts []string
	for k := len(causes) - 1; k >= 0; k-- {
		d := describe(&causes[k])
		if len(parts) == 0 || parts[len(parts)-1] != d {
			parts = append(parts, d)
		}
	}
	if len(parts) > 3 {
		parts = append(parts[:1], parts[len(parts)-2:]...)
	}
	first := causes[len(causes)-1].Time
	return fmt.Sprintf("%s, %s after %.1f s", strings.Join(parts, ", "), this, t.Time.Sub(first).Seconds())
}

// isCause reports whether e can explain transition t of another node or
// of t's node.
func isCause(e, t *logs.Event) bool {
	switch e.Kind {
	case logs.KindScript:
		// A failure anywhere; a check passing again only explains its
		// own node's recovery.
		return !e.OK || e.Node == t.Node
	case logs.KindDaemon:
		return e.State == "stop"
	case logs.KindPriority:
		return true
	case logs.KindTransition:
		// The peer gave up mastership (t becomes MASTER) or took it (t
		// steps down); the peer entering BACKUP at start-up explains
		// nothing.
		return (t.State == "MASTER") != (e.State == "MASTER")
	}
	return false
}

func describe(e *logs.Event) string {
	switch e.Kind {
	case logs.KindScript:
		track := strings.HasPrefix(e.Message, "track file")
		switch {
		case track && e.OK:
			return e.Node + " undrained"
		case track:
			return e.Node + " drained" // a planned switchover, or an operator
		case e.OK:
			return "check passed on " + e.Node
		}
		return "check failed on " + e.Node
	case logs.KindPriority:
		return fmt.Sprintf("%s priority %d", e.Node, e.Priority)
	case logs.KindDaemon:
		return e.Message + " on " + e.Node // "keepalived stopping on a"
	}
	return fmt.Sprintf("%s %s", e.Node, e.State)
}
