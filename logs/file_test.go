package logs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// waitFor bounds how long a test waits for lines that must come; it is a
// liveness bound, not a timing assertion.
const waitFor = 20 * time.Second

// follow starts f and returns its lines; the follower stops when the test ends.
func follow(t *testing.T, f Follower, capacity int) <-chan Line {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Line, capacity)
	done := make(chan error, 1)
	go func() { done <- f.Follow(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		// Unblock a follower stuck sending, then wait for it.
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Follow: %v", err)
				}
				return
			case <-out:
			}
		}
	})
	return out
}

// expect reads lines until it has seen want (in order), skipping notices
// unless a want entry starts with "notice:", which matches a notice
// containing the rest.
func expect(t *testing.T, ch <-chan Line, want ...string) {
	t.Helper()
	deadline := time.After(waitFor)
	for i := 0; i < len(want); {
		select {
		case l := <-ch:
			w := want[i]
			if n, ok := strings.CutPrefix(w, "notice:"); ok {
				if l.Notice && strings.Contains(l.Text, n) {
					i++
				}
				continue
			}
			if l.Notice {
				continue
			}
			if l.Text != w {
				t.Fatalf("line %d: got %q, want %q", i, l.Text, w)
			}
			i++
		case <-deadline:
			t.Fatalf("timed out waiting for %q (got %d of %d)", want[i], i, len(want))
		}
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFileBacklogThenNew(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "one", "two", "three", "four")
	ch := follow(t, &File{Path: path, Backlog: 2, Poll: 50 * time.Millisecond}, 16)
	expect(t, ch, "three", "four")
	appendLines(t, path, "five")
	expect(t, ch, "five")
}

func TestFileBacklogLargerThanFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "syslog")
	// No trailing newline: the partial last line waits for its end.
	if err := os.WriteFile(path, []byte("a\r\nb\nc"), 0o644); err != nil {
		t.Fatal(err)
	}
	ch := follow(t, &File{Path: path, Backlog: 100, Poll: 50 * time.Millisecond}, 16)
	expect(t, ch, "a", "b")
	appendLines(t, path, "-end")
	expect(t, ch, "c-end")
}

func TestFileRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "syslog")
	appendLines(t, path, "old-1")
	ch := follow(t, &File{Path: path, Backlog: 1, Poll: 50 * time.Millisecond}, 16)
	expect(t, ch, "old-1")
	// logrotate's default: rename, then the writer keeps writing to the old
	// file until it reopens, then a new file appears.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path+".1", "old-2 after rename")
	appendLines(t, path, "new-1", "new-2")
	expect(t, ch, "old-2 after rename", "notice:rotated", "new-1", "new-2")
	// And again, with the file removed for a while.
	if err := os.Rename(path, path+".2"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "newer-1")
	expect(t, ch, "notice:rotated", "newer-1")
}

func TestFileTruncation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "before-1", "before-2 is a longer line so the file shrinks")
	ch := follow(t, &File{Path: path, Backlog: 5, Poll: 50 * time.Millisecond}, 16)
	expect(t, ch, "before-1", "before-2 is a longer line so the file shrinks")
	// copytruncate: same file, cut to zero, writer continues (O_APPEND).
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	expect(t, ch, "notice:truncated")
	appendLines(t, path, "after-1")
	expect(t, ch, "after-1")
}

func TestFileNotYetThere(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "redis-state.log")
	ch := follow(t, &File{Path: path, Backlog: 10, Poll: 50 * time.Millisecond}, 16)
	expect(t, ch, "notice:does not exist")
	// Everything in a file that appears is new: it is read from the start.
	appendLines(t, path, "first", "second")
	expect(t, ch, "first", "second")
}

func TestFileLongLine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "start")
	ch := follow(t, &File{Path: path, Backlog: 1, MaxLine: 1024, Poll: 50 * time.Millisecond}, 16)
	expect(t, ch, "start")
	appendLines(t, path, strings.Repeat("é", 100<<10), "next")
	deadline := time.After(waitFor)
	for got := 0; got < 2; {
		select {
		case l := <-ch:
			if l.Notice {
				continue
			}
			switch got {
			case 0:
				if !l.Truncated || len(l.Text) > 1024 || !strings.HasPrefix(l.Text, "éé") || strings.ContainsRune(l.Text, '\uFFFD') {
					t.Fatalf("long line: truncated=%v len=%d", l.Truncated, len(l.Text))
				}
			case 1:
				if l.Text != "next" || l.Truncated {
					t.Fatalf("line after the long one: %+v", l)
				}
			}
			got++
		case <-deadline:
			t.Fatal("timed out")
		}
	}
}

