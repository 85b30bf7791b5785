package redistest_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
)

func TestStartReplicaRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := redistest.Start(t)
	r := redistest.Start(t)
	if err := m.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on master: %v", err)
	}
	r.ReplicaOf(m)
	if got, err := r.Client().Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET k on replica = %q, %v; want v", got, err)
	}

	m.Restart()
	n, err := m.Client().DBSize(ctx).Result()
	if err != nil || n != 0 {
		t.Fatalf("DBSIZE after Restart = %d, %v; want 0 (restart must come back empty)", n, err)
	}
}

func TestFreezeThaw(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t)
	s.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := s.Client().Ping(ctx).Err()
	cancel()
	if err == nil {
		t.Fatal("PING answered while the server was frozen")
	}
	s.Thaw()
	if err := s.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING after Thaw: %v", err)
	}
}

func TestPasswordAndStop(t *testing.T) {
	t.Parallel()
	s := redistest.Start(t, redistest.WithPassword("s3cret"))
	if err := s.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PING with password: %v", err)
	}
	s.Stop()
	s.Stop() // twice is fine
	err := s.Client().Ping(context.Background()).Err()
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("PING after Stop = %v; want connection refused", err)
	}
}

func TestWithRDBLoading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := redistest.Start(t)
	pipe := src.Client().Pipeline()
	for i := range 20000 {
		pipe.Set(ctx, "k"+strconv.Itoa(i), i, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s := redistest.Start(t, redistest.WithRDB(src.SaveRDB()), redistest.WithArgs("--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"))
	if err := s.Client().Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
		t.Fatalf("PING while loading 20000 keys at 100us each = %v, want LOADING", err)
	}
}
