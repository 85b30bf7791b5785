package logs

import (
	"strings"
	"time"
)

// syslogHeader is what a syslog file line says before the message.
type syslogHeader struct {
	time    time.Time
	host    string
	program string
	pid     int
	msg     string
}

// rfc3164Layout is the traditional syslog timestamp: no year, no zone, the
// day padded with a space ("Nov  6 09:01:02").
const rfc3164Layout = "Jan _2 15:04:05"

// ctimeLayout is how keepalived stamps lines it logs to the console (-l).
const ctimeLayout = "Mon Jan _2 15:04:05 2006"

// parseSyslogHeader parses "TIMESTAMP HOST TAG: MSG" where TIMESTAMP is
// RFC 3164 ("Nov 26 00:11:55", year taken from read) or RFC 3339 (rsyslog's
// high-precision format), and TAG is "prog[pid]" or "prog". A leading
// "<PRI>" (a raw datagram) is skipped. keepalived's console lines
// ("Thu Nov 26 01:18:36 2026: MSG") are accepted too.
func parseSyslogHeader(line string, loc *time.Location, read time.Time) (syslogHeader, bool) {
	var h syslogHeader
	line = skipPRI(line)
	var rest string
	switch {
	case len(line) >= len(rfc3164Layout)+1 && line[3] == ' ' && line[len(rfc3164Layout)] == ' ' && isMonth(line[:3]):
		t, err := time.ParseInLocation(rfc3164Layout, line[:len(rfc3164Layout)], loc)
		if err != nil {
			return h, false
		}
		h.time = nearestYear(t, read)
		rest = line[len(rfc3164Layout)+1:]
	case len(line) >= len(ctimeLayout)+2 && line[len(ctimeLayout)] == ':' && line[3] == ' ' && isMonth(line[4:7]):
		// keepalived -l (console): "Thu Nov 26 01:18:36 2026: message",
		// no host and no tag.
		t, err := time.ParseInLocation(ctimeLayout, line[:len(ctimeLayout)], loc)
		if err != nil {
			return h, false
		}
		h.time = t
		h.msg = strings.TrimPrefix(line[len(ctimeLayout)+1:], " ")
		return h, true
	case len(line) > 20 && line[4] == '-' && line[10] == 'T':
		sp := strings.IndexByte(line, ' ')
		if sp < 0 {
			return h, false
		}
		t, err := time.Parse(time.RFC3339Nano, line[:sp])
		if err != nil {
			return h, false
		}
		h.time = t
		rest = line[sp+1:]
	default:
		return h, false
	}
	// Messages from the local syslog(3) socket have no host; files written by
	// a syslog daemon do. A host has no ':' or '[' and is followed by a tag.
	host, after, ok := strings.Cut(rest, " ")
	if ok && host != "" && !strings.ContainsAny(host, ":[") {
		h.host, rest = host, after
	}
	h.program, h.pid, h.msg = splitTag(rest)
	return h, true
}

// splitTag splits "prog[pid]: msg" or "prog: msg". A line without a
// recognisable tag is all message.
func splitTag(s string) (program string, pid int, msg string) {
	colon := strings.Index(s, ": ")
	if colon <= 0 || colon > 64 || strings.ContainsAny(s[:colon], " \t") {
		if strings.HasSuffix(s, ":") && !strings.ContainsAny(s, " \t") {
			// A tag with an empty message.
			s = s[:len(s)-1]
			colon = len(s)
		} else {
			return "", 0, s
		}
	}
	tag := s[:colon]
	msg = ""
	if colon+2 <= len(s) {
		msg = s[colon+2:]
	}
	if open := strings.IndexByte(tag, '['); open > 0 && strings.HasSuffix(tag, "]") {
		if n, ok := atoi(tag[open+1 : len(tag)-1]); ok {
			pid = n
		}
		tag = tag[:open]
	}
	return tag, pid, msg
}

// skipPRI drops a leading "<N>" syslog priority.
func skipPRI(s string) string {
	if len(s) < 3 || s[0] != '<' {
		return s
	}
	end := strings.IndexByte(s[:min(len(s), 5)], '>')
	if end < 2 {
		return s
	}
	if _, ok := atoi(s[1:end]); !ok {
		return s
	}
	return s[end+1:]
}

func isMonth(s string) bool {
	switch s {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}

// yearSlack is how far past the read time a year-less timestamp may lie and
// still count as this year: clock skew between nodes, or a node's zone set
// differently from Parser.Location.
const yearSlack = 48 * time.Hour

// nearestYear gives a year-less time the latest year (the one after read's,
// read's, or the one before) that does not put it after read by more than
// yearSlack. Logs describe the past: a December line read in January is from
// last year, a February line read in November is from this one, and a node
// whose clock runs a little ahead at New Year lands in the new year.
func nearestYear(t, read time.Time) time.Time {
	read = read.In(t.Location())
	limit := read.Add(yearSlack)
	var c time.Time
	for _, y := range [...]int{read.Year() + 1, read.Year(), read.Year() - 1} {
		c = time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
		if !c.After(limit) {
			return c
		}
	}
	return c
}
