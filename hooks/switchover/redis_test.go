package switchover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// pair starts a master and a replica of it on loopback.
func pair(t *testing.T) (master, replica *redistest.Server) {
	t.Helper()
	master = redistest.Start(t)
	replica = redistest.Start(t)
	replica.ReplicaOf(master)
	return master, replica
}

// writer writes sequential keys to whichever server c points at and records
// every acknowledged one, like a client of the VIP would.
type writer struct {
	mu    sync.Mutex
	acked []string
	fails int
}

func (w *writer) run(ctx context.Context, c *redis.Client) {
	for i := 0; ctx.Err() == nil; i++ {
		key := fmt.Sprintf("k:%06d", i)
		wctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Set(wctx, key, i, 0).Err()
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, key)
		} else {
			w.fails++
		}
		w.mu.Unlock()
	}
}

// startWriter runs a writer against c until stop is called; stop waits for
// its last write.
func startWriter(c *redis.Client) (w *writer, stop func()) {
	w = &writer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx, c) }()
	return w, func() { cancel(); <-done }
}

// lost counts acknowledged keys missing on c.
func (w *writer) lost(t *testing.T, c *redis.Client) int {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx := context.Background()
	missing := 0
	for i := 0; i < len(w.acked); i += 500 {
		batch := w.acked[i:min(i+500, len(w.acked))]
		n, err := c.Exists(ctx, batch...).Result()
		if err != nil {
			t.Fatalf("EXISTS on %s: %v", c.Options().Addr, err)
		}
		missing += len(batch) - int(n)
	}
	return missing
}

func infoOf(t *testing.T, c *redis.Client) replication.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in, err := fetchInfo(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// waitLinkUp waits until c is a replica with its link up and synced.
func waitLinkUp(t *testing.T, c *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		in := infoOf(t, c)
		if in.Role == replication.RoleReplica && in.LinkUp && !in.SyncInProgress {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: replication link not up: %+v", c.Options().Addr, in)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedisSwitchUnderLoad(t *testing.T) {
	for _, method := range []string{wire.MethodFailover, wire.MethodPause} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			m, r := pair(t)
			var w writer
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); w.run(ctx, m.Client()) }()
			time.Sleep(100 * time.Millisecond) // some writes before the switch

			sw := &RedisSwitch{Local: m.Client(), Target: r.Client(), TargetAddr: r.Addr(), LocalAddr: m.Addr(), Timeout: 2 * time.Second, Method: method}
			// As a preflight would: wait until switchable (after the full
			// sync the master lists the replica online at its first ack).
			var err error
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if _, _, err = sw.CheckSwitchable(context.Background(), 1<<20); err == nil {
					break
				}
			}
			if err != nil {
				t.Fatalf("CheckSwitchable: %v", err)
			}
			res, err := sw.Switch(context.Background())
			stop()
			<-done
			if err != nil {
				t.Fatalf("Switch: %v", err)
			}
			if res.Method != method {
				t.Errorf("method = %q, want %q", res.Method, method)
			}
			if in := infoOf(t, r.Client()); in.Role != replication.RoleMaster {
				t.Fatalf("target role after switch = %q, want master", in.Role)
			}
			if in := infoOf(t, m.Client()); !isReplicaOf(in, r.Addr()) {
				t.Fatalf("old master after switch: role %q of %s:%d, want replica of %s", in.Role, in.MasterHost, in.MasterPort, r.Addr())
			}
			if len(w.acked) == 0 {
				t.Fatal("the writer got no write acknowledged")
			}
			if lost := w.lost(t, r.Client()); lost != 0 {
				t.Fatalf("%d of %d acknowledged writes missing on the new master", lost, len(w.acked))
			}
			// Writes are not paused on the new master, and the old master
			// answers READONLY instead of hanging.
			if err := r.Client().Set(context.Background(), "after", 1, 0).Err(); err != nil {
				t.Fatalf("write to the new master: %v", err)
			}
			waitLinkUp(t, m.Client())
			wctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := m.Client().Set(wctx, "to-old", 1, 0).Err(); err == nil || !isReadonly(err) {
				t.Fatalf("write to the old master = %v, want READONLY", err)
			}
		})
	}
}

func isReadonly(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "READONLY")
}

