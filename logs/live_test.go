package logs_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/logs"
)

// TestRedisLogLive follows a real redis-server's log file while it becomes
// a replica and then a master again, and checks the events that come out.
func TestRedisLogLive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logB := filepath.Join(dir, "b.log")
	a := redistest.Start(t)
	b := redistest.Start(t, redistest.WithArgs("--logfile", logB))

	out := pumpFile(t, logB, "b", logs.SourceRedis)

	b.ReplicaOf(a)
	waitEvent(t, out, "REPLICAOF", func(ev logs.Event) bool {
		return ev.Kind == logs.KindRedisRole && ev.State == "replica" && ev.Peer == a.Addr()
	})
	waitEvent(t, out, "sync finished", func(ev logs.Event) bool {
		return ev.Kind == logs.KindRedisSync && ev.OK && ev.Message == "sync with master finished"
	})
	if err := b.Client().ReplicaOf(context.Background(), "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, out, "MASTER MODE", func(ev logs.Event) bool {
		return ev.Kind == logs.KindRedisRole && ev.State == "master" && ev.Node == "b" && ev.PID > 0
	})
}

// waitEvent reads events until one matches.
func waitEvent(t *testing.T, ch <-chan logs.Event, what string, match func(logs.Event) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-ch:
			if match(ev) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s event", what)
		}
	}
}

// pumpFile follows path from its last 1000 lines, parsed as node's source,
// until the test ends.
func pumpFile(t *testing.T, path, node string, source logs.Source) <-chan logs.Event {
	t.Helper()
	return runUntilEnd(t, "Pump", 64, func(ctx context.Context, out chan<- logs.Event) error {
		return logs.Pump(ctx, &logs.File{Path: path, Backlog: 1000, Poll: 50 * time.Millisecond},
			&logs.Parser{Node: node, Source: source}, out)
	})
}

// runUntilEnd runs a producer into a channel of the given capacity until the
// test ends; then it cancels the producer, drains the channel so a blocked
// send returns, and reports the producer's error.
func runUntilEnd[T any](t *testing.T, what string, capacity int, run func(context.Context, chan<- T) error) <-chan T {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan T, capacity)
	done := make(chan error, 1)
	go func() { done <- run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v", what, err)
				}
				return
			case <-out:
			}
		}
	})
	return out
}
