package loadcheck

import (
	"context"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
)

// TestRunCountsAndVerifies runs the checker against a real redis-server:
// every acknowledged write is found, a frozen server makes an outage that
// ends with the next acknowledgement, and writes deleted behind the
// checker's back are reported lost.
func TestRunCountsAndVerifies(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	run := Start(ctx, Options{Addr: srv.Addr(), Interval: 2 * time.Millisecond, Timeout: 50 * time.Millisecond})
	if err := run.WaitAcked(ctx, 50, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	srv.Freeze()
	frozen := time.Now()
	// Wait until a write has failed for certain: each waits 50 ms.
	time.Sleep(150 * time.Millisecond)
	srv.Thaw()
	if err := run.WaitAcked(ctx, 50, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	res := run.Stop()

	if err := res.Verify(ctx, srv.Addr()); err != nil {
		t.Fatal(err)
	}
	if len(res.Lost) != 0 {
		t.Fatalf("%d writes lost on an untouched server: %s", len(res.Lost), res.Summary())
	}
	if res.Failed == 0 {
		t.Fatalf("no failed write while the server was frozen: %s", res.Summary())
	}
	longest, unfinished := res.Longest()
	if unfinished || longest.End.IsZero() || longest.Start.Before(frozen.Add(-50*time.Millisecond)) || longest.Duration() <= 0 {
		t.Fatalf("outage %+v (unfinished %v) does not match the freeze at %s", longest, unfinished, frozen.Format("15:04:05.000"))
	}
	if int64(len(res.Acked))+res.Failed != res.Attempts {
		t.Fatalf("acked %d + failed %d != attempts %d", len(res.Acked), res.Failed, res.Attempts)
	}

	// Lose three acknowledged writes on purpose.
	c := srv.Client()
	for _, w := range res.Acked[:3] {
		if err := c.Del(ctx, res.Prefix+formatSeq(w.Seq)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := res.Verify(ctx, srv.Addr()); err != nil {
		t.Fatal(err)
	}
	if len(res.Lost) != 3 || res.Lost[0].Seq != res.Acked[0].Seq {
		t.Fatalf("lost = %v, want the first three acknowledged writes", res.Lost)
	}

	if err := res.Cleanup(ctx, srv.Addr()); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Fatalf("after cleanup: %d keys (%v)", n, err)
	}
}

// TestVerifyUnreachable: a final master that cannot be read is an error,
// never "nothing lost".
func TestVerifyUnreachable(t *testing.T) {
	res := &Result{Prefix: "x:", Acked: []Write{{Seq: 1}}}
	if err := res.Verify(context.Background(), "127.0.0.1:1"); err == nil || res.Verified {
		t.Fatalf("Verify against nothing: err=%v verified=%v", err, res.Verified)
	}
}
