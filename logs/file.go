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

// openFile is the file being read and how far.
type openFile struct {
	f    *os.File
	info os.FileInfo
	off  int64
}

// Follow implements Follower.
func (ff *File) Follow(ctx context.Context, out chan<- Line) error {
	path := filepath.Clean(ff.Path)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("follow %s: %w", path, err)
	}
	defer w.Close()
	dir := filepath.Dir(path)
	watching := w.Add(dir) == nil
	if !watching {
		// The directory may appear later (a log directory created by the
		// package install); the poll retries the watch.
		if !notice(ctx, out, LevelWarn, "%s: cannot watch %s yet; checking every %s", path, dir, ff.poll()) {
			return nil
		}
	}
	sp := newSplitter(ff.MaxLine)
	buf := make([]byte, readBufSize)
	var cur *openFile
	defer func() {
		if cur != nil {
			cur.f.Close()
		}
	}()

	cur, err = ff.open(path, true, sp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !notice(ctx, out, LevelWarn, "%s does not exist yet; waiting for it", path) {
			return nil
		}
	case err != nil:
		if !notice(ctx, out, LevelError, "%v; retrying", err) {
			return nil
		}
	}

	tick := time.NewTicker(ff.poll())
	defer tick.Stop()
	for {
		if cur != nil {
			if !ff.drain(ctx, cur, buf, sp, out) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("follow %s: watcher closed", path)
			}
			if filepath.Clean(ev.Name) != path {
				continue
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("follow %s: watcher closed", path)
			}
			// Usually an inotify queue overflow: changes were missed, so
			// look at the file now instead of waiting for the poll.
			if !notice(ctx, out, LevelWarn, "%s: watch: %v", path, err) {
				return nil
			}
		case <-tick.C:
			if !watching {
				watching = w.Add(dir) == nil
			}
		}
		var ok bool
		if cur, ok = ff.check(ctx, path, cur, buf, sp, out); !ok {
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

// open opens path; atEnd positions it for the backlog, else at the start.
func (ff *File) open(path string, atEnd bool, sp *splitter) (*openFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("follow %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("follow %s: %w", path, err)
	}
	of := &openFile{f: f, info: info}
	if atEnd {
		off, midLine, err := backlogOffset(f, info.Size(), ff.Backlog, sp.max)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("follow %s: %w", path, err)
		}
		of.off = off
		sp.reset()
		sp.skip = midLine
	}
	return of, nil
}

// check looks at path after a change or a poll: a file that appeared, was
// replaced (rotation) or shrank (truncation). It returns the file to read.
func (ff *File) check(ctx context.Context, path string, cur *openFile, buf []byte, sp *splitter, out chan<- Line) (*openFile, bool) {
	if cur == nil {
		of, err := ff.open(path, false, sp)
		if err != nil {
			return nil, true
		}
		sp.reset()
		return of, notice(ctx, out, LevelInfo, "%s appeared; following it", path)
	}
	info, err := os.Stat(path)
	switch {
	case err != nil:
		// Renamed away and not recreated yet: keep reading the old file,
		// whose writer may not have reopened yet.
		return cur, true
	case !os.SameFile(info, cur.info):
		// Rotated. Finish the old file first: the writer may have written
		// to it until the moment it reopened.
		if !ff.drain(ctx, cur, buf, sp, out) || !sp.flush(emitTo(ctx, out)) {
			return cur, false
		}
		cur.f.Close()
		of, err := ff.open(path, false, sp)
		if err != nil {
			return nil, notice(ctx, out, LevelWarn, "%s was rotated; waiting for the new file", path)
		}
		return of, notice(ctx, out, LevelInfo, "%s was rotated; following the new file", path)
	}
	st, err := cur.f.Stat()
	if err == nil && st.Size() < cur.off {
		cur.off = 0
		sp.reset()
		return cur, notice(ctx, out, LevelWarn, "%s was truncated; reading it from the start", path)
	}
	return cur, true
}

// drain reads cur from its offset to the current end.
func (ff *File) drain(ctx context.Context, cur *openFile, buf []byte, sp *splitter, out chan<- Line) bool {
	emit := emitTo(ctx, out)
	for {
		n, err := cur.f.ReadAt(buf, cur.off)
		if n > 0 {
			cur.off += int64(n)
			if !sp.feed(buf[:n], emit) {
				return false
			}
		}
		if err != nil || n == 0 {
			// io.EOF is the normal end; any other read error is retried at
			// the next change or poll.
			return ctx.Err() == nil
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
