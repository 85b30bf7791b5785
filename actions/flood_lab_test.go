package actions

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/loadcheck"
	"github.com/redkeep/redkeep/wire"
)

// flood writes 100 KB values through the VIP on conns connections as fast
// as the pair takes them: the load under which a byte-lag gate refused
// every switchover. Keys cycle over a small set per connection, so the
// data set stays bounded while the replication stream carries every byte.
type flood struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	acked  atomic.Int64 // bytes acknowledged
	failed atomic.Int64
}

const (
	floodValue = 100_000
	floodConns = 8
	floodKeys  = 32 // per connection
)

func startFlood(addr string) *flood {
	ctx, cancel := context.WithCancel(context.Background())
	f := &flood{cancel: cancel}
	value := strings.Repeat("f", floodValue)
	for c := range floodConns {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			cl := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second,
				MaxRetries: -1, PoolSize: 1, ContextTimeoutEnabled: true, DisableIdentity: true, Protocol: 2})
			defer cl.Close()
			for i := 0; ctx.Err() == nil; i++ {
				if err := cl.Set(ctx, fmt.Sprintf("flood:%d:%d", c, i%floodKeys), value, 0).Err(); err != nil {
					f.failed.Add(1)
					time.Sleep(5 * time.Millisecond) // a failing pair, not a busy loop
					continue
				}
				f.acked.Add(floodValue)
			}
		}()
	}
	return f
}

func (f *flood) stop() {
	f.cancel()
	f.wg.Wait()
}

// rate is the flood's acknowledged bytes per second over d.
func (f *flood) rate(d time.Duration) float64 {
	before := f.acked.Load()
	time.Sleep(d)
	return float64(f.acked.Load()-before) / d.Seconds()
}

// TestLabSwitchoverUnderFlood: three switchovers in a row while a second
// client floods the pair through the VIP with 100 KB values on 8
// connections. Each passes its preflight on the pause estimate (the byte
// lag it shows would have refused), completes, and loses no acknowledged
// write. It logs each estimate next to the pause the node measured:
//
//	flock -o /tmp/redkeep-lab.lock go test ./actions/ -run TestLabSwitchoverUnderFlood -v
func TestLabSwitchoverUnderFlood(t *testing.T) {
	e := newLabEnvAt(t, "rkfl", "198.18.223.0/24", "198.19.223.0/24", "198.19.224.0/24")
	ctx := context.Background()
	load := loadcheck.Start(ctx, loadcheck.Options{Addr: e.vip, Interval: 5 * time.Millisecond, Timeout: time.Second})
	loadStopped := false
	defer func() {
		if !loadStopped {
			load.Stop()
		}
	}()
	if err := load.WaitAcked(ctx, 20, 5*time.Second); err != nil {
		t.Fatalf("write load through the VIP %s: %v", e.vip, err)
	}
	fl := startFlood(e.vip)
	floodStopped := false
	defer func() {
		if !floodStopped {
			fl.stop()
		}
	}()
	if r := fl.rate(time.Second); r < 10<<20 {
		t.Fatalf("the flood through the VIP writes %s/s; want a flood (tens of MB/s at least)", human.Bytes(int64(r)))
	}

	for i := range 3 {
		from := e.master(t)
		r := fl.rate(500 * time.Millisecond)
		var steps []string
		var paused string
		res, err := Run(ctx, e.cfg, e.sn, Options{Timeout: 20 * time.Second}, func(s Step) {
			steps = append(steps, fmt.Sprintf("%s %s %s %s %s", s.Time.Format("15:04:05.000"), s.Name, s.Node, s.State, s.Detail))
			if s.Name == wire.StepRedis && s.State == StepDone {
				paused = s.Detail
			}
		})
		var lag, pause string
		for _, c := range res.Plan.Checks {
			switch c.Name {
			case CheckLag:
				lag = c.Value
			case CheckPause:
				pause = c.Value + " (" + c.Threshold + ")"
			}
		}
		if err != nil {
			t.Fatalf("switchover %d from %s under a flood of %s/s: %v\n%s", i+1, from, human.Bytes(int64(r)), err, strings.Join(steps, "\n"))
		}
		t.Logf("switchover %d %s -> %s under %s/s of 100 KB writes, in %s:\n\tbyte lag: %s\n\testimate: %s\n\tmeasured: %s",
			i+1, res.Plan.From, res.Plan.To, human.Bytes(int64(r)), res.Took.Round(time.Millisecond), lag, pause, paused)
		if m := e.master(t); m != res.Plan.To {
			t.Fatalf("switchover %d: master %s after %s -> %s", i+1, m, res.Plan.From, res.Plan.To)
		}
		e.noLocks(t)
		if err := load.WaitAcked(ctx, 20, 5*time.Second); err != nil {
			t.Fatalf("after switchover %d: %v", i+1, err)
		}
	}

	floodStopped, loadStopped = true, true
	fl.stop()
	res := load.Stop()
	final := e.master(t)
	fn, _ := e.cfg.Node(final)
	if err := res.Verify(ctx, fn.Redis.PeerAddr); err != nil {
		t.Fatal(err)
	}
	t.Logf("flood: %s acknowledged in 100 KB writes, %d failed writes; loadcheck: %s", human.Bytes(fl.acked.Load()), fl.failed.Load(), res.Summary())
	if len(res.Lost) > 0 {
		t.Errorf("%d acknowledged writes lost (first #%d, acked %s)", len(res.Lost), res.Lost[0].Seq, res.Lost[0].At.Format("15:04:05.000"))
	}
}
