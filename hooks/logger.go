package hooks

import (
	"fmt"
	"log/syslog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redkeep/redkeep/internal/nodefile"
)

// StateLogTimeLayout is the redis-state log's timestamp: the origin
// document's layout with milliseconds.
const StateLogTimeLayout = "2006-01-02:15:04:05.000"

// Logger writes every hook step to the redis-state log (hooks.state_log) in
// the origin document's line layout, and to syslog with tag redkeep, since
// keepalived drops the hooks' own output. Logging never fails a hook: a
// state log that cannot be written is reported once on stderr, a missing
// syslog is ignored.
type Logger struct {
	path string
	pid  int
	now  func() time.Time

	mu       sync.Mutex
	file     *os.File
	fileErr  error
	sys      *syslog.Writer
	sysTried bool
	// Syslog can be turned off (tests; the check's quiet path).
	Syslog bool
}

// NewLogger returns a Logger appending to the state log at path; with no
// path it logs to syslog only.
func NewLogger(path string) *Logger {
	return &Logger{path: path, pid: os.Getpid(), now: time.Now, Syslog: true}
}

// Level is how bad a logged step is; it picks the syslog priority.
type Level int

// Levels.
const (
	Info Level = iota
	Warn
	Error
)

// Logf logs one step. role is the keepalived state being handled, in any
// case ("MASTER", "check"); it is written lowercase in brackets.
func (l *Logger) Logf(level Level, role, format string, args ...any) {
	msg := clean(fmt.Sprintf(format, args...))
	role = clean(strings.ToLower(role))
	line := fmt.Sprintf("%s|%d|state:[%s] %s\n", l.now().Format(StateLogTimeLayout), l.pid, role, msg)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeFile(line)
	if l.Syslog {
		l.writeSyslog(level, fmt.Sprintf("[%s] %s", role, msg))
	}
}

// maxLogMessage caps one logged message: a line is one step, and a value
// handed to a hook must not fill the disk one line at a time.
const maxLogMessage = 4096

// clean makes s one line of printable text. Hooks log values they were
// handed (keepalived's arguments, Redis replies, file contents); none may
// forge a line of the state log, which the console parses line by line, or
// reach an operator's terminal as an escape sequence. Line breaks and tabs
// become spaces; other control characters (C0, DEL, C1), bidirectional
// formatting characters and invalid UTF-8 are dropped.
func clean(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), maxLogMessage+utf8.UTFMax))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			r = ' '
		case r == utf8.RuneError && size == 1, unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			continue
		}
		b.WriteRune(r)
		if b.Len() > maxLogMessage {
			break
		}
	}
	c := b.String()
	if len(c) > maxLogMessage {
		n := maxLogMessage - len("...")
		for !utf8.RuneStart(c[n]) {
			n--
		}
		c = c[:n] + "..."
	}
	return c
}

func (l *Logger) writeFile(line string) {
	if l.path == "" {
		return
	}
	if l.file == nil && l.fileErr == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
			l.fileErr = err
		} else {
			l.file, l.fileErr = nodefile.Open(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		}
		if l.fileErr != nil {
			l.fileErr = fmt.Errorf("state log: %w", l.fileErr)
			fmt.Fprintf(os.Stderr, "redkeep: %v\n", l.fileErr)
		}
	}
	if l.file != nil {
		// O_APPEND with one write per line keeps concurrent hooks' lines whole.
		_, _ = l.file.WriteString(line)
	}
}

func (l *Logger) writeSyslog(level Level, msg string) {
	if !l.sysTried {
		l.sysTried = true
		l.sys, _ = syslog.New(syslog.LOG_INFO|syslog.LOG_DAEMON, "redkeep")
	}
	if l.sys == nil {
		return
	}
	switch level {
	case Error:
		_ = l.sys.Err(msg)
	case Warn:
		_ = l.sys.Warning(msg)
	default:
		_ = l.sys.Info(msg)
	}
}

// Close closes the state log and the syslog connection.
func (l *Logger) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
	if l.sys != nil {
		_ = l.sys.Close()
		l.sys = nil
	}
}
