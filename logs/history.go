package logs

import (
	"bytes"
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/wire"
)

// StateLogEvents turns a redis-state log (hooks.state_log) into journal
// events, for the history of nodes whose older redkeep wrote no journal:
// each notify's outcome ("ok: ...", "refused: ...", "failed: ...") is a
// transition, timed from its "keepalived STATE ... generation N" line; the
// check's "check failed" and "check healthy again" are health changes; a
// switchover's verify step, or its failure, is a switchover. Every event
// is marked wire.SourceLog. Lines before the before time only are kept
// (the journal has the rest); a zero before keeps all.
func StateLogEvents(data []byte, node string, loc *time.Location, before time.Time) []wire.Event {
	p := Parser{Node: node, Source: SourceState, Location: loc}
	starts := map[int]time.Time{}
	prev := ""
	var out []wire.Event
	for raw := range bytes.Lines(data) {
		ev := p.ParseAt(string(raw), time.Time{})
		if ev.Kind != KindHook || ev.Time.IsZero() {
			continue
		}
		e := wire.Event{Time: ev.Time, Node: node, Source: wire.SourceLog}
		msg := ev.Message
		state := strings.ToUpper(ev.State)
		switch ev.State {
		case "master", "backup", "fault", "stop":
			if strings.HasPrefix(msg, "keepalived "+state+" ") {
				starts[ev.PID] = ev.Time
				continue
			}
			result, rest, ok := strings.Cut(msg, ": ")
			if !ok || (result != wire.ResultOK && result != wire.ResultRefused && result != wire.ResultFailed) {
				continue
			}
			e.Event, e.From, e.To, e.Result, e.Detail = wire.EventTransition, prev, state, result, rest
			if t, ok := starts[ev.PID]; ok {
				// Timed from its start, as the journal times transitions.
				e.Time, e.TotalMS = t, ev.Time.Sub(t).Milliseconds()
				delete(starts, ev.PID)
			}
			prev = state
		case "check":
			switch {
			case strings.HasPrefix(msg, "check failed: "):
				e.Event, e.Result, e.Detail = wire.EventCheckFailed, wire.ResultFailed, strings.TrimPrefix(msg, "check failed: ")
			case msg == "check healthy again":
				e.Event, e.Result = wire.EventCheckOK, wire.ResultOK
			default:
				continue
			}
		case "switchover":
			switch {
			case strings.HasPrefix(msg, wire.StepVerify+" "+wire.StateDone):
				e.Event, e.Result, e.Detail = wire.EventSwitchover, wire.ResultOK, strings.TrimPrefix(strings.TrimPrefix(msg, wire.StepVerify+" "+wire.StateDone), ": ")
			case strings.Contains(msg, " "+wire.StateFailed+": ") && !strings.Contains(msg, "rolling back"):
				e.Event, e.Result, e.Detail = wire.EventSwitchover, wire.ResultFailed, msg
			default:
				continue
			}
		default:
			continue
		}
		if !before.IsZero() && !e.Time.Before(before) {
			continue
		}
		e.Detail = human.Truncate(e.Detail, 1000)
		out = append(out, e)
	}
	return out
}
