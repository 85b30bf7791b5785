package nodes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
)

// lagPair is a real master and a replica that follows it through a proxy
// forwarding rate bytes per second: a replica that really lags.
func lagPair(t *testing.T, rate int) (master, replica *redistest.Server) {
	t.Helper()
	master = redistest.Start(t)
	replica = redistest.Start(t)
	proxy := redistest.Throttle(t, master.Addr(), rate)
	host, port, _ := net.SplitHostPort(proxy.Addr())
	ctx := context.Background()
	if err := replica.Client().ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool {
		in, err := replication.Fetch(ctx, replica.Client())
		return err == nil && in.LinkUp && !in.SyncInProgress
	})
	return master, replica
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not within %s", limit)
		}
	}
}

// lagSnaps probes both servers as a status would, master first.
func lagSnaps(t *testing.T, master, replica *redistest.Server) []Snapshot {
	t.Helper()
	ctx := context.Background()
	m, err := replication.Fetch(ctx, master.Client())
	if err != nil {
		t.Fatal(err)
	}
	r, err := replication.Fetch(ctx, replica.Client())
	if err != nil {
		t.Fatal(err)
	}
	return []Snapshot{
		{Node: "a", Redis: Redis{Up: true, Info: m}},
		{Node: "b", Redis: Redis{Up: true, Info: r}},
	}
}

func readReplica(replica *redistest.Server) OffsetReader {
	return func(ctx context.Context, node string) (replication.Info, error) {
		if node != "b" {
			return replication.Info{}, errors.New("unexpected node " + node)
		}
		return replication.FetchRole(ctx, replica.Client())
	}
}

func TestMeasureLagAgainstRealRedis(t *testing.T) {
	ctx := context.Background()
	master, replica := lagPair(t, 256<<10) // 256 KiB/s

	t.Run("in sync is zero", func(t *testing.T) {
		var snaps []Snapshot
		waitFor(t, 5*time.Second, func() bool {
			snaps = lagSnaps(t, master, replica)
			n, ok := replication.Lag(snaps[1].Redis.Info, snaps[0].Redis.Info)
			return ok && n == 0
		})
		MeasureLag(ctx, snaps, time.Second, readReplica(replica))
		l := snaps[1].Redis.Lag
		if l == nil || l.Bytes != 0 || l.Seconds != 0 || !l.Known || l.Source != LagHadAll {
			t.Fatalf("lag of a replica in sync: %+v, want 0 B, 0 s, known", l)
		}
		if snaps[0].Redis.Lag != nil {
			t.Errorf("the master got a lag: %+v", snaps[0].Redis.Lag)
		}
		if got := l.String(); got != "0 B · 0 s" {
			t.Errorf("String() = %q", got)
		}
	})

	t.Run("behind, catches up", func(t *testing.T) {
		// 64 KiB through a 256 KiB/s link: about a quarter second behind.
		if err := master.Client().Set(ctx, "k", strings.Repeat("x", 64<<10), 0).Err(); err != nil {
			t.Fatal(err)
		}
		snaps := lagSnaps(t, master, replica)
		MeasureLag(ctx, snaps, 5*time.Second, readReplica(replica))
		l := snaps[1].Redis.Lag
		if l == nil || !l.Known || l.Source != LagCaughtUp {
			t.Fatalf("lag: %+v, want a measured catch-up", l)
		}
		if l.Bytes < 32<<10 || l.Seconds < 0.05 || l.Seconds > 5 {
			t.Errorf("lag %+v: want about 64 KiB and a fraction of a second", l)
		}
		if got := l.String(); !strings.Contains(got, "KiB · 0.") || !strings.HasSuffix(got, " s") {
			t.Errorf("String() = %q", got)
		}
	})

	t.Run("behind beyond the bound", func(t *testing.T) {
		// 1 MiB at 256 KiB/s: four seconds; the bound is 200 ms.
		if err := master.Client().Set(ctx, "k2", strings.Repeat("y", 1<<20), 0).Err(); err != nil {
			t.Fatal(err)
		}
		snaps := lagSnaps(t, master, replica)
		start := time.Now()
		MeasureLag(ctx, snaps, 200*time.Millisecond, readReplica(replica))
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("MeasureLag took %s with a 200 ms bound", took)
		}
		l := snaps[1].Redis.Lag
		if l == nil || l.Known || l.Seconds != 0.2 || l.Source != LagNotYet {
			t.Fatalf("lag: %+v, want unknown, at least the 200 ms bound", l)
		}
		if got := l.String(); !strings.HasSuffix(got, "> 0.2 s") {
			t.Errorf("String() = %q", got)
		}
	})
}

