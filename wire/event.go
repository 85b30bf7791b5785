package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redkeep/redkeep/internal/human"
)

// Event kinds: what happened on a node. Readers accept kinds they do not
// know (a newer redkeep on the node) as long as they look like one.
const (
	EventTransition     = "transition"      // a keepalived state change handled by the notify hook
	EventSwitchover     = "switchover"      // a planned switchover, recorded by the old master's node
	EventResolve        = "resolve"         // a split brain resolved on the losing node
	EventMaintenanceOn  = "maintenance-on"  // maintenance mode switched on
	EventMaintenanceOff = "maintenance-off" // maintenance mode switched off
	EventMaintenanceExp = "maintenance-expired"
	EventCheckFailed    = "check-failed" // the health check started failing
	EventCheckOK        = "check-ok"     // the health check is healthy again
)

// SourceLog marks an event read from the redis-state log (older redkeep
// versions wrote no journal) rather than from the event journal.
const SourceLog = "log"

// EventTimeLayout is the journal's time: RFC 3339 with milliseconds.
const EventTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MaxEventLine caps one journal line. It is below PIPE_BUF (4096) so a
// line is one small write(2); a longer event has its detail shortened.
const MaxEventLine = 4000

// Event is one line of a node's event journal (hooks.event_log): a
// transition or an operator action, who did it, why, how long it took and
// how it ended. `redkeep hook history --json` prints them, the console's
// history merges both nodes', notifications carry one each.
//
// Durations are whole milliseconds; 0 means not measured or not part of
// this event (a BACKUP transition pauses no writes).
type Event struct {
	Time  time.Time `json:"-"`
	Node  string    `json:"node"`
	Event string    `json:"event"`
	// From and To are keepalived states for a transition, node names for
	// a switchover or resolve (the data kept), "" otherwise.
	From           string `json:"from,omitempty"`
	To             string `json:"to,omitempty"`
	WritesPausedMS int64  `json:"writes_paused_ms,omitempty"`
	VIPMovedMS     int64  `json:"vip_moved_ms,omitempty"`
	TotalMS        int64  `json:"total_ms,omitempty"`
	// Operator is user@console-host for an operator's action.
	Operator string `json:"operator,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Result is ok, refused or failed ("" for a plain observation).
	Result string `json:"result,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Source is SourceLog for an event parsed from the redis-state log.
	Source string `json:"source,omitempty"`
}

// eventJSON is Event with its time in EventTimeLayout.
type eventJSON struct {
	Time string `json:"time"`
	eventFields
}

type eventFields Event

// MarshalJSON writes the time first, in EventTimeLayout.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(eventJSON{Time: e.Time.Format(EventTimeLayout), eventFields: eventFields(e)})
}

// UnmarshalJSON reads what MarshalJSON writes (any RFC 3339 time).
func (e *Event) UnmarshalJSON(data []byte) error {
	var j eventJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return fmt.Errorf("time %q: want RFC 3339", human.Abbrev(j.Time, 40))
	}
	*e = Event(j.eventFields)
	e.Time = t
	return nil
}

// Duration fields as time.Duration.
func (e Event) WritesPaused() time.Duration {
	return time.Duration(e.WritesPausedMS) * time.Millisecond
}

// VIPMoved is how long the VIP took to move.
func (e Event) VIPMoved() time.Duration { return time.Duration(e.VIPMovedMS) * time.Millisecond }

// Total is how long the whole transition or action took.
func (e Event) Total() time.Duration { return time.Duration(e.TotalMS) * time.Millisecond }

// maxEventField caps the short fields (node, event, states, result).
const maxEventField = 64

