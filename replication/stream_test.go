package replication_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
)

// forkedPair is an old master that went on alone after its replica was
// promoted, as a partition leaves it: a (old master), b (promoted), and a
// second replica c of a that keeps a sending its replication PINGs.
func forkedPair(t *testing.T, opts ...redistest.Option) (a, b *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	opts = append(opts, redistest.WithArgs("--repl-ping-replica-period", "1"))
	a = redistest.Start(t, opts...)
	b = redistest.Start(t, opts...)
	c := redistest.Start(t, opts...)
	for i := range 100 {
		if err := a.Client().Set(ctx, fmt.Sprint("common:", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	c.ReplicaOf(a)
	waitCaughtUp(t, b, a)
	if err := b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func waitCaughtUp(t *testing.T, replica, master *redistest.Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ok, why := replication.CaughtUp(fetch(t, replica), fetch(t, master)); ok {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("replica %s never caught up: %s", replica.Addr(), why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPing waits until the old master's offset moved by a replication PING.
func waitPing(t *testing.T, a *redistest.Server, from int64) replication.Info {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		in := fetch(t, a)
		if in.Offset() > from {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old master's offset never moved past %d", from)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dial(t *testing.T, s *redistest.Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readTail(t *testing.T, s *redistest.Server, in replication.Info, d replication.Divergence) replication.Tail {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tail, err := replication.ReadTail(ctx, dial(t, s), replication.Auth{Password: s.Password()}, in, d)
	if err != nil {
		t.Fatalf("ReadTail on %s: %v", s.Addr(), err)
	}
	return tail
}

// TestTailOfPingsIsNotAFork is the partition that left two masters: the
// old master's offset moved past the promotion by PINGs alone. Offsets call
// that a fork; the stream shows it is none, so the old master may follow.
func TestTailOfPingsIsNotAFork(t *testing.T) {
	t.Parallel()
	a, b := forkedPair(t, redistest.WithPassword("s3cret"))
	bi := fetch(t, b)
	ai := waitPing(t, a, bi.SecondReplOffset-1)

	if ok, why := replication.SafeToReplicateFrom(ai, bi); ok {
		t.Fatalf("offsets alone should call this a fork: %s", why)
	}
	d, ok := replication.Diverge(ai, bi)
	if !ok || d.ReplID != ai.ReplID || d.Fork != bi.SecondReplOffset {
		t.Fatalf("Diverge = %+v, %v; want history %s forked at %d", d, ok, ai.ReplID, bi.SecondReplOffset)
	}
	if d2, _ := replication.Diverge(bi, ai); d2 != d {
		t.Fatalf("Diverge is not symmetric: %+v vs %+v", d2, d)
	}
	tail := readTail(t, a, ai, d)
	if !tail.Clean() || tail.Bytes != d.TailBytes(ai) || tail.Commands == 0 {
		t.Fatalf("tail = %+v; want only PINGs over %d bytes", tail, d.TailBytes(ai))
	}
	if ok, why := replication.SafeToReplicateFromTail(ai, bi, &tail); !ok {
		t.Fatalf("a tail of PINGs must allow following: %s", why)
	}
	// a's tail says nothing about b.
	if got, _ := replication.SafeToReplicateFromTail(bi, ai, &tail); got != func() bool { ok, _ := replication.SafeToReplicateFrom(bi, ai); return ok }() {
		t.Fatal("another server's tail changed the decision about b")
	}
	// A tail read before the old master moved on decides nothing.
	later := waitPing(t, a, ai.Offset())
	if ok, _ := replication.SafeToReplicateFromTail(later, bi, &tail); ok {
		t.Fatal("a stale tail must not allow following")
	}
}

// TestTailWithWritesIsAFork: one client write on the old master after the
// promotion makes it a real split brain, counted exactly.
func TestTailWithWritesIsAFork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := forkedPair(t)
	if err := a.Client().Set(ctx, "only-on-a", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Client().Incr(ctx, "counter-on-a").Err(); err != nil {
		t.Fatal(err)
	}
	ai, bi := fetch(t, a), fetch(t, b)
	d, ok := replication.Diverge(ai, bi)
	if !ok {
		t.Fatal("no divergence found")
	}
	tail := readTail(t, a, ai, d)
	if tail.Writes != 2 || tail.FirstWrite != "SET" || tail.Clean() {
		t.Fatalf("tail = %+v; want 2 writes, the first a SET", tail)
	}
	if ok, why := replication.SafeToReplicateFromTail(ai, bi, &tail); ok {
		t.Fatalf("following would drop a's writes, but was allowed: %s", why)
	}
}

// TestReadTailNotInBacklog: a fork older than the backlog is refused
// before anything is sent, so the server never starts a full resync.
func TestReadTailNotInBacklog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := forkedPair(t, redistest.WithArgs("--repl-backlog-size", "16kb"))
	big := bytes.Repeat([]byte("v"), 4096)
	for i := range 20 {
		if err := a.Client().Set(ctx, fmt.Sprint("big:", i), big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Redis trims its backlog a few blocks at a time (as it appends and
	// once a second in replicationCron), so for a moment after the writes it
	// may still hold the fork: wait until the trim has passed it.
	ai, bi := fetch(t, a), fetch(t, b)
	d, _ := replication.Diverge(ai, bi)
	for deadline := time.Now().Add(10 * time.Second); ai.BacklogFirstByte <= d.Fork; ai = fetch(t, a) {
		if time.Now().After(deadline) {
			t.Fatalf("a 16kb backlog still holds offsets %d..+%d after 80 kB of writes", ai.BacklogFirstByte, ai.BacklogHistLen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := replication.CanReadTail(ai, d); err == nil {
		t.Fatalf("backlog %d..+%d cannot hold fork %d", ai.BacklogFirstByte, ai.BacklogHistLen, d.Fork)
	}
	_, err := replication.ReadTail(ctx, dial(t, a), replication.Auth{}, ai, d)
	if err == nil {
		t.Fatal("ReadTail should refuse a fork outside the backlog")
	}
	if syncs := fetch(t, a); syncs.Loading {
		t.Fatal("unexpected loading state")
	}
}

// TestDumpRDB: the dump is the server's data set, loadable by another server.
func TestDumpRDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, diskless := range []string{"yes", "no"} {
		t.Run("diskless="+diskless, func(t *testing.T) {
			t.Parallel()
			a := redistest.Start(t, redistest.WithPassword("pw"),
				redistest.WithArgs("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"))
			for i := range 500 {
				if err := a.Client().Set(ctx, fmt.Sprint("k:", i), i, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "dump.rdb")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			snap, err := replication.DumpRDB(cctx, dial(t, a), replication.Auth{Password: "pw"}, f, 1<<30)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("DumpRDB: %v", err)
			}
			ai := fetch(t, a)
			if snap.ReplID != ai.ReplID || snap.Bytes == 0 {
				t.Fatalf("snapshot %+v, server replid %s", snap, ai.ReplID)
			}
			data, _ := os.ReadFile(path)
			if !bytes.HasPrefix(data, []byte("REDIS")) || int64(len(data)) != snap.Bytes {
				t.Fatalf("not an RDB of %d bytes: %q...", snap.Bytes, data[:min(len(data), 16)])
			}
			c := redistest.Start(t, redistest.WithRDB(path))
			if n, err := c.Client().DBSize(ctx).Result(); err != nil || n != 500 {
				t.Fatalf("the dump loads %d keys (%v), want 500", n, err)
			}
		})
	}
}

// TestDivergeWithoutCommonHistory: a restarted server shares nothing.
func TestDivergeWithoutCommonHistory(t *testing.T) {
	a := replication.Info{Role: replication.RoleMaster, ReplID: "a000000000000000000000000000000000000000", MasterReplOffset: 10}
	b := replication.Info{Role: replication.RoleMaster, ReplID: "b000000000000000000000000000000000000000", MasterReplOffset: 10}
	if d, ok := replication.Diverge(a, b); ok {
		t.Fatalf("unrelated histories diverge at %+v", d)
	}
	same := b
	same.ReplID = a.ReplID
	same.MasterReplOffset = 4
	d, ok := replication.Diverge(a, same)
	if !ok || d.Fork != 5 || d.TailBytes(a) != 6 || d.TailBytes(same) != 0 {
		t.Fatalf("same history: %+v %v, tails %d/%d", d, ok, d.TailBytes(a), d.TailBytes(same))
	}
}
