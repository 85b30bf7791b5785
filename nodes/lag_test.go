package nodes

import (
	"context"
	"errors"
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