// ParseEvent decodes one journal line, bounded like ParseState: a line
// longer than MaxEventLine, trailing data, an event without a time or a
// kind, a kind or result that is not one, or a negative duration is an
// error naming what is wrong. Unknown fields are allowed (a newer redkeep).
func ParseEvent(line []byte) (Event, error) {
	if len(line) > MaxEventLine+1 {
		return Event{}, fmt.Errorf("parse event: line is %d bytes, more than %d", len(line), MaxEventLine)
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("parse event: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("parse event: trailing data after the JSON object")
	}
	if err := e.Validate(); err != nil {
		return Event{}, fmt.Errorf("parse event: %w", err)
	}
	return e, nil
}

// Validate checks the fields a reader relies on.
func (e Event) Validate() error {
	if e.Time.IsZero() {
		return errors.New("no time")
	}
	if !validKind(e.Event) {
		return fmt.Errorf("event %q is not an event kind (lowercase letters, digits and '-')", human.Abbrev(e.Event, 40))
	}
	for _, f := range []struct{ name, v string }{{"node", e.Node}, {"from", e.From}, {"to", e.To}, {"result", e.Result}, {"source", e.Source}} {
		if len(f.v) > maxEventField || !utf8.ValidString(f.v) {
			return fmt.Errorf("%s %q is longer than %d bytes or not UTF-8", f.name, human.Abbrev(f.v, 40), maxEventField)
		}
	}
	switch e.Result {
	case "", ResultOK, ResultRefused, ResultFailed:
	default:
		return fmt.Errorf("unknown result %q (ok, refused, failed)", human.Abbrev(e.Result, 40))
	}
	if e.WritesPausedMS < 0 || e.VIPMovedMS < 0 || e.TotalMS < 0 {
		return errors.New("negative duration")
	}
	return nil
}

func validKind(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' && i > 0 || c == '-' && i > 0) {
			return false
		}
	}
	return true
}

// Line encodes e as one journal line (with its newline), at most
// MaxEventLine bytes: the longest of detail, reason and operator is cut
// until it fits (JSON escapes may make a field longer than its bytes).
func (e Event) Line() ([]byte, error) {
	for range 64 {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		if len(b)+1 <= MaxEventLine {
			return append(b, '\n'), nil
		}
		over := len(b) + 1 - MaxEventLine
		f := &e.Detail
		for _, g := range []*string{&e.Reason, &e.Operator} {
			if len(*g) > len(*f) {
				f = g
			}
		}
		if len(*f) == 0 {
			break
		}
		*f = human.Truncate(*f, len(*f)-max(over, len(*f)/4, 1))
	}
	return nil, fmt.Errorf("event %s does not fit a journal line of %d bytes", human.Abbrev(e.Event, 40), MaxEventLine)
}

// String is a one-line human summary: time, node, kind, states, numbers.
func (e Event) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  %-6s %-19s", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Node, e.Event)
	if e.From != "" || e.To != "" {
		fmt.Fprintf(&b, " %s -> %s", dash(e.From), dash(e.To))
	}
	if e.Result != "" {
		fmt.Fprintf(&b, " %s", e.Result)
	}
	for _, d := range []struct {
		name string
		ms   int64
	}{{"writes paused", e.WritesPausedMS}, {"VIP moved", e.VIPMovedMS}, {"total", e.TotalMS}} {
		if d.ms > 0 {
			fmt.Fprintf(&b, "; %s %dms", d.name, d.ms)
		}
	}
	if e.Operator != "" {
		fmt.Fprintf(&b, "; by %s", e.Operator)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, "; reason: %s", e.Reason)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, "; %s", e.Detail)
	}
	if e.Source == SourceLog {
		b.WriteString(" (from the state log)")
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// MaxOperator caps an operator name: user@host.
const MaxOperator = 128

// CheckOperator refuses an operator that is not user@host in letters,
// digits, '.', '_' and '-': it is passed over SSH to the node as a flag and
// written to the journal and to notifications.
func CheckOperator(s string) error {
	user, host, ok := strings.Cut(s, "@")
	if !ok || user == "" || host == "" || len(s) > MaxOperator || strings.IndexFunc(user+host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 || user[0] == '-' {
		return fmt.Errorf("operator %q is not user@host (letters, digits, '.', '_', '-'; at most %d bytes)", human.Abbrev(s, 40), MaxOperator)
	}
	return nil
}
