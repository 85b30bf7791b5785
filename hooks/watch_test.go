package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/redistest"
)

// watchWait bounds every wait in the watcher's tests: none of them is a
// timing assertion, only a bound on a test that would otherwise hang.
const watchWait = 10 * time.Second

func (p *testPair) healthFile(node string) string { return filepath.Join(p.dir, node, "health") }

// health is the health file's trimmed content, "" when missing.
func (p *testPair) health(t *testing.T, node string) string {
	t.Helper()
	b, err := os.ReadFile(p.healthFile(node))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// watchers lists the pids of `redkeep hook watch` processes for node's
// config.
func (p *testPair) watchers(node string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
		if len(args) > 2 && args[1] == "hook" && args[2] == "watch" && strings.Contains(string(cl), "\x00"+p.cfg[node]+"\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startWatcher runs a check, which starts node's watcher, waits until the
// watcher's connection shows in CLIENT LIST, and stops the watcher at the
// end of the test. It returns the watcher's pid and its client id.
func (p *testPair) startWatcher(t *testing.T, node string, s *redistest.Server) (int, string) {
	t.Helper()
	if r := p.hook(t, node, "check"); r.code != 0 {
		t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
	}
	t.Cleanup(func() { p.stopWatchers(t, node) })
	return p.waitWatcher(t, node, s, "")
}

// waitWatcher waits for node's single watcher to hold a connection whose
// client id is not notID.
func (p *testPair) waitWatcher(t *testing.T, node string, s *redistest.Server, notID string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(watchWait)
	for {
		pids := p.watchers(node)
		id := watchClientID(s)
		if len(pids) == 1 && id != "" && id != notID {
			return pids[0], id
		}
		if time.Now().After(deadline) {
			t.Fatalf("no watcher connected to %s within %s: watchers %v, client id %q (not %q)\n%s", s.Addr(), watchWait, pids, id, notID, p.log(t, node))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watchClientID is the id of the watcher's connection in CLIENT LIST.
func watchClientID(s *redistest.Server) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	list, err := s.Client().ClientList(ctx).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name=redkeep-watch ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				return id
			}
		}
	}
	return ""
}

func (p *testPair) stopWatchers(t *testing.T, node string) {
	for _, pid := range p.watchers(node) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(watchWait)
	for len(p.watchers(node)) > 0 {
		if time.Now().After(deadline) {
			t.Errorf("watchers %v still run %s after SIGTERM", p.watchers(node), watchWait)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitHealth waits until node's health file says want, and returns how
// long that took.
func (p *testPair) waitHealth(t *testing.T, node, want string) time.Duration {
	t.Helper()
	start := time.Now()
	for p.health(t, node) != want {
		if time.Since(start) > watchWait {
			t.Fatalf("health file %s is %q after %s, want %q\n%s", p.healthFile(node), p.health(t, node), watchWait, want, p.log(t, node))
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// TestWatchKill9: the check starts the watcher; redis-server SIGKILLed
// sets the health file (the time it took is logged, not asserted); the
// restarted Redis is watched again, and the next check clears the file.
func TestWatchKill9(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{watch: true})
	p.startWatcher(t, "a", a)
	if h := p.health(t, "a"); h == "1" {
		t.Fatalf("health file is 1 before anything failed")
	}

	pid, err := a.PID()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := p.waitHealth(t, "a", "1")
	t.Logf("kill -9 of redis-server to health file = 1: %s", took)
	if r := p.hook(t, "a", "check"); r.code != 1 {
		t.Fatalf("check with Redis killed: exit %d, want 1", r.code)
	}
	if p.health(t, "a") != "1" {
		t.Fatalf("a failing check cleared the health file")
	}

	a.Restart()
	p.waitWatcher(t, "a", a, "")
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check with Redis back: exit %d\n%s", r.code, r.stderr)
	}
	if h := p.health(t, "a"); h != "0" {
		t.Fatalf("health file after a healthy check is %q, want 0", h)
	}
	for _, want := range []string{"went away", "= 1 (keepalived FAULT)", "answers again: watching it", "health file " + p.healthFile("a") + " = 0"} {
		p.waitLog(t, "a", want, 1)
	}
	// Killed again: the re-armed watcher fails it again.
	if pid, err = a.PID(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitHealth(t, "a", "1")
}

// TestWatchClientKillIsNoFailure: one dropped connection is not a dead
// Redis: the watcher reconnects and writes nothing.
func TestWatchClientKillIsNoFailure(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{watch: true})
	pid, id := p.startWatcher(t, "a", a)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := a.Client().Do(ctx, "CLIENT", "KILL", "ID", id).Err()
		cancel()
		if err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", id, err)
		}
		var again int
		again, id = p.waitWatcher(t, "a", a, id)
		if again != pid {
			t.Fatalf("kill %d: the watcher was replaced (pid %d, was %d)", i, again, pid)
		}
	}
	if h := p.health(t, "a"); h == "1" {
		t.Fatalf("health file is 1 after CLIENT KILL\n%s", p.log(t, "a"))
	}
	p.waitLog(t, "a", "but Redis answers on a new one: no failure", 3)
	if n := strings.Count(p.log(t, "a"), "but Redis answers on a new one: no failure"); n != 3 {
		t.Errorf("%d dropped connections logged, want 3:\n%s", n, p.log(t, "a"))
	}
}

// waitLog waits until node's state log holds want at least n times: the
// watcher logs what it did just after doing it, so the file a test waits
// on can change before the line is written.
func (p *testPair) waitLog(t *testing.T, node, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(watchWait)
	for strings.Count(p.log(t, node), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("state log of %s has %q fewer than %d times after %s:\n%s", node, want, n, watchWait, p.log(t, node))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchHungRedis: a Redis that stops answering (SIGSTOP) is failed
// once PINGs go unanswered as long as the check would take to fail it;
// thawed, the check clears the file.
func TestWatchHungRedis(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{watch: true})
	p.startWatcher(t, "a", a)
	a.Freeze()
	took := p.waitHealth(t, "a", "1")
	a.Thaw()
	t.Logf("SIGSTOP of redis-server to health file = 1: %s (hang timeout: the check's deadline, 300ms here)", took)
	p.waitLog(t, "a", "is hung: no answer to PING for", 1)
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check after thaw: exit %d\n%s", r.code, r.stderr)
	}
	if h := p.health(t, "a"); h != "0" {
		t.Fatalf("health file after a healthy check is %q, want 0", h)
	}
}

// TestWatchRestartedByCheck: a killed watcher is back after the next
// check, and at most one runs however many checks start one.
func TestWatchRestartedByCheck(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{watch: true})
	pid, id := p.startWatcher(t, "a", a)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for len(p.watchers("a")) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	for range 5 {
		if r := p.hook(t, "a", "check"); r.code != 0 {
			t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
		}
	}
	again, _ := p.waitWatcher(t, "a", a, id)
	if again == pid {
		t.Fatalf("the killed watcher %d is still listed", pid)
	}
	// waitWatcher saw exactly one; a second start exits at once.
	if pids := p.watchers("a"); len(pids) != 1 {
		t.Fatalf("watchers after 5 checks: %v, want one", pids)
	}
}

// TestWatchMaintenanceNoFailure: in maintenance a dying Redis is not
// failed by the watcher either.
func TestWatchMaintenanceNoFailure(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{watch: true})
	p.startWatcher(t, "a", a)
	p.maintenance(t, "a", "on", "--reason", "restart Redis")
	pid, err := a.PID()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(watchWait)
	for !strings.Contains(p.log(t, "a"), "maintenance is on (by") {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not notice the death in maintenance:\n%s", p.log(t, "a"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h := p.health(t, "a"); h == "1" {
		t.Fatalf("health file is 1 in maintenance")
	}
}

// TestWatchOff: with keepalived.watch.enabled false the check starts no
// watcher and keepalived.conf tracks no health file; `hook watch` refuses.
func TestWatchOff(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{}) // watch: {enabled: false}
	for range 2 {
		if r := p.hook(t, "a", "check"); r.code != 0 {
			t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
		}
	}
	if pids := p.watchers("a"); len(pids) != 0 {
		p.stopWatchers(t, "a")
		t.Fatalf("watchers with the watcher off: %v", pids)
	}
	if r := p.hook(t, "a", "watch"); r.code != 1 || !strings.Contains(r.stderr, "keepalived.watch.enabled is false") {
		t.Errorf("hook watch with the watcher off: exit %d, stderr %q", r.code, r.stderr)
	}
	cfg, err := config.Load(p.cfg["a"])
	if err != nil {
		t.Fatal(err)
	}
	conf, err := hooks.KeepalivedConf(cfg, "a")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(conf, "redkeep_health") {
		t.Errorf("keepalived.conf tracks the health file with the watcher off:\n%s", conf)
	}
}

// TestClearHealth: the check clears only a failure written before its
// PING went out.
func TestClearHealth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Keepalived.Watch.HealthFile = filepath.Join(dir, "health")
	if ok, err := hooks.ClearHealth(cfg, time.Now()); ok || err != nil {
		t.Fatalf("missing file: cleared %v, %v", ok, err)
	}
	if err := os.WriteFile(cfg.Keepalived.Watch.HealthFile, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	if ok, err := hooks.ClearHealth(cfg, written.Add(-time.Second)); ok || err != nil {
		t.Fatalf("failure written after the PING went out: cleared %v, %v", ok, err)
	}
	if ok, err := hooks.ClearHealth(cfg, written.Add(time.Second)); !ok || err != nil {
		t.Fatalf("failure written before the PING went out: cleared %v, %v", ok, err)
	}
	if b, _ := os.ReadFile(cfg.Keepalived.Watch.HealthFile); string(b) != "0\n" {
		t.Fatalf("health file = %q, want 0", b)
	}
	if ok, err := hooks.ClearHealth(cfg, time.Now().Add(time.Second)); ok || err != nil {
		t.Fatalf("file at 0: cleared %v, %v", ok, err)
	}
}

// TestWatchStalledWatcherNoFailure: a watcher stopped longer than the
// hang timeout while Redis answers (a starved machine) fails nothing
// when it runs again.
func TestWatchStalledWatcherNoFailure(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{watch: true})
	pid, _ := p.startWatcher(t, "a", a)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Stopped for several hang timeouts (300ms here): the condition, not
	// a bound on anything.
	time.Sleep(time.Second)
	before := pings(t, a)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(watchWait)
	for pings(t, a) < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed watcher sent no PINGs within %s\n%s", watchWait, p.log(t, "a"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if h := p.health(t, "a"); h == "1" {
		t.Fatalf("health file is 1 after the watcher itself was stopped\n%s", p.log(t, "a"))
	}
}

// pings is the number of PINGs s has served.
func pings(t *testing.T, s *redistest.Server) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := s.Client().Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_ping:calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}