func TestMeasureLagLeavesOthersAlone(t *testing.T) {
	m := replication.Info{Role: replication.RoleMaster, ReplID: strings.Repeat("a", 40), MasterReplOffset: 100}
	r := replication.Info{Role: replication.RoleReplica, ReplID: m.ReplID, MasterReplOffset: 50, ReplicaOffset: 50, LinkUp: true}
	never := func(context.Context, string) (replication.Info, error) { return r, nil }
	for name, snaps := range map[string][]Snapshot{
		"two masters":   {{Node: "a", Redis: Redis{Up: true, Info: m}}, {Node: "b", Redis: Redis{Up: true, Info: m}}},
		"no master":     {{Node: "a", Redis: Redis{Up: true, Info: r}}, {Node: "b", Redis: Redis{Up: false}}},
		"other history": {{Node: "a", Redis: Redis{Up: true, Info: m}}, {Node: "b", Redis: Redis{Up: true, Info: replication.Info{Role: replication.RoleReplica, ReplID: strings.Repeat("b", 40), MasterReplOffset: 100}}}},
	} {
		MeasureLag(context.Background(), snaps, 50*time.Millisecond, never)
		for _, s := range snaps {
			if s.Redis.Lag != nil {
				t.Errorf("%s: node %s got a lag %+v", name, s.Node, s.Redis.Lag)
			}
		}
	}
	// A replica that fails to answer is measured up to the bound, no further.
	snaps := []Snapshot{{Node: "a", Redis: Redis{Up: true, Info: m}}, {Node: "b", Redis: Redis{Up: true, Info: r}}}
	failing := func(context.Context, string) (replication.Info, error) { return replication.Info{}, errors.New("boom") }
	MeasureLag(context.Background(), snaps, 50*time.Millisecond, failing)
	if l := snaps[1].Redis.Lag; l == nil || l.Known || l.Bytes != 50 || l.Seconds != 0.05 {
		t.Errorf("failing reader: %+v", l)
	}
}

func TestEstimatePause(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC)
	at := func(ms int, off int64) OffsetSample {
		return OffsetSample{At: t0.Add(time.Duration(ms) * time.Millisecond), Offset: off}
	}
	tests := []struct {
		name    string
		bytes   int64
		samples []OffsetSample
		target  int64
		reached time.Duration
		want    PauseEstimate
		str     string
	}{
		{name: "no lag", bytes: 0, want: PauseEstimate{Known: true},
			str: "has every byte; writes would pause only for the switch itself"},
		{name: "13 MiB at 310 MiB/s", bytes: 13 << 20, samples: []OffsetSample{at(0, 0), at(50, 5<<20), at(100, 31<<20)}, target: 40 << 20,
			want: PauseEstimate{Bytes: 13 << 20, Rate: 310 << 20, Window: 100 * time.Millisecond, Pause: 41935483, Known: true},
			str:  "is ~42ms behind at 310.0 MiB/s; writes would pause about that long"},
		{name: "slow replica, seconds behind", bytes: 1 << 20, samples: []OffsetSample{at(0, 1000), at(150, 1000+38400)}, target: 1 << 30,
			want: PauseEstimate{Bytes: 1 << 20, Rate: 256000, Window: 150 * time.Millisecond, Pause: 4096 * time.Millisecond, Known: true},
			str:  "is ~4.1s behind at 250.0 KiB/s; writes would pause about that long"},
		{name: "caught up, nothing more came", bytes: 300, samples: []OffsetSample{at(0, 5000), at(150, 5000)}, target: 5000, reached: 5 * time.Millisecond,
			want: PauseEstimate{Bytes: 300, Window: 150 * time.Millisecond, Pause: 5 * time.Millisecond, Known: true},
			str:  "caught up with 300 B within 5ms and nothing more came; writes would pause about that long"},
		{name: "stalled behind", bytes: 300, samples: []OffsetSample{at(0, 4700), at(150, 4700)}, target: 5000,
			want: PauseEstimate{Bytes: 300, Window: 150 * time.Millisecond},
			str:  "is 300 B behind and applied nothing in 150ms; writes would pause until it does"},
		{name: "no sample", bytes: 300, target: 5000,
			want: PauseEstimate{Bytes: 300},
			str:  "is 300 B behind and applied nothing in 0s; writes would pause until it does"},
		{name: "one sample, not there", bytes: 300, samples: []OffsetSample{at(0, 4800)}, target: 5000,
			want: PauseEstimate{Bytes: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EstimatePause(tt.bytes, tt.samples, tt.target, tt.reached)
			if got != tt.want {
				t.Fatalf("EstimatePause = %+v, want %+v", got, tt.want)
			}
			if tt.str != "" && got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
		})
	}
}