// TestFileBurst writes 50k lines in many small writes while following with
// a small channel (backpressure) and checks every line arrives in order.
func TestFileBurst(t *testing.T) {
	t.Parallel()
	const n = 50000
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "start")
	ch := follow(t, &File{Path: path, Backlog: 1, Poll: 50 * time.Millisecond}, 8)
	expect(t, ch, "start")
	errc := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			errc <- err
			return
		}
		w := bufio.NewWriterSize(f, 1024) // many writes, lines split across them
		for i := range n {
			fmt.Fprintf(w, "Nov 26 00:11:55 redis-a Keepalived_vrrp[1]: burst %06d\n", i)
		}
		if err := w.Flush(); err != nil {
			errc <- err
			return
		}
		errc <- f.Close()
	}()
	deadline := time.After(waitFor)
	for i := 0; i < n; {
		select {
		case l := <-ch:
			if l.Notice {
				t.Fatalf("unexpected notice during burst: %s", l.Text)
			}
			want := "Nov 26 00:11:55 redis-a Keepalived_vrrp[1]: burst " + fmt.Sprintf("%06d", i)
			if l.Text != want {
				t.Fatalf("line %d: got %q, want %q", i, l.Text, want)
			}
			i++
		case <-deadline:
			t.Fatalf("timed out after %d of %d lines", i, n)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestFileLargeStartsAtEnd follows a 100 MB file and checks that it starts
// with its last lines without reading it: bytes read by the process
// (/proc/self/io rchar) and bytes allocated stay far below the file size.
// It runs alone (not parallel) so that the counters are its own.
func TestFileLargeStartsAtEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MB file; skipped with -short")
	}
	const size = 100 << 20
	path := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	lines := 0
	for written := 0; written < size; lines++ {
		n, _ := fmt.Fprintf(w, "Nov 26 00:11:55 redis-a redis-server[42]: filler line %09d with some padding to look real\n", lines)
		written += n
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	readBefore := rchar(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	ch := follow(t, &File{Path: path, Backlog: 20, Poll: 50 * time.Millisecond}, 64)
	var want []string
	for i := lines - 20; i < lines; i++ {
		want = append(want, fmt.Sprintf("Nov 26 00:11:55 redis-a redis-server[42]: filler line %09d with some padding to look real", i))
	}
	expect(t, ch, want...)
	appendLines(t, path, "fresh")
	expect(t, ch, "fresh")

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	read := rchar(t) - readBefore
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("100 MB file: read %d bytes, allocated %d bytes, heap in use %d -> %d", read, alloc, before.HeapInuse, after.HeapInuse)
	if read > 1<<20 {
		t.Errorf("read %d bytes to start following a 100 MB file; want under 1 MiB", read)
	}
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes; want under 4 MiB", alloc)
	}
}

// rchar is the bytes this process has read through read(2) and friends.
func rchar(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("cannot measure reads without /proc/self/io: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

func TestBacklogOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		data    string
		n       int
		off     int64
		midLine bool
	}{
		{"", 3, 0, false},
		{"a\nb\nc\n", 0, 6, false},
		{"a\nb\nc\n", 1, 4, false},
		{"a\nb\nc\n", 2, 2, false},
		{"a\nb\nc\n", 3, 0, false},
		{"a\nb\nc\n", 9, 0, false},
		{"a\nb\nc", 1, 4, false}, // the unfinished last line counts
		{"\n\n\n", 2, 1, false},
		// Lines longer than the cap: start mid-line, bounded.
		{strings.Repeat("x", 100000) + "\n", 1, 100001 - readBufSize, true},
		{strings.Repeat("x", 100) + "\n", 1, 0, false},
	}
	for _, tt := range tests {
		off, mid, err := backlogOffset(strings.NewReader(tt.data), int64(len(tt.data)), tt.n, 10)
		if err != nil || off != tt.off || mid != tt.midLine {
			t.Errorf("backlogOffset(%q, %d) = %d, %v, %v; want %d, %v", tt.data, tt.n, off, mid, err, tt.off, tt.midLine)
		}
	}
}
