package logs

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func needTail(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tail"); err != nil {
		t.Skip("tail not installed")
	}
}

// cuttable wraps a real Streamer so that a test can drop the current stream
// (a dead SSH connection) and hold the reconnect until it has changed the
// file.
type cuttable struct {
	inner Streamer
	gate  chan struct{} // every Stream after the first takes a token

	mu    sync.Mutex
	cur   io.ReadCloser
	cmds  []string
	calls int
}

func newCuttable(inner Streamer) *cuttable {
	return &cuttable{inner: inner, gate: make(chan struct{}, 10)}
}

func (c *cuttable) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	c.mu.Lock()
	c.calls++
	n := c.calls
	c.cmds = append(c.cmds, cmd)
	c.mu.Unlock()
	if n > 1 {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	rc, err := c.inner.Stream(ctx, cmd)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cur = rc
	c.mu.Unlock()
	return rc, nil
}

// cut ends the current stream as a dropped connection would.
func (c *cuttable) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		c.cur.Close()
	}
}

func (c *cuttable) commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.cmds...)
}

func TestRemoteFileFollowsLikeTailF(t *testing.T) {
	t.Parallel()
	needTail(t)
	// A path that needs quoting.
	dir := filepath.Join(t.TempDir(), "it's a dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "syslog")
	appendLines(t, path, "one", "two", "three")
	ch := follow(t, &RemoteFile{Streamer: ExecStreamer{}, Path: path, Backlog: 2}, 16)
	expect(t, ch, "two", "three")
	appendLines(t, path, "four")
	expect(t, ch, "four")
	// Rotation: tail -F follows the new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "rotated-1")
	expect(t, ch, "rotated-1")
	// Truncation: tail -F starts over.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "x")
	expect(t, ch, "x")
}

func TestRemoteFileReconnectResumes(t *testing.T) {
	t.Parallel()
	needTail(t)
	path := filepath.Join(t.TempDir(), "syslog")
	for i := 1; i <= 10; i++ {
		appendLines(t, path, fmt.Sprintf("line %d", i))
	}
	cs := newCuttable(ExecStreamer{})
	ch := follow(t, &RemoteFile{Streamer: cs, Path: path, Backlog: 3, MinBackoff: 10 * time.Millisecond}, 16)
	expect(t, ch, "line 8", "line 9", "line 10")
	cs.cut()
	expect(t, ch, "notice:reconnecting")
	// Written while the connection was down.
	for i := 11; i <= 15; i++ {
		appendLines(t, path, fmt.Sprintf("line %d", i))
	}
	cs.gate <- struct{}{}
	// Exactly the missed lines, no repeats (expect fails on any other line).
	expect(t, ch, "line 11", "line 12", "line 13", "line 14", "line 15")
	appendLines(t, path, "line 16")
	expect(t, ch, "line 16")
	cmds := cs.commands()
	if len(cmds) != 2 || !strings.Contains(cmds[0], "-n 3 ") || !strings.Contains(cmds[1], "-n 200 ") {
		t.Errorf("commands: %q", cmds)
	}
}

func TestRemoteFileReconnectRepeatedLines(t *testing.T) {
	t.Parallel()
	needTail(t)
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "x", "x", "x", "x")
	cs := newCuttable(ExecStreamer{})
	ch := follow(t, &RemoteFile{Streamer: cs, Path: path, Backlog: 4, MinBackoff: 10 * time.Millisecond}, 16)
	expect(t, ch, "x", "x", "x", "x")
	cs.cut()
	expect(t, ch, "notice:reconnecting")
	appendLines(t, path, "y", "x")
	cs.gate <- struct{}{}
	expect(t, ch, "y", "x")
}

func TestRemoteFileReconnectAfterRotationSaysSo(t *testing.T) {
	t.Parallel()
	needTail(t)
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "a", "b")
	cs := newCuttable(ExecStreamer{})
	ch := follow(t, &RemoteFile{Streamer: cs, Path: path, Backlog: 2, MinBackoff: 10 * time.Millisecond}, 16)
	expect(t, ch, "a", "b")
	cs.cut()
	expect(t, ch, "notice:reconnecting")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, "c", "d")
	cs.gate <- struct{}{}
	expect(t, ch, "notice:may be missing", "c", "d")
}

