package logs

import (
	"strings"
	"time"
)

// The redis-state log layout, from the origin document with milliseconds
// added: "2026-11-26:00:11:55.123|12345|state:[master] message".
const (
	stateTimeLayout   = "2006-01-02:15:04:05"
	stateTimeLayoutMS = "2006-01-02:15:04:05.000"
)

// parseStateLine parses a redis-state log line and reports whether it had
// that layout. Both the origin's second-resolution timestamps and ours with
// milliseconds are accepted.
func parseStateLine(line string, ev *Event, loc *time.Location) bool {
	if len(line) < len(stateTimeLayout)+3 || line[4] != '-' || line[10] != ':' {
		return false
	}
	ts, rest, ok := strings.Cut(line, "|")
	if !ok {
		return false
	}
	layout := stateTimeLayout
	if len(ts) == len(stateTimeLayoutMS) {
		layout = stateTimeLayoutMS
	}
	t, err := time.ParseInLocation(layout, ts, loc)
	if err != nil {
		return false
	}
	pidText, rest, ok := strings.Cut(rest, "|")
	if !ok {
		return false
	}
	pid, ok := atoi(strings.TrimSpace(pidText))
	if !ok {
		return false
	}
	role := ""
	if r, ok := strings.CutPrefix(rest, "state:["); ok {
		if end := strings.IndexByte(r, ']'); end >= 0 {
			role, rest = r[:end], strings.TrimPrefix(r[end+1:], " ")
		}
	}
	ev.Time, ev.PID = t, pid
	if ev.Program == "" {
		ev.Program = "redkeep"
	}
	parseHookMessage(role, rest, ev)
	return true
}

// Words that make a hook line a warning or an error, for lines without one
// of the result prefixes below (the origin scripts' lines, and hook steps
// that report trouble along the way).
var (
	hookErrorWords = []string{"fail", "error", "abort", "timed out", "cannot", "can't", "unable"}
	hookWarnWords  = []string{"warn", "overtaken", "stale", "lost", "unreachable"}
)

// parseHookMessage fills ev for one step a redkeep hook logged. A hook ends
// with "ok: ...", "refused: ..." (a safety rule stopped it; nothing unsafe
// was done) or "failed: ..."; two Redis masters is always an error.
func parseHookMessage(role, msg string, ev *Event) {
	if role == "" && strings.HasPrefix(msg, "[") {
		// The syslog copy of a hook line: "[master] message".
		if end := strings.IndexByte(msg, ']'); end > 0 {
			role, msg = msg[1:end], strings.TrimPrefix(msg[end+1:], " ")
		}
	}
	ev.Kind, ev.State, ev.Message = KindHook, role, msg
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "two masters"):
		ev.Level = LevelError
	case strings.HasPrefix(lower, "failed:"):
		ev.Level = LevelError
	case strings.HasPrefix(lower, "ok:"):
		ev.Level = LevelInfo
	case strings.Contains(lower, "refus") && !strings.Contains(lower, "connection refused"):
		ev.Level = LevelWarn
	case containsAny(lower, hookErrorWords):
		ev.Level = LevelError
	case containsAny(lower, hookWarnWords):
		ev.Level = LevelWarn
	default:
		ev.Level = LevelInfo
	}
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
