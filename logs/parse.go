package logs

import (
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/human"
)

// MaxParseBytes bounds the part of a line the parsers look at. Longer lines
// still become events (Raw keeps the first MaxParseBytes bytes) but are never
// scanned further, so a pathological line costs no more than a normal one.
// Journal entries are JSON and are decoded whole (up to MaxJournalBytes),
// since a cut object would not decode at all; their message is then cut.
const (
	MaxParseBytes   = 16 << 10
	MaxJournalBytes = 64 << 10
)

// Parser turns the lines of one source on one node into Events. The zero
// value parses syslog lines in local time; set Source for the other layouts.
// A Parser holds no state between lines and is safe for concurrent use.
type Parser struct {
	// Node is copied into every Event.
	Node string
	// Source is the layout of the lines. An empty Source guesses per line:
	// JSON is journald, then the redis-state, redis-server and syslog
	// layouts are tried in turn.
	Source Source
	// Location is the zone of timestamps that carry none (RFC 3164 syslog,
	// redis-server, the redis-state log). Nil means time.Local. Set it to the
	// node's zone when the console runs elsewhere.
	Location *time.Location
}

// Parse parses one line read now. It never fails: a line it does not
// understand becomes a KindRaw event carrying the line.
func (p *Parser) Parse(line string) Event {
	return p.ParseAt(line, time.Now())
}

// ParseAt parses one line that was read at read. Year-less syslog timestamps
// take the year that puts them closest to read, and lines without a
// timestamp are stamped with read.
func (p *Parser) ParseAt(line string, read time.Time) Event {
	line = strings.TrimRight(line, "\r\n")
	full := human.Truncate(line, MaxJournalBytes)
	line = human.Truncate(line, MaxParseBytes)
	ev := Event{
		Node:    p.Node,
		Source:  p.Source,
		Time:    read,
		Kind:    KindRaw,
		Level:   LevelInfo,
		Message: line,
		Raw:     line,
	}
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	switch p.Source {
	case SourceJournal:
		parseJournal(full, &ev, loc, read)
	case SourceState:
		parseStateLine(line, &ev, loc)
	case SourceRedis:
		parseRedisLine(line, &ev, loc)
	case SourceSyslog:
		parseSyslog(line, &ev, loc, read)
	default:
		sniff(line, full, &ev, loc, read)
	}
	return ev
}

// sniff guesses the layout of a line from an unknown source; full is the
// line before the MaxParseBytes cut, for JSON.
func sniff(line, full string, ev *Event, loc *time.Location, read time.Time) {
	switch {
	case strings.HasPrefix(line, "{"):
		ev.Source = SourceJournal
		parseJournal(full, ev, loc, read)
	case parseStateLine(line, ev, loc):
		ev.Source = SourceState
	case parseRedisLine(line, ev, loc):
		ev.Source = SourceRedis
	default:
		ev.Source = SourceSyslog
		parseSyslog(line, ev, loc, read)
	}
}

// parseSyslog parses a syslog file line: header, then the message by program.
func parseSyslog(line string, ev *Event, loc *time.Location, read time.Time) {
	h, ok := parseSyslogHeader(line, loc, read)
	if !ok {
		// Not syslog (keepalived -l on a console, a bare message): still
		// worth recognising.
		classify("", line, ev, loc)
		return
	}
	ev.Time = h.time
	ev.Host = h.host
	ev.Program = h.program
	ev.PID = h.pid
	ev.Message = h.msg
	classify(h.program, h.msg, ev, loc)
}

// classify fills ev from a message whose program (syslog identifier) may be
// empty. The program decides which parser applies, so that a redis line that
// happens to mention "Entering MASTER STATE" is not taken for keepalived.
func classify(program, msg string, ev *Event, loc *time.Location) {
	prog := strings.ToLower(program)
	switch {
	case strings.HasPrefix(prog, "keepalived"):
		parseKeepalived(msg, ev)
	case strings.HasPrefix(prog, "redis"):
		// Under systemd with logfile "" redis-server writes its own prefix
		// to stdout, which lands in the journal or syslog verbatim.
		if !parseRedisLine(msg, ev, loc) {
			parseRedisMessage(msg, ev)
		}
	case prog == "redkeep":
		if !parseStateLine(msg, ev, loc) {
			parseHookMessage("", msg, ev)
		}
	case prog == "":
		if !parseKeepalived(msg, ev) && !parseStateLine(msg, ev, loc) {
			parseRedisLine(msg, ev, loc)
		}
	}
}

// atoi parses a non-negative decimal that fits comfortably in an int; ok is
// false for anything else (signs, spaces, overflow).
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// cutParen splits "(NAME) rest" or "(NAME): rest" into NAME and rest.
func cutParen(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, "(") {
		return "", "", false
	}
	end := strings.IndexByte(s, ')')
	if end < 2 {
		return "", "", false
	}
	name, rest = s[1:end], s[end+1:]
	rest = strings.TrimPrefix(rest, ":")
	return name, strings.TrimPrefix(rest, " "), true
}
