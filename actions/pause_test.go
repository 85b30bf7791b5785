package actions

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
)

// throttledPair is a loopPair whose replica b follows a through a link of
// rate bytes per second: a replica that really takes time to catch up.
// The config names the proxy as a's peer address, as the replica sees it.
func throttledPair(t *testing.T, rate int) *loopPair {
	t.Helper()
	a, b := redistest.Start(t), redistest.Start(t)
	proxy := redistest.Throttle(t, a.Addr(), rate)
	b.ReplicaOfAddr(proxy.Addr())
	return loopPairOf(t, a, b, proxy.Addr(), 10*time.Second)
}

func pauseCheck(t *testing.T, p Plan) Check {
	t.Helper()
	for _, c := range p.Checks {
		if c.Name == CheckPause {
			return c
		}
	}
	t.Fatalf("no %q check in the plan:\n%s", CheckPause, render(p))
	return Check{}
}

// TestPreflightGatesOnPause: against a real replica behind a 256 KiB/s
// link, the preflight estimates its catch-up from its measured apply rate
// and refuses above the pause budget, whatever the byte lag, and passes
// the same lag under a budget that covers it.
func TestPreflightGatesOnPause(t *testing.T) {
	const rate = 256 << 10
	p := throttledPair(t, rate)
	ctx := context.Background()

	plan := DryRun(ctx, p.cfg, p, Options{})
	if c := pauseCheck(t, plan); !plan.OK() || !c.Pass || !strings.Contains(c.Value, "b has every byte") {
		t.Fatalf("a replica in sync: pause check %+v; plan:\n%s", c, render(plan))
	}

	// 256 KiB in 4 KiB writes: about a second behind.
	behind := func() {
		t.Helper()
		pipe := p.servers["a"].Client().Pipeline()
		for i := range 64 {
			pipe.Set(ctx, fmt.Sprintf("w%d", i), strings.Repeat("p", 4<<10), 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	behind()
	plan = DryRun(ctx, p.cfg, p, Options{})
	c := pauseCheck(t, plan)
	t.Logf("default budget: %s = %s (%s)", c.Name, c.Value, c.Threshold)
	if c.Pass || plan.OK() || !strings.Contains(c.Value, "B/s; writes would pause about that long") || c.Threshold != "<= 500ms (max pause)" {
		t.Fatalf("about a second behind with a 500 ms budget: pause check %+v, want a refusal naming the rate; plan:\n%s", c, render(plan))
	}
	for _, l := range plan.Checks {
		if l.Name == CheckLag && !l.Pass {
			t.Errorf("the byte lag refused without a byte limit: %+v", l)
		}
	}
	if err := (&RefusedError{Plan: plan}).Error(); !strings.Contains(err, "b: write pause is b is ~") {
		t.Errorf("refusal = %q", err)
	}

	// The first look waited out the catch-up: put b behind again.
	behind()
	plan = DryRun(ctx, p.cfg, p, Options{MaxPause: 3 * time.Second})
	c = pauseCheck(t, plan)
	t.Logf("3 s budget: %s = %s (%s)", c.Name, c.Value, c.Threshold)
	if !c.Pass || !plan.OK() || !strings.Contains(c.Value, "B/s; writes would pause about that long") {
		t.Fatalf("under a second behind with a 3 s budget: pause check %+v; plan:\n%s", c, render(plan))
	}
}
