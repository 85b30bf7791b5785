package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/lab"
)

// TestWatcherInLab: the watcher on a real pair. Redis SIGKILLed on the
// master under write load: the peer takes over with no acknowledged write
// lost, the watcher's failure is in the old master's log, and after the
// heal the old node is the new master's replica (both directions). A
// killed watcher is back after a check and the pair stays as it was. A
// frozen watcher (it holds its lock, so nothing replaces it) hides
// nothing: the check alone still fails the master over.
func TestWatcherInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	l, _ := labenv.Up(t, "rkwt", "198.18.101.0/24", "198.18.102.0/24", "198.19.101.0/24")
	ctx := context.Background()
	for _, n := range lab.NodeNames {
		waitWatcher(t, l, n, 0)
	}

	failed := map[string]int{}
	for i := range 2 {
		r := l.RunCase(ctx, lab.RedisDown, lab.ScenarioOptions{Log: t.Logf})
		checkRedisDown(t, l, r)
		failed[r.From]++
		log, _ := os.ReadFile(l.S.StateLog(r.From))
		if n := strings.Count(string(log), "= 1 (keepalived FAULT)"); n != failed[r.From] {
			t.Errorf("%s's state log has %d watcher failures after %d redis-down cases there, want as many:\n%s", r.From, n, failed[r.From], log)
		}
		t.Logf("redis-down %d: %s -> %s, write window %d ms, %d lost", i+1, r.From, r.To, r.Window.Milliseconds(), r.Lost())
	}

	t.Run("watcher-killed", func(t *testing.T) {
		m, err := l.Master(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pid := waitWatcher(t, l, m, 0)
		killed := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		again := waitWatcher(t, l, m, pid)
		t.Logf("watcher on %s SIGKILLed; pid %d runs %s later", m, again, time.Since(killed).Round(time.Millisecond))
		st, err := l.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Healthy || st.VIPHolder != m {
			t.Fatalf("after the watcher was killed: healthy %v, VIP on %q (want %s): %v", st.Healthy, st.VIPHolder, m, st.Problems)
		}
	})

	t.Run("watcher-frozen", func(t *testing.T) {
		m, err := l.Master(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pid := waitWatcher(t, l, m, 0)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
		before, _ := os.ReadFile(l.S.StateLog(m))
		r := l.RunCase(ctx, lab.RedisDown, lab.ScenarioOptions{Log: t.Logf})
		checkRedisDown(t, l, r)
		after, _ := os.ReadFile(l.S.StateLog(m))
		if strings.Count(string(after), "= 1 (keepalived FAULT)") != strings.Count(string(before), "= 1 (keepalived FAULT)") {
			t.Errorf("a frozen watcher wrote the health file")
		}
		t.Logf("redis-down with the watcher frozen (the check alone): %s -> %s, write window %d ms, %d lost", r.From, r.To, r.Window.Milliseconds(), r.Lost())
	})
}

// checkRedisDown checks a redis-down case: the master moved, nothing
// acknowledged was lost, and the healed pair has the old master as the
// new one's replica.
func checkRedisDown(t *testing.T, l *lab.Lab, r *lab.CaseResult) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("redis-down on %s: %v", r.From, r.Err)
	}
	if r.To == r.From || r.To == "" {
		t.Fatalf("redis-down on %s: the master is %q afterwards", r.From, r.To)
	}
	if r.Lost() != 0 || r.LostAfterInjection != 0 || len(r.TwoMasters) != 0 {
		t.Fatalf("redis-down on %s: %d acknowledged writes lost, two masters at %v", r.From, r.Lost(), r.TwoMasters)
	}
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Name == r.From && n.Redis.Role != "replica" {
			t.Fatalf("after the heal %s's Redis is %q, want the replica of %s", r.From, n.Redis.Role, r.To)
		}
	}
	if !st.Healthy || st.VIPHolder != r.To {
		t.Fatalf("after the heal: healthy %v, VIP on %q (want %s): %v", st.Healthy, st.VIPHolder, r.To, st.Problems)
	}
}

// waitWatcher waits until exactly one `redkeep hook watch` runs in node
// n's namespace, other than pid not, and returns its pid.
func waitWatcher(t *testing.T, l *lab.Lab, n string, not int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pids := watcherPids(t, l, n)
		if len(pids) == 1 && pids[0] != not {
			return pids[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: watchers %v after 15 s, want one other than %d", n, pids, not)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watcherPids lists the watchers running in node n's network namespace.
func watcherPids(t *testing.T, l *lab.Lab, n string) []int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", l.S.Namespace(n)).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", l.S.Namespace(n), err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		if strings.Contains(string(cl), "\x00hook\x00watch\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}