// scripted serves fixed output per call, then a stream that stays open
// until closed: journald cannot run here, so this stands in for journalctl
// to check what the follower asks for.
type scripted struct {
	mu      sync.Mutex
	outputs []string
	called  chan string
}

func (s *scripted) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	s.called <- cmd
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.outputs) == 0 {
		pr, pw := io.Pipe()
		context.AfterFunc(ctx, func() { pw.Close() })
		return pr, nil
	}
	out := s.outputs[0]
	s.outputs = s.outputs[1:]
	return io.NopCloser(strings.NewReader(out)), nil
}

func TestJournalResumesAfterCursor(t *testing.T) {
	t.Parallel()
	entry := func(cursor, msg string) string {
		return fmt.Sprintf(`{"__CURSOR":%q,"SYSLOG_IDENTIFIER":"Keepalived_vrrp","MESSAGE":%q}`, cursor, msg) + "\n"
	}
	s := &scripted{called: make(chan string, 10), outputs: []string{
		entry("s=1;i=1", "one") + entry("s=1;i=2", "two"),
		entry("s=1;i=3", "three"),
	}}
	ch := follow(t, &Journal{Streamer: s, Units: []string{"keepalived", "redis-server"}, Backlog: 50, MinBackoff: time.Millisecond}, 16)
	expect(t, ch, strings.TrimSuffix(entry("s=1;i=1", "one"), "\n"),
		strings.TrimSuffix(entry("s=1;i=2", "two"), "\n"),
		"notice:reconnecting",
		strings.TrimSuffix(entry("s=1;i=3", "three"), "\n"),
		"notice:reconnecting")
	want := []string{
		"exec journalctl -f -q --no-pager -o json -u keepalived -u redis-server -n 50",
		"exec journalctl -f -q --no-pager -o json -u keepalived -u redis-server --after-cursor='s=1;i=2'",
		"exec journalctl -f -q --no-pager -o json -u keepalived -u redis-server --after-cursor='s=1;i=3'",
	}
	var cmds []string
	for range want {
		select {
		case c := <-s.called:
			cmds = append(cmds, c)
		case <-time.After(waitFor):
			t.Fatalf("commands %q, want %q", cmds, want)
		}
	}
	for i := range want {
		if cmds[i] != want[i] {
			t.Errorf("command %d: %q, want %q", i, cmds[i], want[i])
		}
	}
}

func TestTailCommandQuoting(t *testing.T) {
	t.Parallel()
	got := TailCommand("/var/log/it's", 5)
	if !strings.HasSuffix(got, `; exec tail -n 5 -F -- '/var/log/it'\''s'`) {
		t.Errorf("TailCommand = %q", got)
	}
	if got := TailCommand("-x", -1); !strings.HasSuffix(got, "exec tail -n 0 -F -- -x") {
		t.Errorf("TailCommand = %q", got)
	}
}

func TestRemoteFileNotYetThere(t *testing.T) {
	t.Parallel()
	needTail(t)
	path := filepath.Join(t.TempDir(), "it's missing")
	ch := follow(t, &RemoteFile{Streamer: ExecStreamer{}, Path: path, Backlog: 5}, 16)
	expect(t, ch, "notice:does not exist yet")
	appendLines(t, path, "first")
	expect(t, ch, "first")
}

func TestPumpParsesAndNotices(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "syslog")
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event, 4)
	done := make(chan error, 1)
	p := &Parser{Node: "a", Source: SourceSyslog}
	go func() { done <- Pump(ctx, &File{Path: path, Poll: 20 * time.Millisecond}, p, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Pump: %v", err)
		}
	})
	next := func() Event {
		select {
		case ev := <-out:
			return ev
		case <-time.After(waitFor):
			t.Fatal("no event")
			return Event{}
		}
	}
	if ev := next(); ev.Kind != KindNotice || ev.Level != LevelWarn || ev.Node != "a" || !strings.Contains(ev.Message, "does not exist") {
		t.Fatalf("first event: %+v", ev)
	}
	appendLines(t, path, "Nov 26 00:20:21 redis-a Keepalived_vrrp[1]: (VI_1) Entering FAULT STATE")
	for {
		ev := next()
		if ev.Kind == KindNotice {
			continue
		}
		if ev.Kind != KindTransition || ev.State != "FAULT" || ev.Level != LevelError || ev.Node != "a" {
			t.Fatalf("event: %+v", ev)
		}
		break
	}
}
