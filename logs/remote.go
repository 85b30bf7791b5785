package logs

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/shell"
)

// Streamer runs a command on a node and returns its standard output. The
// stream ends when the command exits, when it is closed, or when ctx ends.
// nodes.Conn satisfies it over SSH; ExecStreamer runs commands here.
type Streamer interface {
	Stream(ctx context.Context, cmd string) (io.ReadCloser, error)
}

// Reconnect delays when a follower's Min/MaxBackoff are 0.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
)

// resyncQuiet is how long a reconnected stream must be quiet, once its
// first line is in, before the follower decides its backlog has all arrived.
const resyncQuiet = 300 * time.Millisecond

// maxHeldBytes bounds the lines held while resynchronising.
const maxHeldBytes = 1 << 20

// RemoteFile follows a file on a node with `tail -F` over a Streamer: it
// starts with the last Backlog lines, tail follows rotation and truncation,
// and when the stream ends (the connection dropped, tail was killed) it
// reconnects with backoff. After a reconnect it asks for the last Resume
// lines again and skips those it already delivered, so an outage neither
// repeats lines nor loses the ones written meanwhile (unless more than
// Resume lines were written, or the file was rotated, which it reports).
type RemoteFile struct {
	Streamer Streamer
	Path     string
	Backlog  int
	// Resume is how many lines to re-read after a reconnect; 0 means
	// max(Backlog, 200).
	Resume int
	// MaxLine caps line length; 0 means DefaultMaxLine.
	MaxLine int
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// after each failed attempt; 0 means the defaults.
	MinBackoff, MaxBackoff time.Duration
}

// noteMark starts a line the remote command writes for the follower itself
// (ASCII record separator: it does not occur in text logs).
const noteMark = "\x1e"

// TailCommand is the shell command that follows path from its last n lines.
// tail's own complaints go to stderr, which a stream drops, so the command
// first says on stdout (as a note line) when the file is missing or
// unreadable; tail -F then waits for it.
func TailCommand(path string, n int) string {
	q := shell.Quote(path)
	return "if [ ! -e " + q + " ]; then printf '\\036%s does not exist yet; waiting for it\\n' " + q +
		"; elif [ ! -r " + q + " ]; then printf '\\036%s is not readable by this user\\n' " + q +
		"; fi; exec tail -n " + strconv.Itoa(max(n, 0)) + " -F -- " + q
}

// Follow implements Follower.
func (r *RemoteFile) Follow(ctx context.Context, out chan<- Line) error {
	if r.Streamer == nil {
		return errors.New("follow " + r.Path + ": no streamer")
	}
	var fp fingerprint
	return reconnect(ctx, out, r.Path, r.MinBackoff, r.MaxBackoff, func(first bool) error {
		if first || fp.empty() {
			return r.session(ctx, TailCommand(r.Path, r.Backlog), nil, &fp, out)
		}
		resume := r.Resume
		if resume <= 0 {
			resume = max(r.Backlog, 200)
		}
		return r.session(ctx, TailCommand(r.Path, resume), &resync{max: resume}, &fp, out)
	})
}

// session runs one stream to its end. With rs set it first drops the lines
// already delivered (see resync).
func (r *RemoteFile) session(ctx context.Context, cmd string, rs *resync, fp *fingerprint, out chan<- Line) error {
	return stream(ctx, r.Streamer, cmd, r.MaxLine, func(lines <-chan Line) bool {
		if rs != nil && !rs.run(ctx, r.Path, lines, fp, out) {
			return false
		}
		for l := range lines {
			if l = asNote(l); !send(ctx, out, l) {
				return false
			}
			if !l.Notice {
				fp.add(l.Text)
			}
		}
		return true
	})
}

// asNote turns a line the remote command wrote for the follower into a
// notice.
func asNote(l Line) Line {
	if text, ok := strings.CutPrefix(l.Text, noteMark); ok {
		l.Text, l.Notice, l.Level = text, true, LevelWarn
	}
	return l
}

// Journal follows journald on a node with `journalctl -f -o json`. After a
// reconnect it resumes exactly after the last entry it delivered, using the
// entry's cursor. Parse its lines with Source SourceJournal.
type Journal struct {
	Streamer Streamer
	// Units are the systemd units to follow (journalctl -u); none means
	// the whole journal.
	Units []string
	// Matches are journalctl match arguments ("FIELD=value", or "+" between
	// alternatives), ANDed with Units; none means no filter.
	Matches []string
	Backlog int
	// MaxLine caps line length; 0 means 64 KiB (JSON entries are long).
	MaxLine                int
	MinBackoff, MaxBackoff time.Duration
}

// JournalCommand is the shell command that follows units (and matches)
// from the last n entries, or from just after cursor when it is not empty.
func JournalCommand(units, matches []string, n int, cursor string) string {
	var b strings.Builder
	b.WriteString("exec journalctl -f -q --no-pager -o json")
	for _, u := range units {
		b.WriteString(" -u " + shell.Quote(u))
	}
	for _, m := range matches {
		b.WriteString(" " + shell.Quote(m))
	}
	if cursor != "" {
		b.WriteString(" --after-cursor=" + shell.Quote(cursor))
	} else {
		b.WriteString(" -n " + strconv.Itoa(max(n, 0)))
	}
	return b.String()
}

