package switchover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// slowPair is a master and a replica following it through a link of rate
// bytes per second: a replica that answers but takes time to catch up.
// The switch's LocalAddr is the proxy, as the replica knows its master.
func slowPair(t *testing.T, rate int) *RedisSwitch {
	t.Helper()
	m, r := redistest.Start(t), redistest.Start(t)
	proxy := redistest.Throttle(t, m.Addr(), rate)
	r.ReplicaOfAddr(proxy.Addr())
	return &RedisSwitch{Local: m.Client(), Target: r.Client(), TargetAddr: r.Addr(), LocalAddr: proxy.Addr(), Method: wire.MethodPause}
}

// behind writes n bytes in 4 KiB values to c.
func behind(t *testing.T, s *RedisSwitch, n int) {
	t.Helper()
	pipe := s.Local.Pipeline()
	for i := range n / (4 << 10) {
		pipe.Set(context.Background(), fmt.Sprintf("slow%d", i), strings.Repeat("s", 4<<10), 0)
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestCheckSwitchableByteLimitIsOptIn: a replica bytes behind passes the
// node's check without a byte limit (0), and is refused with one.
func TestCheckSwitchableByteLimitIsOptIn(t *testing.T) {
	t.Parallel()
	s := slowPair(t, 64<<10)
	behind(t, s, 128<<10) // two seconds behind
	ctx := context.Background()
	li, ti, err := s.CheckSwitchable(ctx, 0)
	if err != nil {
		t.Fatalf("CheckSwitchable without a byte limit: %v", err)
	}
	if lag, _ := replication.Lag(ti, li); lag == 0 {
		t.Fatal("the replica was not behind: the check proved nothing")
	}
	if _, _, err := s.CheckSwitchable(ctx, 1); err == nil || !strings.Contains(err.Error(), "bytes behind, above the limit of 1") {
		t.Fatalf("CheckSwitchable with a 1-byte limit = %v, want a refusal", err)
	}
}

// TestSwitchPauseBudget: a replica that answers but needs longer than the
// pause budget to catch up: the Redis step unpauses and aborts, the pair
// unchanged, writes flowing; given a budget that covers the catch-up, the
// same switch completes.
func TestSwitchPauseBudget(t *testing.T) {
	t.Parallel()
	s := slowPair(t, 64<<10)
	ctx := context.Background()
	behind(t, s, 128<<10) // two seconds behind
	s.Timeout = 100 * time.Millisecond
	start := time.Now()
	_, err := s.Switch(ctx)
	took := time.Since(start)
	var se *StateError
	if !errors.As(err, &se) || !strings.Contains(se.State, "unchanged (writes unpaused)") || !strings.Contains(err.Error(), "within the pause budget 100ms") {
		t.Fatalf("Switch with a 100 ms budget, 2 s behind = %v, want an abort with the pair unchanged", err)
	}
	t.Logf("aborted after %s: %v", took, err)
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.Local.Set(wctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("a write to the master after the abort (left paused?): %v", err)
	}
	if in := infoOf(t, s.Local); in.Role != replication.RoleMaster {
		t.Fatalf("the master is %s after the abort", in.Role)
	}
	if in := infoOf(t, s.Target); !isReplicaOf(in, s.LocalAddr) {
		t.Fatalf("the target is %s of %s:%d after the abort", in.Role, in.MasterHost, in.MasterPort)
	}

	// Let the replica catch up, then put it a quarter second behind.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ok, why := replication.CaughtUp(infoOf(t, s.Target), infoOf(t, s.Local)); ok {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the replica did not catch up: %s", why)
		}
	}
	behind(t, s, 16<<10)
	s.Timeout = 5 * time.Second
	res, err := s.Switch(ctx)
	if err != nil {
		t.Fatalf("Switch with a budget covering the catch-up: %v", err)
	}
	t.Logf("switched at offset %d, writes paused %s", res.Offset, res.Took)
	if in := infoOf(t, s.Target); in.Role != replication.RoleMaster {
		t.Fatalf("the target is %s after the switch", in.Role)
	}
}

func TestFailoverTimeoutCoversTheAckCadence(t *testing.T) {
	for budget, want := range map[time.Duration]time.Duration{
		10 * time.Millisecond:  failoverAckCadence,
		500 * time.Millisecond: failoverAckCadence,
		3 * time.Second:        3 * time.Second,
	} {
		if got := failoverTimeout(budget); got != want {
			t.Errorf("failoverTimeout(%s) = %s, want %s", budget, got, want)
		}
	}
}

// TestSwitchRightAfterASync: right after a diskless full sync the master
// streams nothing to the replica until its first ack (up to a second),
// though both already call it online and linked. A switch with a short
// budget then waits for the stream before pausing writes, and completes.
func TestSwitchRightAfterASync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for i := range 3 {
		// Diskless, as Redis 7 does by default, with no delay before the
		// transfer: the master puts the replica online at its first ack.
		m := redistest.Start(t, redistest.WithArgs("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"))
		r := redistest.Start(t)
		if err := m.Client().Set(ctx, "before", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		r.ReplicaOf(m)
		// A write after the sync, which the replica gets only once the
		// master streams to it.
		if err := m.Client().Set(ctx, "after", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		s := &RedisSwitch{Local: m.Client(), Target: r.Client(), TargetAddr: r.Addr(), LocalAddr: m.Addr(), Method: wire.MethodPause, Timeout: 100 * time.Millisecond}
		if _, err := s.Switch(ctx); err != nil {
			t.Fatalf("switch %d right after a sync: %v", i, err)
		}
		if v, err := r.Client().Get(ctx, "after").Int(); err != nil || v != i {
			t.Fatalf("switch %d: the new master has after=%d (%v), want %d", i, v, err, i)
		}
	}
}
