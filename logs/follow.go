package logs

import (
	"bytes"
	"context"
	"fmt"
	"time"
	"unicode/utf8"
)

// DefaultMaxLine is the line length cap when a follower's MaxLine is 0.
// Longer lines are cut there (Line.Truncated) and the rest is skipped.
const DefaultMaxLine = 16 << 10

// readBufSize is how much a follower reads at a time.
const readBufSize = 32 << 10

// Line is one line a follower read, or a note from the follower itself.
//
// Memory: a follower holds one read buffer (32 KiB) and at most one partial
// line (MaxLine bytes); it hands lines over on the caller's channel and
// blocks while that channel is full (backpressure). A local file is then
// simply read later; a remote stream stops being read, so SSH flow control
// stalls the remote tail. Nothing grows without bound.
type Line struct {
	Text string
	// Read is when the follower read the line.
	Read time.Time
	// Truncated says the line was longer than the cap and was cut.
	Truncated bool
	// Notice marks a follower's own note (rotation, truncation, reconnect,
	// a possible gap); Level says how much it matters.
	Notice bool
	Level  Level
}

// Follower delivers the lines of one log, oldest first, until ctx ends.
// Follow returns nil when ctx ends and an error only when following cannot
// continue at all; passing troubles (a missing file, a dropped connection)
// are reported as notice lines and retried.
type Follower interface {
	Follow(ctx context.Context, out chan<- Line) error
}

// Pump runs f and sends its lines, parsed by p, to out until ctx ends or f
// fails. Notices become KindNotice events. It is the one place lines turn
// into events, so every follower and source behaves the same to consumers.
func Pump(ctx context.Context, f Follower, p *Parser, out chan<- Event) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lines := make(chan Line, 64)
	errc := make(chan error, 1)
	go func() {
		errc <- f.Follow(ctx, lines)
		close(lines)
	}()
	for l := range lines {
		var ev Event
		if l.Notice {
			ev = Event{Node: p.Node, Source: p.Source, Time: l.Read, Kind: KindNotice, Level: l.Level, Message: l.Text}
		} else {
			ev = p.ParseAt(l.Text, l.Read)
		}
		select {
		case out <- ev:
		case <-ctx.Done():
			// The follower sees ctx end too; drain so it can finish.
			for range lines {
			}
			return <-errc
		}
	}
	return <-errc
}

// send hands one line to out, or gives up when ctx ends.
func send(ctx context.Context, out chan<- Line, l Line) bool {
	select {
	case out <- l:
		return true
	case <-ctx.Done():
		return false
	}
}

// notice sends a follower's own note.
func notice(ctx context.Context, out chan<- Line, level Level, format string, args ...any) bool {
	return send(ctx, out, Line{Text: fmt.Sprintf(format, args...), Read: time.Now(), Notice: true, Level: level})
}

// splitter cuts a byte stream into lines with bounded memory: at most max
// bytes of a partial line are kept, and the rest of a longer line is
// skipped.
type splitter struct {
	max  int
	buf  []byte
	over bool // the pending line hit max; skip to its end
	skip bool // discard through the next newline (we started mid-line)
}

func newSplitter(max int) *splitter {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &splitter{max: max, buf: make([]byte, 0, min(max, 4096))}
}

// feed splits data, calling emit for each complete line (without its
// newline or a trailing CR). emit returning false stops feeding; feed then
// reports false.
func (s *splitter) feed(data []byte, emit func(text string, truncated bool) bool) bool {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		seg := data
		if i >= 0 {
			seg = data[:i]
			data = data[i+1:]
		} else {
			data = nil
		}
		if !s.skip && !s.over {
			if room := s.max - len(s.buf); len(seg) > room {
				s.buf = append(s.buf, seg[:room]...)
				s.over = true
			} else {
				s.buf = append(s.buf, seg...)
			}
		}
		if i < 0 {
			return true
		}
		if !s.skip && !s.emit(emit) {
			return false
		}
		s.skip = false
	}
	return true
}

// flush emits a pending partial line: the file it came from is finished.
func (s *splitter) flush(emit func(text string, truncated bool) bool) bool {
	if s.skip || (len(s.buf) == 0 && !s.over) {
		s.reset()
		return true
	}
	return s.emit(emit)
}

func (s *splitter) emit(emit func(text string, truncated bool) bool) bool {
	line := bytes.TrimSuffix(s.buf, []byte{'\r'})
	if s.over {
		// The cut may have split a rune: drop its leading bytes.
		for j := 0; j < utf8.UTFMax && len(line) > 0; j++ {
			if r, size := utf8.DecodeLastRune(line); r != utf8.RuneError || size != 1 {
				break
			}
			line = line[:len(line)-1]
		}
	}
	text := string(line)
	over := s.over
	s.reset()
	return emit(text, over)
}

func (s *splitter) reset() {
	s.buf = s.buf[:0]
	s.over, s.skip = false, false
}
