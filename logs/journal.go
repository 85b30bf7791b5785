package logs

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/human"
)

// journalEntry is the part of `journalctl -o json` output redkeep reads.
// journalctl writes every field as a string, except that a field holding
// bytes that are not valid UTF-8 (or are very long) becomes an array of
// numbers or null.
type journalEntry struct {
	Cursor     string          `json:"__CURSOR"`
	Realtime   string          `json:"__REALTIME_TIMESTAMP"`
	Message    json.RawMessage `json:"MESSAGE"`
	Identifier string          `json:"SYSLOG_IDENTIFIER"`
	Comm       string          `json:"_COMM"`
	PID        string          `json:"_PID"`
	SyslogPID  string          `json:"SYSLOG_PID"`
	Hostname   string          `json:"_HOSTNAME"`
	Priority   string          `json:"PRIORITY"`
}

// parseJournal parses one line of `journalctl -o json`. A line that is not a
// journal entry stays a raw event.
func parseJournal(line string, ev *Event, loc *time.Location, read time.Time) {
	var e journalEntry
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		return
	}
	if us, err := strconv.ParseInt(e.Realtime, 10, 64); err == nil && us > 0 {
		ev.Time = time.UnixMicro(us).In(loc)
	}
	msg, ok := journalMessage(e.Message)
	if !ok {
		// An entry without a readable message: keep the line as it is.
		return
	}
	ev.Host = e.Hostname
	ev.Program = e.Identifier
	if ev.Program == "" {
		ev.Program = e.Comm
	}
	pid := e.PID
	if pid == "" {
		pid = e.SyslogPID
	}
	if n, ok := atoi(pid); ok {
		ev.PID = n
	}
	msg = human.Truncate(strings.TrimRight(msg, "\r\n"), MaxParseBytes)
	ev.Message = msg
	classify(ev.Program, msg, ev, loc)
	// The journal's own priority: err and worse are errors, warning a
	// warning, whatever the message said.
	if p, ok := atoi(e.Priority); ok {
		switch {
		case p <= 3 && ev.Level < LevelError:
			ev.Level = LevelError
		case p == 4 && ev.Level < LevelWarn:
			ev.Level = LevelWarn
		}
	}
}

// journalMessage decodes MESSAGE, which is a string or an array of bytes.
func journalMessage(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var b []byte
	var nums []int
	if err := json.Unmarshal(raw, &nums); err != nil {
		return "", false
	}
	b = make([]byte, 0, len(nums))
	for _, n := range nums {
		if n < 0 || n > 255 {
			return "", false
		}
		b = append(b, byte(n))
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), true
}

// JournalCursor returns the __CURSOR of a `journalctl -o json` line without
// decoding the rest, or "" when it has none. Followers resume from it.
func JournalCursor(line string) string {
	const key = `"__CURSOR":"`
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return rest[:end]
}