// TestMeasureLagRateAgainstRealRedis: a replica behind a 256 KiB/s link
// is measured applying about that, and its catch-up estimated from it.
func TestMeasureLagRateAgainstRealRedis(t *testing.T) {
	ctx := context.Background()
	const rate = 256 << 10
	master, replica := lagPair(t, rate)

	t.Run("in sync: a zero estimate without sampling", func(t *testing.T) {
		var snaps []Snapshot
		waitFor(t, 5*time.Second, func() bool {
			snaps = lagSnaps(t, master, replica)
			n, ok := replication.Lag(snaps[1].Redis.Info, snaps[0].Redis.Info)
			return ok && n == 0
		})
		start := time.Now()
		MeasureLagRate(ctx, snaps, time.Second, RateWindow, readReplica(replica))
		if took := time.Since(start); took > RateWindow {
			t.Errorf("a replica in sync took %s to measure", took)
		}
		if p := snaps[1].Redis.Lag.Pause; p == nil || !p.Known || p.Pause != 0 || p.Bytes != 0 {
			t.Fatalf("estimate of a replica in sync: %+v", p)
		}
	})

	t.Run("behind: lag at the measured rate", func(t *testing.T) {
		// 1 MiB through 256 KiB/s: about four seconds behind, more than
		// the one-second bound, so the estimate is all there is. In 4 KiB
		// writes: a replica's offset moves a whole command at a time.
		pipe := master.Client().Pipeline()
		for i := range 256 {
			pipe.Set(ctx, fmt.Sprintf("w%d", i), strings.Repeat("z", 4<<10), 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		snaps := lagSnaps(t, master, replica)
		start := time.Now()
		MeasureLagRate(ctx, snaps, time.Second, 200*time.Millisecond, readReplica(replica))
		took := time.Since(start)
		if took < 200*time.Millisecond || took > 2*time.Second {
			t.Errorf("MeasureLagRate took %s; want the 200 ms window at least, the 1 s bound at most", took)
		}
		l := snaps[1].Redis.Lag
		if l == nil || l.Pause == nil {
			t.Fatalf("no estimate: %+v", l)
		}
		p := *l.Pause
		t.Logf("lag %s; estimate: %s (%+v)", l, p, p)
		if !p.Known || p.Bytes != l.Bytes || p.Window < 150*time.Millisecond {
			t.Fatalf("estimate %+v: want known, over the lag of %d bytes, sampled over at least 150 ms", p, l.Bytes)
		}
		if p.Rate < rate/4 || p.Rate > rate*4 {
			t.Errorf("rate %.0f B/s, want about %d", p.Rate, rate)
		}
		want := time.Duration(float64(l.Bytes) / rate * float64(time.Second))
		if p.Pause < want/4 || p.Pause > want*4 {
			t.Errorf("estimated pause %s, want about %s (%d bytes at %d B/s)", p.Pause, want, l.Bytes, rate)
		}
		if !strings.Contains(p.String(), "KiB/s; writes would pause about that long") {
			t.Errorf("String() = %q", p.String())
		}
	})
}