// A replica that cannot catch up (frozen) makes the switch fail at its
// timeout with the pair unchanged and writes on the master flowing again.
func TestRedisSwitchFrozenTargetLeavesPairUnchanged(t *testing.T) {
	for _, method := range []string{wire.MethodFailover, wire.MethodPause} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			m, r := pair(t)
			if err := m.Client().Set(context.Background(), "before", 1, 0).Err(); err != nil {
				t.Fatal(err)
			}
			r.Freeze()
			t.Cleanup(r.Thaw)
			// A write the frozen replica cannot have: the master is ahead.
			if err := m.Client().Set(context.Background(), "ahead", 1, 0).Err(); err != nil {
				t.Fatal(err)
			}
			sw := &RedisSwitch{Local: m.Client(), Target: r.Client(), TargetAddr: r.Addr(), LocalAddr: m.Addr(), Timeout: 300 * time.Millisecond, Method: method}
			_, err := sw.Switch(context.Background())
			var se *StateError
			if !errors.As(err, &se) {
				t.Fatalf("Switch = %v, want a *StateError", err)
			}
			if !strings.Contains(se.State, "unchanged") {
				t.Errorf("state = %q, want it to say unchanged", se.State)
			}
			if in := infoOf(t, m.Client()); in.Role != replication.RoleMaster {
				t.Fatalf("master role after the failed switch = %q", in.Role)
			}
			wctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := m.Client().Set(wctx, "after", 1, 0).Err(); err != nil {
				t.Fatalf("write to the master after a failed switch (writes left paused?): %v", err)
			}
			r.Thaw()
			waitLinkUp(t, r.Client())
			if in := infoOf(t, r.Client()); !isReplicaOf(in, m.Addr()) {
				t.Fatalf("target after the failed switch: role %q of %s:%d", in.Role, in.MasterHost, in.MasterPort)
			}
		})
	}
}

func TestCheckSwitchableRefusals(t *testing.T) {
	t.Parallel()
	m, r := pair(t)
	other := redistest.Start(t)
	ctx := context.Background()

	// The target named is not a replica of the master.
	sw := &RedisSwitch{Local: m.Client(), Target: other.Client(), TargetAddr: other.Addr(), LocalAddr: m.Addr(), Timeout: time.Second}
	if _, _, err := sw.CheckSwitchable(ctx, 1<<20); err == nil {
		t.Error("CheckSwitchable accepted a target that is not the master's replica")
	}
	// Local is not the master.
	sw = &RedisSwitch{Local: r.Client(), Target: m.Client(), TargetAddr: m.Addr(), LocalAddr: r.Addr(), Timeout: time.Second}
	if _, _, err := sw.CheckSwitchable(ctx, 1<<20); err == nil {
		t.Error("CheckSwitchable accepted a replica as the local master")
	}
	// Lag above the limit: freeze the replica and write past it.
	r.Freeze()
	t.Cleanup(r.Thaw)
	if err := m.Client().Set(ctx, "big", make([]byte, 4096), 0).Err(); err != nil {
		t.Fatal(err)
	}
	sw = &RedisSwitch{Local: m.Client(), Target: r.Client(), TargetAddr: r.Addr(), LocalAddr: m.Addr(), Timeout: time.Second}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, _, err := sw.CheckSwitchable(cctx, 100); err == nil {
		t.Error("CheckSwitchable accepted a frozen replica")
	}
	r.Thaw()
	// Link down: the master is gone.
	m.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for infoOf(t, r.Client()).LinkUp && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if _, _, err := sw.CheckSwitchable(ctx, 1<<20); err == nil {
		t.Error("CheckSwitchable accepted a stopped master")
	}
}

// BenchmarkRedisSwitch measures the Redis step alone (writes paused for
// most of it), switching a loopback pair back and forth under a light
// write load. Run: go test ./hooks/ -run '^$' -bench RedisSwitch -benchtime 20x
func BenchmarkRedisSwitch(b *testing.B) {
	for _, method := range []string{wire.MethodFailover, wire.MethodPause} {
		b.Run(method, func(b *testing.B) {
			m := redistest.Start(b)
			r := redistest.Start(b)
			r.ReplicaOf(m)
			servers := [2]*redistest.Server{m, r}
			var tooks []time.Duration
			for i := 0; i < b.N; i++ {
				from, to := servers[i%2], servers[(i+1)%2]
				sw := &RedisSwitch{Local: from.Client(), Target: to.Client(), TargetAddr: to.Addr(), LocalAddr: from.Addr(), Timeout: 2 * time.Second, Method: method}
				// Wait until switchable, as the node-local check would.
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if _, _, err := sw.CheckSwitchable(context.Background(), 1<<20); err == nil {
						break
					}
				}
				ctx, stop := context.WithCancel(context.Background())
				var w writer
				go w.run(ctx, from.Client())
				time.Sleep(20 * time.Millisecond)
				res, err := sw.Switch(context.Background())
				stop()
				if err != nil {
					b.Fatalf("switch %d: %v", i, err)
				}
				tooks = append(tooks, res.Took)
			}
			slices.Sort(tooks)
			b.ReportMetric(float64(tooks[len(tooks)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(tooks[len(tooks)-1].Microseconds())/1000, "max-ms")
		})
	}
}
