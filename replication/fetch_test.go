package replication_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
)

func fetch(t *testing.T, s *redistest.Server) replication.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in, err := replication.Fetch(ctx, s.Client())
	if err != nil {
		t.Fatalf("Fetch %s: %v", s.Addr(), err)
	}
	return in
}

// TestPredicatesAgainstRealRedis checks that the predicates read real Redis
// the way the hooks rely on: a synced replica is caught up, a promoted
// replica continues the old master's history, and a restarted server is a
// history nobody may follow.
func TestPredicatesAgainstRealRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.Start(t)
	b := redistest.Start(t)
	for i := range 50 {
		if err := a.Client().Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	if err := a.Client().Set(ctx, "after-sync", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Wait for the write to reach b, by offsets.
	var ai, bi replication.Info
	for deadline := time.Now().Add(5 * time.Second); ; {
		ai, bi = fetch(t, a), fetch(t, b)
		if ok, _ := replication.CaughtUp(bi, ai); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica never caught up: a=%+v b=%+v", ai, bi)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ai.Role != replication.RoleMaster || bi.Role != replication.RoleReplica || ai.Keys != 51 || bi.Keys != 51 {
		t.Fatalf("roles/keys: a=%s/%d b=%s/%d", ai.Role, ai.Keys, bi.Role, bi.Keys)
	}
	if bi.MasterPort != a.Port() || !bi.LinkUp || len(ai.Replicas) != 1 {
		t.Fatalf("link facts: b master port %d up %v; a replicas %+v", bi.MasterPort, bi.LinkUp, ai.Replicas)
	}
	if lag, ok := replication.Lag(bi, ai); !ok || lag != 0 {
		t.Fatalf("Lag = %d, %v; want 0, true", lag, ok)
	}

	ar, err := replication.FetchRole(ctx, a.Client())
	if err != nil || ar.Role != replication.RoleMaster || ar.MasterReplOffset < ai.MasterReplOffset {
		t.Fatalf("FetchRole(a) = %+v, %v", ar, err)
	}
	br, err := replication.FetchRole(ctx, b.Client())
	if err != nil || br.Role != replication.RoleReplica || br.MasterPort != a.Port() || !br.LinkUp {
		t.Fatalf("FetchRole(b) = %+v, %v", br, err)
	}

	// Promote b and write to it: a may follow b without losing anything.
	if err := b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client().Set(ctx, "on-b", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	ai, bi = fetch(t, a), fetch(t, b)
	if ok, why := replication.SafeToReplicateFrom(ai, bi); !ok {
		t.Fatalf("a -> promoted b refused: %s", why)
	}
	if ok, why := replication.SafeToReplicateFrom(bi, ai); ok {
		t.Fatalf("promoted b -> a allowed: %s", why)
	}
	a.ReplicaOf(b)
	if n, err := a.Client().DBSize(ctx).Result(); err != nil || n != 52 {
		t.Fatalf("a after following b: %d keys, %v; want 52", n, err)
	}

	// A spurious promotion: a (now b's replica) is promoted, takes no
	// writes, while b goes on writing. a may still follow b: nothing of
	// a's is lost.
	if err := a.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client().Set(ctx, "more-on-b", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	ai, bi = fetch(t, a), fetch(t, b)
	if ok, why := replication.SafeToReplicateFrom(ai, bi); !ok {
		t.Fatalf("a (promoted, no writes since) -> b refused: %s\na=%+v", why, ai)
	}
	if err := a.Client().Set(ctx, "fork-on-a", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, why := replication.SafeToReplicateFrom(fetch(t, a), bi); ok {
		t.Fatalf("a (promoted, then written to) -> b allowed: %s", why)
	}

	// A restarted, empty b must never be followed by a. (a is a master
	// here: a replica of b would resync from the empty b by itself.)
	b.Restart()
	ai, bi = fetch(t, a), fetch(t, b)
	if ok, why := replication.SafeToReplicateFrom(ai, bi); ok {
		t.Fatalf("a -> restarted empty b allowed: %s", why)
	}
}
