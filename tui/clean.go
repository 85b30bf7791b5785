package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// clean makes text from the nodes safe to draw: their logs and error
// messages are written by other programs (and, through syslog, by anyone
// on the node), and an escape sequence in them must not reach the terminal
// as one, nor a newline break the layout. Line breaks and tabs become
// spaces, other control characters and invalid UTF-8 a visible U+FFFD.
func clean(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			ok = false
			break
		}
	}
	if ok {
		return s // plain ASCII, the common case
	}
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				b.WriteRune(utf8.RuneError)
				continue
			}
			b.WriteRune(r)
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cleanEvent(e *logs.Event) {
	e.Raw, e.Message = clean(e.Raw), clean(e.Message)
	e.State, e.Program = clean(e.State), clean(e.Program)
}

func cleanSnapshot(s *nodes.Snapshot) {
	s.ConnErr, s.Version = clean(s.ConnErr), clean(s.Version)
	k := &s.Keepalived
	k.State, k.LastAction, k.LastResult = clean(k.State), clean(k.LastAction), clean(k.LastResult)
	s.Redis.Err, s.Redis.Info.MasterHost = clean(s.Redis.Err), clean(s.Redis.Info.MasterHost)
}

func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = clean(s)
	}
	return out
}
