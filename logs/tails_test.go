package logs

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
)

func exampleConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Load(filepath.Join("..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNodeTails(t *testing.T) {
	t.Parallel()
	c := exampleConfig(t)
	tails, err := NodeTails(c, "a", ExecStreamer{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(tails) != 2 {
		t.Fatalf("%d tails, want syslog and state log", len(tails))
	}
	// The syslog file, or the journal on a node without one: the parser
	// tells the two apart by the line.
	if f, ok := tails[0].Follower.(*SystemLog); !ok || f.Path != c.Console.Syslog || f.Backlog != 50 || !slices.Equal(f.Matches, JournalFallback) || tails[0].Parser.Source != "" || tails[0].Parser.Node != "a" {
		t.Errorf("first tail: %+v %+v", tails[0].Follower, tails[0].Parser)
	}
	if f, ok := tails[1].Follower.(*RemoteFile); !ok || f.Path != c.Hooks.StateLog || tails[1].Parser.Source != SourceState {
		t.Errorf("second tail: %+v %+v", tails[1].Follower, tails[1].Parser)
	}

	c.Console.JournalUnit = "keepalived, redis-server"
	tails, err = NodeTails(c, "b", ExecStreamer{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if j, ok := tails[0].Follower.(*Journal); !ok || len(j.Units) != 2 || j.Units[1] != "redis-server" || tails[0].Parser.Source != SourceJournal {
		t.Errorf("journal tail: %+v", tails[0].Follower)
	}
	if _, err := NodeTails(c, "nope", ExecStreamer{}, 10); err == nil {
		t.Error("unknown node: no error")
	}
}

// TestFollowAll follows a node's syslog and state log (local files through
// real tail processes) and gets parsed events from both.
func TestFollowAll(t *testing.T) {
	t.Parallel()
	needTail(t)
	dir := t.TempDir()
	c := exampleConfig(t)
	c.Console.Syslog = filepath.Join(dir, "syslog")
	c.Hooks.StateLog = filepath.Join(dir, "redis-state.log")
	appendLines(t, c.Console.Syslog, "Nov 26 00:20:21 redis-a Keepalived_vrrp[1]: (VI_REDIS) Entering FAULT STATE")
	appendLines(t, c.Hooks.StateLog, "2026-11-26:00:20:21.100|42|state:[fault] refused: peer is empty")
	tails, err := NodeTails(c, "a", ExecStreamer{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event, 8)
	done := make(chan struct{})
	go func() { FollowAll(ctx, tails, out); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	seen := map[Kind]Event{}
	deadline := time.After(waitFor)
	for len(seen) < 2 {
		select {
		case ev := <-out:
			if ev.Kind != KindNotice {
				seen[ev.Kind] = ev
			}
		case <-deadline:
			t.Fatalf("timed out; got %v", seen)
		}
	}
	if ev := seen[KindTransition]; ev.Node != "a" || ev.State != "FAULT" || ev.Level != LevelError {
		t.Errorf("transition: %+v", ev)
	}
	if ev := seen[KindHook]; ev.Node != "a" || ev.State != "fault" || ev.Level != LevelWarn {
		t.Errorf("hook: %+v", ev)
	}
}
