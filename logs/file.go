package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// File follows a file on this machine like `tail -F`: it starts with the
// last Backlog lines, survives rotation (rename and a new file) and
// truncation (copytruncate), and waits for a file that does not exist yet.
// It watches the file's directory with fsnotify and, because inotify can
// overflow or miss a change, also checks the file every Poll.
//
// Truncation is noticed when the file is smaller than what was read; a
// file truncated and then written past that size before the next check
// is indistinguishable from one that grew (tail -F has the same limit).
type File struct {
	Path string
	// Backlog is how many existing lines to deliver first (0: only new ones).
	// They are found by reading backwards from the end, so a large file is
	// never read from the start.
	Backlog int
	// MaxLine caps line length; 0 means DefaultMaxLine.
	MaxLine int
	// Poll is the fallback check interval; 0 means one second.
	Poll time.Duration
}

// fileRun is the state of one Follow call.
type fileRun struct {
	*File
	ctx  context.Context
	out  chan<- Line
	path string
	sp   *splitter
	buf  []byte

	f    *os.File    // nil while the file cannot be opened
	info os.FileInfo // of f, to recognise a replaced file
	off  int64       // bytes of f consumed

	// backlogPending: the first open failed for a reason other than the
	// file's absence (permissions), so it still starts with its backlog.
	// A file that appears later is all new and is read from its start.
	backlogPending bool
}

// Follow implements Follower.
func (ff *File) Follow(ctx context.Context, out chan<- Line) error {
	r := &fileRun{File: ff, ctx: ctx, out: out, path: filepath.Clean(ff.Path),
		sp: newSplitter(ff.MaxLine), buf: make([]byte, readBufSize)}
	defer r.close()

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("follow %s: %w", r.path, err)
	}
	defer w.Close()
	dir := filepath.Dir(r.path)
	watching := w.Add(dir) == nil
	if !watching {
		// The directory may appear later (created by a package install);
		// the poll retries the watch.
		if !r.notice(LevelWarn, "%s: cannot watch %s yet; checking every %s", r.path, dir, ff.poll()) {
			return nil
		}
	}

	switch err := r.open(true); {
	case errors.Is(err, fs.ErrNotExist):
		if !r.notice(LevelWarn, "%s does not exist yet; waiting for it", r.path) {
			return nil
		}
	case err != nil:
		r.backlogPending = true
		if !r.notice(LevelError, "%v; retrying", err) {
			return nil
		}
	}

	tick := time.NewTicker(ff.poll())
	defer tick.Stop()
	for {
		if !r.drain() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("follow %s: watcher closed", r.path)
			}
			if filepath.Clean(ev.Name) != r.path {
				continue
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("follow %s: watcher closed", r.path)
			}
			// Usually an inotify queue overflow: changes were missed, so
			// look at the file now instead of waiting for the poll.
			if !r.notice(LevelWarn, "%s: watch: %v", r.path, err) {
				return nil
			}
		case <-tick.C:
			if !watching {
				watching = w.Add(dir) == nil
			}
		}
		if !r.check() {
			return nil
		}
	}
}

func (ff *File) poll() time.Duration {
	if ff.Poll > 0 {
		return ff.Poll
	}
	return time.Second
}

func (r *fileRun) notice(level Level, format string, args ...any) bool {
	return notice(r.ctx, r.out, level, format, args...)
}

func (r *fileRun) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// open opens the path; atEnd positions it for the backlog, else at the
// start.
func (r *fileRun) open(atEnd bool) error {
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("follow %s: %w", r.path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("follow %s: %w", r.path, err)
	}
	off, midLine := int64(0), false
	if atEnd {
		if off, midLine, err = backlogOffset(f, info.Size(), r.Backlog, r.sp.max); err != nil {
			f.Close()
			return fmt.Errorf("follow %s: %w", r.path, err)
		}
	}
	r.close()
	r.f, r.info, r.off = f, info, off
	r.sp.reset()
	r.sp.skip = midLine
	return nil
}

// check looks at the path after a change or a poll: a file that appeared,
// was replaced (rotation) or shrank (truncation). It returns false when ctx
// ended.
func (r *fileRun) check() bool {
	if r.f == nil {
		if r.open(r.backlogPending) != nil {
			return true
		}
		if r.backlogPending {
			r.backlogPending = false
			return r.notice(LevelInfo, "%s can be read now; following it", r.path)
		}
		return r.notice(LevelInfo, "%s appeared; following it", r.path)
	}
	info, err := os.Stat(r.path)
	switch {
	case err != nil:
		// Renamed away and not recreated yet: keep reading the old file,
		// whose writer may not have reopened yet.
		return true
	case !os.SameFile(info, r.info):
		// Rotated. Finish the old file first: the writer may have written
		// to it until the moment it reopened.
		if !r.drain() || !r.sp.flush(emitTo(r.ctx, r.out)) {
			return false
		}
		r.close()
		if r.open(false) != nil {
			return r.notice(LevelWarn, "%s was rotated; waiting for the new file", r.path)
		}
		return r.notice(LevelInfo, "%s was rotated; following the new file", r.path)
	}
	if st, err := r.f.Stat(); err == nil && st.Size() < r.off {
		r.off = 0
		r.sp.reset()
		return r.notice(LevelWarn, "%s was truncated; reading it from the start", r.path)
	}
	return true
}

// drain reads the open file from its offset to its current end. It
// returns false when ctx ended.
func (r *fileRun) drain() bool {
	if r.f == nil {
		return r.ctx.Err() == nil
	}
	emit := emitTo(r.ctx, r.out)
	for {
		n, err := r.f.ReadAt(r.buf, r.off)
		if n > 0 {
			r.off += int64(n)
			if !r.sp.feed(r.buf[:n], emit) {
				return false
			}
		}
		if err != nil || n == 0 {
			// io.EOF is the normal end; any other read error is retried at
			// the next change or poll.
			return r.ctx.Err() == nil
		}
	}
}

// emitTo sends split lines to out, stamped with the read time.
func emitTo(ctx context.Context, out chan<- Line) func(string, bool) bool {
	return func(text string, truncated bool) bool {
		return send(ctx, out, Line{Text: text, Read: time.Now(), Truncated: truncated})
	}
}

// backlogOffset finds where the last n lines of a file of the given size
// start, reading backwards in chunks. It reads at most about n*maxLine
// bytes; if the lines are longer than that it starts mid-line and says so.
func backlogOffset(r io.ReaderAt, size int64, n, maxLine int) (off int64, midLine bool, err error) {
	if n <= 0 || size == 0 {
		return size, false, nil
	}
	limit := int64(n+1) * int64(maxLine)
	buf := make([]byte, min(int64(readBufSize), size))
	pos := size
	need := n
	for pos > 0 {
		chunk := min(int64(len(buf)), pos)
		pos -= chunk
		if _, err := r.ReadAt(buf[:chunk], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		for i := chunk - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				// The final newline ends the last line; it starts none.
				continue
			}
			need--
			if need == 0 {
				return pos + i + 1, false, nil
			}
		}
		if pos > 0 && size-pos >= limit {
			return pos, true, nil
		}
	}
	return 0, false, nil
}