// Follow implements Follower.
func (j *Journal) Follow(ctx context.Context, out chan<- Line) error {
	what := "journal"
	if len(j.Units) > 0 {
		what = "journal of " + strings.Join(j.Units, ", ")
	} else if len(j.Matches) > 0 {
		what = "journal of keepalived, Redis and redkeep"
	}
	if j.Streamer == nil {
		return errors.New("follow " + what + ": no streamer")
	}
	maxLine := j.MaxLine
	if maxLine <= 0 {
		maxLine = 64 << 10
	}
	cursor := ""
	return reconnect(ctx, out, what, j.MinBackoff, j.MaxBackoff, func(bool) error {
		return stream(ctx, j.Streamer, JournalCommand(j.Units, j.Matches, j.Backlog, cursor), maxLine, func(lines <-chan Line) bool {
			for l := range lines {
				if !send(ctx, out, l) {
					return false
				}
				if c := JournalCursor(l.Text); c != "" {
					cursor = c
				}
			}
			return true
		})
	})
}

// reconnect runs sessions until ctx ends, waiting between them with
// exponential backoff, reset after a session that ran for a while.
func reconnect(ctx context.Context, out chan<- Line, what string, minB, maxB time.Duration, session func(first bool) error) error {
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB < minB {
		maxB = max(DefaultMaxBackoff, minB)
	}
	delay := minB
	for first := true; ; first = false {
		start := time.Now()
		err := session(first)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 4*maxB {
			delay = minB
		}
		why := "stream ended"
		if err != nil {
			why = err.Error()
		}
		if !notice(ctx, out, LevelWarn, "%s: %s; reconnecting in %s", what, why, delay) {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(delay*2, maxB)
	}
}

// stream runs cmd and hands its lines to consume, which returns false to
// stop everything (ctx ended). It returns why the stream ended.
func stream(ctx context.Context, s Streamer, cmd string, maxLine int, consume func(<-chan Line) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := s.Stream(ctx, cmd)
	if err != nil {
		return err
	}
	// A blocked Read returns once the stream is closed.
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	defer rc.Close()

	lines := make(chan Line, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		sp := newSplitter(maxLine)
		buf := make([]byte, readBufSize)
		emit := emitTo(ctx, lines)
		for {
			n, err := rc.Read(buf)
			if n > 0 && !sp.feed(buf[:n], emit) {
				errc <- nil
				return
			}
			if err != nil {
				// A partial last line of a dead stream is incomplete: drop it.
				if errors.Is(err, io.EOF) {
					err = nil
				}
				errc <- err
				return
			}
		}
	}()
	ok := consume(lines)
	cancel()
	for range lines {
	}
	err = <-errc
	if !ok || ctx.Err() != nil {
		return nil
	}
	return err
}

// fingerprint remembers the last few lines delivered, as hashes, to find
// them again in a re-read backlog.
type fingerprint struct {
	h [3]uint64
	n int
}

func (f *fingerprint) add(line string) {
	copy(f.h[:], f.h[1:])
	f.h[len(f.h)-1] = hashLine(line)
	f.n = min(f.n+1, len(f.h))
}

func (f *fingerprint) empty() bool { return f.n == 0 }

// endsAt reports whether hashes[..=i] end with the fingerprint.
func (f *fingerprint) endsAt(hashes []uint64, i int) bool {
	if i+1 < f.n {
		return false
	}
	want := f.h[len(f.h)-f.n:]
	got := hashes[i+1-f.n : i+1]
	for k := range want {
		if want[k] != got[k] {
			return false
		}
	}
	return true
}

func hashLine(s string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, s)
	return h.Sum64()
}

// resync holds the backlog of a reconnected stream until it has all
// arrived (max lines, or the stream goes quiet), then skips through the
// last occurrence of the lines delivered before the outage.
type resync struct {
	max int
}

// run consumes the backlog from lines and forwards what is new. It returns
// false when ctx ended.
func (rs *resync) run(ctx context.Context, what string, lines <-chan Line, fp *fingerprint, out chan<- Line) bool {
	var held []Line
	var hashes []uint64
	bytes := 0
	// The quiet period starts with the first line: before it, the stream
	// may still be starting (an SSH session, a shell, tail), however slow.
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
collect:
	for len(held) < rs.max && bytes < maxHeldBytes {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			held = append(held, l)
			hashes = append(hashes, hashLine(l.Text))
			bytes += len(l.Text)
			quiet.Reset(resyncQuiet)
		case <-quiet.C:
			break collect
		case <-ctx.Done():
			return false
		}
	}
	if len(held) == 0 {
		// The stream ended before saying anything: nothing to decide yet,
		// the next attempt resynchronises again.
		return true
	}
	from := -1
	for i := len(held) - 1; i >= 0; i-- {
		if fp.endsAt(hashes, i) {
			from = i + 1
			break
		}
	}
	if from < 0 {
		from = 0
		if !notice(ctx, out, LevelWarn, "%s: reconnected, but the last lines seen are gone (rotated, or more than %d new lines): some lines may be missing or repeated", what, rs.max) {
			return false
		}
	}
	for _, l := range held[from:] {
		if l = asNote(l); !send(ctx, out, l) {
			return false
		}
		if !l.Notice {
			fp.add(l.Text)
		}
	}
	return true
}
