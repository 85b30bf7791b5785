package nodes

import (
	"context"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
)

// TestPollerSetInterval: a Poller at an hour's interval polls again soon
// after SetInterval shortens it, and keeps that pace. A node missing from
// the config makes every poll report it without any network.
func TestPollerSetInterval(t *testing.T) {
	cfg, err := config.Load("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := NewPoller(cfg, "missing", WithInterval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	next := func(within time.Duration) bool {
		select {
		case s := <-p.Snapshots():
			if s.ConnErr == "" {
				t.Errorf("snapshot without the configuration error: %+v", s)
			}
			return true
		case <-time.After(within):
			return false
		}
	}
	if !next(10 * time.Second) {
		t.Fatal("no first poll")
	}
	if next(200 * time.Millisecond) {
		t.Fatal("polled again within 200ms at an hour's interval")
	}
	p.SetInterval(20 * time.Millisecond)
	for i := range 3 {
		if !next(10 * time.Second) {
			t.Fatalf("poll %d after SetInterval(20ms) did not come", i+1)
		}
	}
	p.SetInterval(time.Hour)
	// One poll may have been due already; after it, none.
	next(100 * time.Millisecond)
	if next(300 * time.Millisecond) {
		t.Fatal("polled again within 300ms after SetInterval(1h)")
	}
}
