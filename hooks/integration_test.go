package hooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/vrrptest"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// redkeepBin is the redkeep binary built once in TestMain; the tests run
// the hooks as keepalived does, as a subprocess with keepalived's argv.
var redkeepBin string

func TestMain(m *testing.M) {
	vrrptest.Main()
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "redkeep-hooks-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	redkeepBin = filepath.Join(dir, "redkeep")
	build := exec.Command("go", "build", "-o", redkeepBin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s . (repository root): %v\n%s", redkeepBin, err, out)
		return 1
	}
	return m.Run()
}

// testPair is two real redis-server processes as nodes a and b, each with
// its own config file and hook files, as on two machines.
type testPair struct {
	a, b       *redistest.Server
	dir        string
	cfg        map[string]string // node -> config path
	stateFile  map[string]string
	stateLog   map[string]string
	syncTimout time.Duration
}

type pairOpts struct {
	// peerAddrA is how node b (and its Redis) reaches a's Redis; default a's
	// own address. A throttling proxy goes here.
	peerAddrA string
	peerAddrB string
	sync      time.Duration
	deadline  time.Duration
	// password is written to a password_file the config names.
	password string
	// extra is more top-level YAML (a notify section).
	extra string
	// watch leaves the watcher on (keepalived.watch): the check then
	// starts a detached `hook watch`, and the test must stop it before
	// its directory goes (startWatcher does). Off by default here.
	watch bool
}

func newPair(t testing.TB, a, b *redistest.Server, o pairOpts) *testPair {
	t.Helper()
	if o.peerAddrA == "" {
		o.peerAddrA = a.Addr()
	}
	if o.peerAddrB == "" {
		o.peerAddrB = b.Addr()
	}
	if o.sync == 0 {
		o.sync = 5 * time.Second
	}
	if o.deadline == 0 {
		o.deadline = 300 * time.Millisecond
	}
	p := &testPair{a: a, b: b, dir: t.TempDir(), cfg: map[string]string{}, stateFile: map[string]string{}, stateLog: map[string]string{}, syncTimout: o.sync}
	for _, node := range []string{"a", "b"} {
		nd := filepath.Join(p.dir, node)
		p.stateFile[node] = filepath.Join(nd, "state.json")
		p.stateLog[node] = filepath.Join(nd, "redis-state.log")
		// The hosts are in the VIP's subnet as the config requires, but the
		// hooks never talk to them, only to the Redis addresses; the
		// interface does not exist here, so the VIP check is skipped.
		pc := configtest.Pair{Nodes: [2]configtest.Node{
			{RedisAddr: a.Addr(), PeerAddr: o.peerAddrA, Interface: "rk-test-none"},
			{RedisAddr: b.Addr(), PeerAddr: o.peerAddrB, Interface: "rk-test-none"},
		}}.Hooks(nd)
		pc.InKeepalived = fmt.Sprintf("  check: {deadline: %s}\n", o.deadline)
		if !o.watch {
			pc.InKeepalived += "  watch: {enabled: false}\n"
		}
		pc.InHooks = fmt.Sprintf("  sync_timeout: %s\n  redis_timeout: 250ms\n", o.sync)
		if o.password != "" {
			pwFile := filepath.Join(p.dir, "redis.pass")
			if err := os.WriteFile(pwFile, []byte(o.password+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			pc.Extra = "redis: {password_file: " + pwFile + "}\n"
		}
		pc.Extra += o.extra
		p.cfg[node] = pc.Write(t, p.dir, node+".yaml")
	}
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			for _, node := range []string{"a", "b"} {
				if b, err := os.ReadFile(p.stateLog[node]); err == nil {
					t.Logf("redis-state log of %s:\n%s", node, b)
				}
			}
		}
	})
	return p
}

type result struct {
	code    int
	stdout  string
	stderr  string
	elapsed time.Duration
	// maxRSS is the hook process's peak resident memory in bytes.
	maxRSS int64
}

// hook runs `redkeep hook <args>` for node with its config, as keepalived would.
func (p *testPair) hook(t testing.TB, node string, args ...string) result {
	t.Helper()
	argv := append([]string{"hook", args[0], "--config", p.cfg[node], "--node", node}, args[1:]...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, redkeepBin, argv...)
	cmd.Env = append(os.Environ(), "REDKEEP_NODE=", "REDKEEP_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run redkeep %v: %v", argv, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10 // Linux reports kilobytes
	}
	return r
}

func (p *testPair) notify(t testing.TB, node, state string) result {
	prio := map[string]string{"a": "150", "b": "100"}[node]
	return p.hook(t, node, "notify", "INSTANCE", "VI_REDIS", state, prio)
}

func (p *testPair) state(t *testing.T, node string) wire.State {
	t.Helper()
	s, ok, err := hooks.ReadState(p.stateFile[node])
	if err != nil || !ok {
		t.Fatalf("state file of %s: ok=%v err=%v", node, ok, err)
	}
	return s
}

func (p *testPair) log(t *testing.T, node string) string {
	t.Helper()
	b, _ := os.ReadFile(p.stateLog[node])
	return string(b)
}

func info(t *testing.T, s *redistest.Server) replication.Info {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	in, err := replication.Fetch(ctx, s.Client())
	if err != nil {
		t.Fatalf("INFO %s: %v", s.Addr(), err)
	}
	return in
}

func replicaOfAddr(t *testing.T, s *redistest.Server, c *redis.Client, addr string) {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	if err := c.ReplicaOf(context.Background(), host, port).Err(); err != nil {
		t.Fatalf("REPLICAOF %s on %s: %v", addr, s.Addr(), err)
	}
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func noClientRetries(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: time.Second, ContextTimeoutEnabled: true})
}

// TestMasterNotifyWaitsForOffsetAndLosesNoWrite is the origin's case 2 done
// right: b replicates from a over a slow link and lags; keepalived makes b
// MASTER while writes are still arriving at a. Every write a acknowledged
// must be on b afterwards, and a must have become b's replica.
func TestMasterNotifyWaitsForOffsetAndLosesNoWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.Start(t)
	b := redistest.Start(t)
	// b reaches a (commands and replication) through a 256 KB/s link.
	slow := redistest.Throttle(t, a.Addr(), 256<<10)
	p := newPair(t, a, b, pairOpts{peerAddrA: slow.Addr(), sync: 20 * time.Second})
	replicaOfAddr(t, b, b.Client(), slow.Addr())
	waitFor(t, "b to sync from a", 10*time.Second, func() bool { i := info(t, b); return i.LinkUp && !i.SyncInProgress })

	// A burst of acknowledged writes, 512 KB: about two seconds of lag.
	value := strings.Repeat("v", 512)
	var acked []string
	pipe := a.Client().Pipeline()
	for i := range 1024 {
		pipe.Set(ctx, fmt.Sprintf("burst:%d", i), value, 0)
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatalf("burst: %v", err)
	}
	for i, c := range cmds {
		if c.Err() == nil {
			acked = append(acked, fmt.Sprintf("burst:%d", i))
		}
	}
	if lag, ok := replication.Lag(info(t, b), info(t, a)); !ok || lag < 64<<10 {
		t.Fatalf("b is not lagging enough to test anything: lag %d bytes, same history %v", lag, ok)
	}

	// A writer keeps writing to a (on its own connection) while the hook runs.
	wctx, stopWriter := context.WithCancel(ctx)
	var wmu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := noClientRetries(a.Addr())
		defer c.Close()
		for i := 0; wctx.Err() == nil; i++ {
			k := fmt.Sprintf("live:%d", i)
			if err := c.Set(wctx, k, i, 0).Err(); err == nil {
				wmu.Lock()
				acked = append(acked, k)
				wmu.Unlock()
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the writer get going; not a correctness wait

	r := p.notify(t, "b", "MASTER")
	stopWriter()
	wg.Wait()
	if r.code != 0 {
		t.Fatalf("MASTER notify on b: exit %d\nstderr: %s", r.code, r.stderr)
	}

	bi := info(t, b)
	if bi.Role != replication.RoleMaster {
		t.Fatalf("b is %s after the MASTER notify, want master", bi.Role)
	}
	// Every acknowledged write is on the new master.
	var missing []string
	for _, k := range acked {
		n, err := b.Client().Exists(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes missing on the new master, e.g. %v", len(missing), len(acked), missing[:min(5, len(missing))])
	}
	// The old master was demoted by the hook that took the VIP (rule 4).
	ai := info(t, a)
	if ai.Role != replication.RoleReplica || ai.MasterPort != b.Port() {
		t.Fatalf("a is %s of port %d, want a replica of b (port %d)", ai.Role, ai.MasterPort, b.Port())
	}
	log := p.log(t, "b")
	for _, want := range []string{"step pause-peer-writes", "waiting up to", "caught up after", "promoted", "peer Redis now replicates from us", "peer writes unpaused", "ok: done"} {
		if !strings.Contains(log, want) {
			t.Errorf("b's redis-state log lacks %q", want)
		}
	}
	if s := p.state(t, "b"); s.State != wire.KAMaster || s.LastResult != wire.ResultOK || s.Generation != 1 {
		t.Errorf("b's state file = %+v", s)
	}
	t.Logf("%d acknowledged writes, all on the new master; notify took %s", len(acked), r.elapsed)
}

// TestMasterNotifyRefusesWhenCatchUpTimesOut: when the replica cannot catch
// up within sync_timeout the hook must not promote over the old master's
// writes; it unpauses the old master and leaves the pair as it was, and the
// check then fails so keepalived gives the VIP back to the master.
func TestMasterNotifyRefusesWhenCatchUpTimesOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, a, b := behindPair(t, 300*time.Millisecond, 256)

	r := p.notify(t, "b", "MASTER")
	if r.code != 3 {
		t.Fatalf("MASTER notify exit %d, want 3 (refused)\nstderr: %s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleReplica {
		t.Fatalf("b was promoted (%s) although it had not caught up", bi.Role)
	}
	if ai := info(t, a); ai.Role != replication.RoleMaster {
		t.Fatalf("a is %s, want still master", ai.Role)
	}
	// a takes writes again: the pause was lifted.
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := a.Client().Set(wctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("write to a after the refused takeover: %v (still paused?)", err)
	}
	if s := p.state(t, "b"); s.LastResult != wire.ResultRefused {
		t.Errorf("state file last_result %q, want refused", s.LastResult)
	}
	if !strings.Contains(p.log(t, "b"), "refusing to promote") {
		t.Error("the log does not say the promotion was refused")
	}
	// keepalived MASTER here, Redis a replica: the check fails so the VIP
	// goes back to the master.
	if c := p.hook(t, "b", "check"); c.code != 1 {
		t.Fatalf("check after a refused promotion: exit %d, want 1\nstderr: %s", c.code, c.stderr)
	}
}

// TestEmptyRestartedPeerIsNeverReplicatedFrom: a holds the data; b was
// restarted empty and is a master. Neither a's BACKUP notify nor its
// check's reconcile may make a follow b; a's BACKUP notify makes b (the
// VIP holder, empty) its replica instead, so the VIP follows the data.
func TestEmptyRestartedPeerIsNeverReplicatedFrom(t *testing.T) {
	t.Parallel()
	p, a, b := replicatedPair(t)
	b.Restart()

	r := p.notify(t, "a", "BACKUP")
	if r.code != 0 {
		t.Fatalf("BACKUP notify on a: exit %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleReplica || bi.MasterPort != a.Port() {
		t.Fatalf("b is %s of port %d; want the replica of a (port %d)", bi.Role, bi.MasterPort, a.Port())
	}
	if c := p.hook(t, "a", "check"); c.code != 0 {
		t.Fatalf("check on a: exit %d\nstderr: %s", c.code, c.stderr)
	}
	ai := info(t, a)
	if ai.Role != replication.RoleMaster || ai.Keys != 100 {
		t.Fatalf("a is %s with %d keys; want master with its 100 keys", ai.Role, ai.Keys)
	}
	if log := p.log(t, "a"); !strings.Contains(log, "source is empty") {
		t.Errorf("a's log does not say the peer is empty:\n%s", log)
	}

	// And the other way: b takes the VIP while a holds data b lacks is
	// handled by catching up, but a restarted empty b as MASTER... makes a
	// (old master, with data) follow it? Never: the MASTER hook on b must
	// take a's data instead.
	r = p.notify(t, "b", "MASTER")
	if r.code != 0 {
		t.Fatalf("MASTER notify on b: exit %d\nstderr: %s", r.code, r.stderr)
	}
	bi := info(t, b)
	if bi.Role != replication.RoleMaster || bi.Keys != 100 {
		t.Fatalf("b is %s with %d keys after taking over; want master with a's 100 keys", bi.Role, bi.Keys)
	}
	if ai := info(t, a); ai.Keys != 100 {
		t.Fatalf("a lost data: %d keys", ai.Keys)
	}
}

// TestMasterNotifyPeerUnreachablePromotesAtOnce: origin case 1, the old
// master is gone; the replica is promoted without waiting.
func TestMasterNotifyPeerUnreachablePromotesAtOnce(t *testing.T) {
	t.Parallel()
	a := redistest.Start(t)
	b := redistest.Start(t)
	p := newPair(t, a, b, pairOpts{})
	b.ReplicaOf(a)
	a.Stop()
	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify: exit %d\nstderr: %s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleMaster {
		t.Fatalf("b is %s, want master", bi.Role)
	}
	if !strings.Contains(p.log(t, "b"), "promote at once") {
		t.Error("the log does not say why b was promoted at once")
	}
}

// TestOverlappingNotifiesEndInNewestState fires BACKUP then MASTER on b
// while the BACKUP hook is still working: the BACKUP hook must stop and the
// pair must end as MASTER wants it.
func TestOverlappingNotifiesEndInNewestState(t *testing.T) {
	t.Parallel()
	a := redistest.Start(t)
	b := redistest.Start(t)
	p := newPair(t, a, b, pairOpts{sync: 10 * time.Second})
	// b is master, a its replica: b's BACKUP hook waits for a to be promoted.
	a.ReplicaOf(b)

	var wg sync.WaitGroup
	var backup result
	wg.Add(1)
	go func() { defer wg.Done(); backup = p.notify(t, "b", "BACKUP") }()
	waitFor(t, "the BACKUP hook to start waiting", 10*time.Second, func() bool {
		return strings.Contains(p.log(t, "b"), "step wait-peer-master")
	})
	master := p.notify(t, "b", "MASTER")
	wg.Wait()

	if master.code != 0 || backup.code != 0 {
		t.Fatalf("exit codes: BACKUP %d, MASTER %d\n%s%s", backup.code, master.code, backup.stderr, master.stderr)
	}
	if backup.elapsed > 8*time.Second {
		t.Errorf("the overtaken BACKUP hook ran its whole wait (%s) instead of stopping", backup.elapsed)
	}
	s := p.state(t, "b")
	if s.State != wire.KAMaster || s.Generation != 2 || s.LastResult != wire.ResultOK {
		t.Fatalf("state file after overlap = %+v; want MASTER, generation 2, ok", s)
	}
	if bi := info(t, b); bi.Role != replication.RoleMaster {
		t.Fatalf("b is %s, want master", bi.Role)
	}
	if ai := info(t, a); ai.Role != replication.RoleReplica || ai.MasterPort != b.Port() {
		t.Fatalf("a is %s of %d, want replica of b", ai.Role, ai.MasterPort)
	}
	if !strings.Contains(p.log(t, "b"), "overtaken, stopping") {
		t.Error("the BACKUP hook did not log that it was overtaken")
	}
}

// TestMasterOvertakenByBackupNeverPromotes: the MASTER hook is waiting for
// the offset when keepalived already says BACKUP again: it must stop
// without promoting and unpause the old master.
func TestMasterOvertakenByBackupNeverPromotes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, a, b := behindPair(t, 20*time.Second, 512)

	var wg sync.WaitGroup
	var master result
	wg.Add(1)
	go func() { defer wg.Done(); master = p.notify(t, "b", "MASTER") }()
	waitFor(t, "the MASTER hook to wait for the offset", 10*time.Second, func() bool {
		return strings.Contains(p.log(t, "b"), "waiting up to")
	})
	backup := p.notify(t, "b", "BACKUP")
	wg.Wait()
	if master.code != 0 || backup.code != 0 {
		t.Fatalf("exit codes: MASTER %d, BACKUP %d\n%s%s", master.code, backup.code, master.stderr, backup.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleReplica {
		t.Fatalf("b is %s: the stale MASTER hook promoted it", bi.Role)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := a.Client().Set(wctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("a does not take writes after the overtaken takeover: %v", err)
	}
	if s := p.state(t, "b"); s.State != wire.KABackup || s.Generation != 2 {
		t.Fatalf("state file = %+v; want BACKUP generation 2", s)
	}
}

// TestCheckWithinDeadline: the check answers within its deadline whatever
// the local Redis or the peer's network does. The bound asserted is the
// keepalived script timeout the generated config sets (the deadline
// rounded up to whole seconds) plus process start-up, so it is not a
// timing benchmark but the contract: without the deadline go-redis would
// wait its own 3 s default, and a frozen Redis forever.
func TestCheckWithinDeadline(t *testing.T) {
	t.Parallel()
	const deadline = 300 * time.Millisecond
	const bound = 2 * time.Second

	t.Run("healthy", func(t *testing.T) {
		t.Parallel()
		a, b := redistest.Start(t), redistest.Start(t)
		p := newPair(t, a, b, pairOpts{deadline: deadline})
		if r := p.hook(t, "a", "check"); r.code != 0 {
			t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
		}
	})
	t.Run("redis stopped", func(t *testing.T) {
		t.Parallel()
		a, b := redistest.Start(t), redistest.Start(t)
		p := newPair(t, a, b, pairOpts{deadline: deadline})
		a.Stop()
		r := p.hook(t, "a", "check")
		if r.code != 1 || r.elapsed > bound {
			t.Fatalf("check with Redis stopped: exit %d after %s; want 1 within %s\n%s", r.code, r.elapsed, bound, r.stderr)
		}
	})
	t.Run("redis frozen", func(t *testing.T) {
		t.Parallel()
		a, b := redistest.Start(t), redistest.Start(t)
		p := newPair(t, a, b, pairOpts{deadline: deadline})
		a.Freeze()
		defer a.Thaw()
		r := p.hook(t, "a", "check")
		if r.code != 1 || r.elapsed > bound {
			t.Fatalf("check with Redis frozen: exit %d after %s; want 1 within %s\n%s", r.code, r.elapsed, bound, r.stderr)
		}
		if !strings.Contains(r.stderr, "no answer within") {
			t.Errorf("stderr does not say why: %s", r.stderr)
		}
	})
	t.Run("redis loading", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		src := redistest.Start(t)
		pipe := src.Client().Pipeline()
		for i := range 20000 {
			pipe.Set(ctx, fmt.Sprint("k", i), i, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// About two seconds of loading, answering LOADING meanwhile.
		a := redistest.Start(t, redistest.WithRDB(src.SaveRDB()), redistest.WithArgs("--key-load-delay", "100", "--loading-process-events-interval-bytes", "1024"))
		p := newPair(t, a, redistest.Start(t), pairOpts{deadline: deadline})
		r := p.hook(t, "a", "check")
		if r.code != 1 || !strings.Contains(r.stderr, "is loading its data set") {
			t.Fatalf("check while loading: exit %d; want 1 saying it is loading\n%s", r.code, r.stderr)
		}
		if m := p.notify(t, "a", "MASTER"); m.code != 1 || !strings.Contains(p.log(t, "a"), "still loading") {
			t.Fatalf("MASTER notify while loading: exit %d, want 1 (failed) with the reason logged\n%s", m.code, m.stderr)
		}
	})
	t.Run("peer black-holed during reconcile", func(t *testing.T) {
		t.Parallel()
		a, b := redistest.Start(t), redistest.Start(t)
		// a's peer b is reached through an address that accepts and never answers.
		p := newPair(t, a, b, pairOpts{deadline: deadline, peerAddrB: redistest.Blackhole(t)})
		// keepalived BACKUP on a while its Redis is master: the check reconciles
		// and has to ask the peer.
		if r := p.notify(t, "a", "BACKUP"); r.code != 3 {
			t.Fatalf("BACKUP notify with the peer black-holed: exit %d, want 3 (refused)\n%s", r.code, r.stderr)
		}
		r := p.hook(t, "a", "check")
		if r.code != 0 || r.elapsed > bound {
			t.Fatalf("check with the peer black-holed: exit %d after %s; want 0 within %s\n%s", r.code, r.elapsed, bound, r.stderr)
		}
	})
}

// TestCheckReconcilesBackupMaster: rule 5, a node whose Redis came back as
// an empty master after a failover rejoins as the VIP holder's replica.
func TestCheckReconcilesBackupMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.Start(t)
	b := redistest.Start(t)
	p := newPair(t, a, b, pairOpts{deadline: 500 * time.Millisecond})
	if err := b.Client().Set(ctx, "on-b", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if r := p.notify(t, "a", "FAULT"); r.code != 0 {
		t.Fatalf("FAULT notify: exit %d\n%s", r.code, r.stderr)
	}
	// The FAULT hook already followed b (a was empty: safe). Make a a
	// master again, empty, as after a restart, and let the check fix it.
	a.Restart()
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
	}
	ai := info(t, a)
	if ai.Role != replication.RoleReplica || ai.MasterPort != b.Port() {
		t.Fatalf("a is %s of %d after the check; want a replica of b", ai.Role, ai.MasterPort)
	}
	if !strings.Contains(p.log(t, "a"), "reconcile: local Redis now replicates from the peer") {
		t.Error("the check did not log the reconcile")
	}
}

func TestNotifyArgumentsAndGroups(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{})
	// The config runs no sync group and one instance, VI_REDIS: a notify
	// for anything else is refused, says why and changes nothing.
	for _, args := range [][]string{
		{"GROUP", "VG_1", "MASTER", "0"},
		{"INSTANCE", "VI_OTHER", "MASTER", "150"},
		// After `--`, as in the generated keepalived.conf, a name may start
		// with a dash and is still just a name.
		{"--", "INSTANCE", "-VI_REDIS", "MASTER", "150"},
	} {
		r := p.hook(t, "a", append([]string{"notify"}, args...)...)
		name := args[len(args)-3]
		if r.code != 3 || !strings.Contains(r.stderr, name) || !strings.Contains(r.stderr, "VI_REDIS") {
			t.Errorf("notify %q: exit %d, want 3 (refused) naming %s and our instance VI_REDIS\n%s", args, r.code, name, r.stderr)
		}
		if !strings.Contains(p.log(t, "a"), name) {
			t.Errorf("notify %q: the refusal is not in the state log:\n%s", args, p.log(t, "a"))
		}
	}
	if _, ok, _ := hooks.ReadState(p.stateFile["a"]); ok {
		t.Error("a notify for another instance or a group changed the state file")
	}
	if r := p.hook(t, "a", "notify", "INSTANCE", strings.Repeat("V", 1000), "MASTER", "150"); r.code != 2 {
		t.Errorf("a 1000-byte instance name: exit %d, want 2", r.code)
	}
	if r := p.hook(t, "a", "notify", "--", "INSTANCE", "VI_REDIS", "MASTER", "150"); r.code != 0 {
		t.Errorf("notify after --: exit %d, want 0\n%s", r.code, r.stderr)
	}
	if s := p.state(t, "a"); s.State != wire.KAMaster {
		t.Errorf("state after `notify -- INSTANCE VI_REDIS MASTER 150` = %+v", s)
	}
	if r := p.hook(t, "a", "notify", "INSTANCE", "VI_REDIS", "SLEEPING", "1"); r.code != 2 {
		t.Errorf("bad state: exit %d, want 2", r.code)
	}
	if r := p.hook(t, "a", "notify", "INSTANCE"); r.code != 2 {
		t.Errorf("missing arguments: exit %d, want 2", r.code)
	}
	// notify_master style, no arguments: a is master already.
	if r := p.hook(t, "a", "master"); r.code != 0 {
		t.Fatalf("hook master: exit %d\n%s", r.code, r.stderr)
	}
	if s := p.state(t, "a"); s.State != wire.KAMaster || s.Priority != 150 || s.Instance != "VI_REDIS" {
		t.Errorf("state after `hook master` = %+v", s)
	}
}

func TestDrainUndrainState(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{})
	track := filepath.Join(p.dir, "a", "drain")
	if r := p.hook(t, "a", "drain"); r.code != 0 {
		t.Fatalf("drain: exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(track); strings.TrimSpace(string(got)) != "1" {
		t.Fatalf("track file after drain = %q", got)
	}
	r := p.hook(t, "a", "state", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"drained": true`) || !strings.Contains(r.stdout, `"holds_vip": false`) {
		t.Fatalf("state --json: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := p.hook(t, "a", "undrain"); r.code != 0 {
		t.Fatalf("undrain: exit %d", r.code)
	}
	if got, _ := os.ReadFile(track); strings.TrimSpace(string(got)) != "0" {
		t.Fatalf("track file after undrain = %q", got)
	}
	p.notify(t, "a", "MASTER")
	r = p.hook(t, "a", "state", "--json")
	if !strings.Contains(r.stdout, `"state": "MASTER"`) || !strings.Contains(r.stdout, `"version"`) {
		t.Fatalf("state --json after a notify:\n%s", r.stdout)
	}
}

// TestMasterNotifyTerminatedUnpausesPeer: keepalived stopping (SIGTERM)
// while the MASTER hook waits for the offset must leave no paused master
// and no half-promoted replica behind.
func TestMasterNotifyTerminatedUnpausesPeer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, a, b := behindPair(t, 20*time.Second, 512)

	cmd := exec.Command(redkeepBin, "hook", "notify", "--config", p.cfg["b"], "--node", "b", "INSTANCE", "VI_REDIS", "MASTER", "100")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	waitFor(t, "the MASTER hook to wait for the offset", 10*time.Second, func() bool {
		return strings.Contains(p.log(t, "b"), "waiting up to")
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err == nil {
			t.Fatal("the terminated MASTER hook exited 0")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the MASTER hook ignored SIGTERM")
	}
	if bi := info(t, b); bi.Role != replication.RoleReplica {
		t.Fatalf("b is %s after the terminated takeover, want still a replica", bi.Role)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := a.Client().Set(wctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("a does not take writes after the terminated takeover: %v", err)
	}
	if s := p.state(t, "b"); s.LastResult != wire.ResultFailed {
		t.Errorf("state file last_result = %q, want failed", s.LastResult)
	}
}

// TestCheckDetachesFromPeerThatWouldWipeIt: b replicates from a; a comes
// back empty. Redis on b would resync from the empty a by itself and drop
// its data set; b's check (keepalived BACKUP there) detaches it first.
// Here a refuses replication syncs (PSYNC and SYNC renamed away), so b's
// link stays down long enough for the check to act; in production the
// check races Redis's own reconnect (see the hooks' report).
func TestCheckDetachesFromPeerThatWouldWipeIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.Start(t)
	b := redistest.Start(t)
	p := newPair(t, a, b, pairOpts{deadline: 500 * time.Millisecond})
	for i := range 100 {
		if err := a.Client().Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	if r := p.notify(t, "b", "BACKUP"); r.code != 0 {
		t.Fatalf("BACKUP notify: exit %d\n%s", r.code, r.stderr)
	}
	a.Restart("--rename-command", "PSYNC", "", "--rename-command", "SYNC", "")
	waitFor(t, "b's replication link to go down", 5*time.Second, func() bool { return !info(t, b).LinkUp })

	if r := p.hook(t, "b", "check"); r.code != 0 {
		t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
	}
	bi := info(t, b)
	if bi.Role != replication.RoleMaster || bi.Keys != 100 {
		t.Fatalf("b is %s with %d keys; want detached (master) with its 100 keys", bi.Role, bi.Keys)
	}
	if !strings.Contains(p.log(t, "b"), "detached from a peer that would wipe our data") {
		t.Error("b's log does not say why it detached")
	}
}

// TestCheckFailsOnEmptyMasterHoldingVIP: a held the VIP and its Redis came
// back empty while b (detached, or never synced from the empty a) still
// has the data as a master: a's check fails so the VIP goes to the data,
// and b's MASTER hook then demotes the empty a.
func TestCheckFailsOnEmptyMasterHoldingVIP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.Start(t)
	b := redistest.Start(t)
	p := newPair(t, a, b, pairOpts{deadline: 500 * time.Millisecond})
	for i := range 100 {
		if err := a.Client().Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	if r := p.notify(t, "a", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify on a: exit %d\n%s", r.code, r.stderr)
	}
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check on a healthy master: exit %d\n%s", r.code, r.stderr)
	}
	// b detaches (as its check would) and a comes back empty.
	if err := b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	a.Restart()
	if r := p.hook(t, "a", "check"); r.code != 1 || !strings.Contains(r.stderr, "empty master") {
		t.Fatalf("check on an empty VIP holder beside a peer with data: exit %d, want 1\n%s", r.code, r.stderr)
	}
	// keepalived moves the VIP: b's MASTER hook takes over and demotes a.
	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify on b: exit %d\n%s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleMaster || bi.Keys != 100 {
		t.Fatalf("b is %s with %d keys, want master with 100", bi.Role, bi.Keys)
	}
	waitFor(t, "a to resync from b", 5*time.Second, func() bool { i := info(t, a); return i.Keys == 100 })
}

// TestHooksWithPassword: the hooks authenticate with the password file the
// config names (and Redis replicates with masterauth).
func TestHooksWithPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.Start(t, redistest.WithPassword("s3cret"))
	b := redistest.Start(t, redistest.WithPassword("s3cret"))
	p := newPair(t, a, b, pairOpts{password: "s3cret"})
	if err := a.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	b.ReplicaOf(a)
	if r := p.hook(t, "b", "check"); r.code != 0 {
		t.Fatalf("check with a password: exit %d\n%s", r.code, r.stderr)
	}
	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify with a password: exit %d\n%s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleMaster || bi.Keys != 1 {
		t.Fatalf("b is %s with %d keys, want master with 1", bi.Role, bi.Keys)
	}
	if ai := info(t, a); ai.Role != replication.RoleReplica {
		t.Fatalf("a is %s, want replica", ai.Role)
	}
}

// partitioned leaves the pair as a healed partition does: b was promoted
// while a was cut off, b took writes, and a's offset moved past the
// promotion by replication PINGs alone (c, a replica of a that goes away,
// kept a sending them). a was MASTER for keepalived before.
func partitioned(t *testing.T, aWrites int) (p *testPair, a, b *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	ping := redistest.WithArgs("--repl-ping-replica-period", "1")
	a, b = redistest.Start(t, ping), redistest.Start(t, ping)
	c := redistest.Start(t, ping)
	p = newPair(t, a, b, pairOpts{})
	for i := range 100 {
		if err := a.Client().Set(ctx, fmt.Sprint("common:", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	c.ReplicaOf(a)
	waitFor(t, "b in sync with a", 5*time.Second, func() bool { ok, _ := replication.CaughtUp(info(t, b), info(t, a)); return ok })
	if r := p.notify(t, "a", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify on a: exit %d\n%s", r.code, r.stderr)
	}
	if err := b.Client().ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := b.Client().Set(ctx, fmt.Sprint("b-only:", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range aWrites {
		if err := a.Client().Set(ctx, fmt.Sprint("a-only:", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	promoted := info(t, b).SecondReplOffset
	waitFor(t, "a's offset to move by a PING", 5*time.Second, func() bool { return info(t, a).Offset() > promoted+int64(aWrites)*40 })
	c.Stop()
	if ok, why := replication.SafeToReplicateFrom(info(t, a), info(t, b)); ok {
		t.Fatalf("the offsets alone must call this a fork: %s", why)
	}
	return p, a, b
}

func keys(t *testing.T, s *redistest.Server) int64 {
	t.Helper()
	n, err := s.Client().DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHealedPartitionFollowsTheData: whichever node keepalived hands the
// VIP after a partition, the old master, which took no writes of its own
// (only PINGs moved its offset), ends as the replica of the node that kept
// serving, with all of its writes. Before the stream was read, both stayed
// masters for good ("TWO MASTERS ... diverged").
func TestHealedPartitionFollowsTheData(t *testing.T) {
	t.Parallel()
	t.Run("old master BACKUP", func(t *testing.T) {
		t.Parallel()
		p, a, b := partitioned(t, 0)
		if r := p.notify(t, "a", "BACKUP"); r.code != 0 {
			t.Fatalf("BACKUP notify on a: exit %d\n%s", r.code, r.stderr)
		}
		waitFor(t, "a to sync from b", 5*time.Second, func() bool {
			i := info(t, a)
			return i.Role == replication.RoleReplica && i.LinkUp && keys(t, a) == 300
		})
		if !strings.Contains(p.log(t, "a"), "no data changes") {
			t.Errorf("a's log does not say its stream held no data change:\n%s", p.log(t, "a"))
		}
		if n := keys(t, b); n != 300 {
			t.Fatalf("b has %d keys, want 300", n)
		}
	})
	t.Run("old master kept the VIP: its check yields", func(t *testing.T) {
		t.Parallel()
		p, a, _ := partitioned(t, 0)
		r := p.hook(t, "a", "check")
		if r.code != 1 || !strings.Contains(r.stderr, "newer data") {
			t.Fatalf("check on a: exit %d, want 1 naming the newer data\n%s", r.code, r.stderr)
		}
		waitFor(t, "a to sync from b", 5*time.Second, func() bool {
			i := info(t, a)
			return i.Role == replication.RoleReplica && i.LinkUp && keys(t, a) == 300
		})
	})
	t.Run("the data holder lost the VRRP election: it demotes the VIP holder", func(t *testing.T) {
		t.Parallel()
		p, a, b := partitioned(t, 0)
		if r := p.notify(t, "b", "BACKUP"); r.code != 0 {
			t.Fatalf("BACKUP notify on b: exit %d\n%s", r.code, r.stderr)
		}
		waitFor(t, "a to sync from b", 5*time.Second, func() bool {
			i := info(t, a)
			return i.Role == replication.RoleReplica && i.LinkUp && keys(t, a) == 300
		})
		if bi := info(t, b); bi.Role != replication.RoleMaster {
			t.Fatalf("b is %s, want master", bi.Role)
		}
		// a's keepalived is MASTER with a replica Redis: its check hands
		// the VIP to b.
		if r := p.hook(t, "a", "check"); r.code != 1 {
			t.Fatalf("check on a: exit %d, want 1\n%s", r.code, r.stderr)
		}
	})
	t.Run("both took writes: nobody follows anybody", func(t *testing.T) {
		t.Parallel()
		p, a, b := partitioned(t, 3)
		if r := p.notify(t, "a", "BACKUP"); r.code != 3 {
			t.Fatalf("BACKUP notify on a: exit %d, want 3 (refused)\n%s", r.code, r.stderr)
		}
		if r := p.notify(t, "b", "MASTER"); r.code != 3 {
			t.Fatalf("MASTER notify on b: exit %d, want 3 (refused)\n%s", r.code, r.stderr)
		}
		if r := p.hook(t, "a", "check"); r.code != 0 {
			t.Fatalf("check on a: exit %d\n%s", r.code, r.stderr)
		}
		if ai, bi := info(t, a), info(t, b); ai.Role != replication.RoleMaster || bi.Role != replication.RoleMaster || keys(t, a) != 103 || keys(t, b) != 300 {
			t.Fatalf("a %s with %d keys, b %s with %d keys: want both masters untouched (103, 300)", ai.Role, keys(t, a), bi.Role, keys(t, b))
		}
		if log := p.log(t, "a"); !strings.Contains(log, "3 data-changing commands") {
			t.Errorf("a's log does not count its own writes:\n%s", log)
		}
	})
}

// TestResolveSavesTheLoserFirst: a real split brain (a took 3 writes, b
// 200 since the fork) resolved keeping b: a's whole data set is saved as an
// RDB beside its state file before a becomes b's replica, and that file
// holds a's own writes. A request for a pair that changed is refused.
func TestResolveSavesTheLoserFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, a, b := partitioned(t, 3)
	ai, bi := info(t, a), info(t, b)

	r := p.hook(t, "a", "resolve-follow", "--keep", "b", "--local-replid", bi.ReplID, "--keep-replid", bi.ReplID)
	if r.code != 3 || !strings.Contains(r.stdout, "changed since the preflight") {
		t.Fatalf("resolve with the wrong replid: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = p.hook(t, "a", "resolve-follow", "--keep", "a", "--local-replid", ai.ReplID, "--keep-replid", bi.ReplID)
	if r.code != 3 {
		t.Fatalf("resolve keeping this node itself: exit %d, want 3\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = p.hook(t, "a", "resolve-follow", "--keep", "b", "--local-replid", ai.ReplID, "--keep-replid", bi.ReplID)
	if r.code != 0 {
		t.Fatalf("resolve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var res wire.ResolveResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("resolve output: %v\n%s", err, r.stdout)
	}
	if filepath.Dir(res.RDB) != filepath.Dir(p.stateFile["a"]) || res.Keys != 103 || res.Tail == nil || res.Tail.Writes != 3 {
		t.Fatalf("result %+v: want an RDB beside the state file with a's 103 keys and its 3 writes past the fork", res)
	}
	if st, err := os.Lstat(res.RDB); err != nil || st.Mode().Perm() != 0o600 || st.Size() != res.Bytes {
		t.Fatalf("saved RDB %s: %v %v", res.RDB, st, err)
	}
	// The resolve holds the transition lock until a has b's data: were it
	// to let go mid-sync, a's check would see a replica of a peer on
	// another history and detach it (rule 2), undoing the resolve.
	if i := info(t, a); i.Role != replication.RoleReplica || !i.LinkUp || i.SyncInProgress || i.ReplID != bi.ReplID || keys(t, a) != 300 {
		t.Fatalf("resolve returned before a had b's data: a is %s, link up %v, syncing %v, replid %s (b's %s), %d keys", i.Role, i.LinkUp, i.SyncInProgress, i.ReplID, bi.ReplID, keys(t, a))
	}
	p.hook(t, "a", "check")
	if i := info(t, a); i.Role != replication.RoleReplica || i.ReplID != bi.ReplID {
		t.Fatalf("a's check undid the resolve: a is %s on replid %s", i.Role, i.ReplID)
	}

	saved := redistest.Start(t, redistest.WithRDB(res.RDB))
	for i := range 3 {
		if v, err := saved.Client().Get(ctx, fmt.Sprint("a-only:", i)).Result(); err != nil || v != fmt.Sprint(i) {
			t.Fatalf("a's own write a-only:%d is not in the saved RDB: %q %v", i, v, err)
		}
	}
	if n := keys(t, saved); n != 103 {
		t.Fatalf("the saved RDB has %d keys, want a's 103", n)
	}
	if log := p.log(t, "a"); !strings.Contains(log, res.RDB) {
		t.Errorf("a's log does not name the saved file:\n%s", log)
	}
}

// behindPair is a pair whose replica b reaches master a through a link of
// 32 KiB/s and is kb KiB behind it: a MASTER hook on b must wait for the
// offset, for longer than a test wants, unless sync cuts it short.
func behindPair(t *testing.T, sync time.Duration, kb int) (p *testPair, a, b *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	a = redistest.Start(t)
	b = redistest.Start(t)
	slow := redistest.Throttle(t, a.Addr(), 32<<10)
	p = newPair(t, a, b, pairOpts{peerAddrA: slow.Addr(), sync: sync})
	replicaOfAddr(t, b, b.Client(), slow.Addr())
	waitFor(t, "b to sync from a", 10*time.Second, func() bool { i := info(t, b); return i.LinkUp && !i.SyncInProgress })
	pipe := a.Client().Pipeline()
	for i := range kb {
		pipe.Set(ctx, fmt.Sprintf("k:%d", i), strings.Repeat("x", 1024), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return p, a, b
}

// TestRestartedEmptyReplicaLoopIsNotPromoted is the chaos soak's loss (seed
// 1796172174386237518, step 2): a was master with b its replica; a died
// with its data and came back empty as b's replica, boot config style, so
// each is the other's replica and neither can sync. keepalived then made a
// MASTER: the hook promoted the empty a over b, whose 100 keys were a's
// writes, and b would have resynced from nothing. a must refuse (its check
// then fails and the VIP goes to b); b's MASTER hook takes over with the
// data and a follows it.
func TestRestartedEmptyReplicaLoopIsNotPromoted(t *testing.T) {
	t.Parallel()
	p, a, b := replicatedPair(t)
	waitFor(t, "b to have a's keys", 5*time.Second, func() bool { return keys(t, b) == 100 })
	// a comes back a replica from its first moment, as with the lab's boot
	// config: were it a master even briefly, b would resync from it empty.
	a.Restart("--replicaof", "127.0.0.1", strconv.Itoa(b.Port()))
	if bi := info(t, b); keys(t, b) != 100 || bi.Role != replication.RoleReplica {
		t.Fatalf("b is %s with %d keys before the hook ran, want a replica with a's 100", bi.Role, keys(t, b))
	}

	if r := p.notify(t, "a", "MASTER"); r.code != 3 {
		t.Fatalf("MASTER notify on the empty a: exit %d, want 3 (refused)\nstderr: %s", r.code, r.stderr)
	}
	if ai := info(t, a); ai.Role != replication.RoleReplica {
		t.Fatalf("the empty a was promoted: %s", ai.Role)
	}
	if c := p.hook(t, "a", "check"); c.code == 0 {
		t.Fatal("a's check passes, so a would keep the VIP without the data")
	}
	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify on b: exit %d\nstderr: %s", r.code, r.stderr)
	}
	waitFor(t, "a to sync b's data", 10*time.Second, func() bool {
		ai := info(t, a)
		return ai.Role == replication.RoleReplica && ai.LinkUp && !ai.SyncInProgress && keys(t, a) == 100
	})
	if bi := info(t, b); bi.Role != replication.RoleMaster || keys(t, b) != 100 {
		t.Fatalf("b is %s with %d keys, want master with the 100", bi.Role, keys(t, b))
	}
}

// replicatedPair is a pair whose a is master with 100 keys and b its
// replica in sync.
func replicatedPair(t *testing.T) (p *testPair, a, b *redistest.Server) {
	t.Helper()
	a = redistest.Start(t)
	b = redistest.Start(t)
	p = newPair(t, a, b, pairOpts{})
	for i := range 100 {
		if err := a.Client().Set(context.Background(), fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	return p, a, b
}

// TestEventJournal: a MASTER notify records one transition with the time
// the peer's writes were paused, and hands it to notify.command through
// the detached deliverer; a failing check records one check-failed
// however often it runs, and its recovery one check-ok.
func TestEventJournal(t *testing.T) {
	t.Parallel()
	got := filepath.Join(t.TempDir(), "notified")
	cmd := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(cmd, []byte("#!/bin/sh\n(cat; echo) >> "+got+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{extra: "notify: {command: [" + cmd + "], timeout: 5s}\n"})
	for i := range 100 {
		if err := a.Client().Set(context.Background(), fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b.ReplicaOf(a)
	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify on b: exit %d\n%s", r.code, r.stderr)
	}
	journal := func(node string) []wire.Event { return p.journal(t, node) }
	evs := journal("b")
	if len(evs) != 1 {
		t.Fatalf("b's journal: %+v, want one transition", evs)
	}
	e := evs[0]
	if e.Event != wire.EventTransition || e.Node != "b" || e.To != wire.KAMaster || e.Result != wire.ResultOK || e.WritesPausedMS <= 0 || e.TotalMS < e.WritesPausedMS {
		t.Errorf("b's transition: %+v", e)
	}
	waitFor(t, "the notify command to get the transition", 10*time.Second, func() bool {
		data, _ := os.ReadFile(got)
		return strings.Contains(string(data), `"event":"transition"`)
	})

	a.Stop()
	for range 3 {
		if r := p.hook(t, "a", "check"); r.code != 1 {
			t.Fatalf("check with Redis stopped: exit %d", r.code)
		}
	}
	a.Restart()
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check with Redis back: exit %d\n%s", r.code, r.stderr)
	}
	var kinds []string
	for _, e := range journal("a") {
		kinds = append(kinds, e.Event)
	}
	if !slices.Equal(kinds, []string{wire.EventCheckFailed, wire.EventCheckOK}) {
		t.Errorf("a's journal: %v, want one check-failed then one check-ok", kinds)
	}
	if s, err := events.DeliveryStats(mustLoad(t, p.cfg["b"])); err != nil || s.Delivered != 1 || s.Failed != 0 {
		t.Errorf("b's delivery stats %+v, %v", s, err)
	}
	// a's two events go out through a detached deliverer too: the test
	// ends when it is done, before its directories are removed under it.
	waitDelivered(t, mustLoad(t, p.cfg["a"]), 2)
}

// waitDelivered waits until n events of cfg's node have been delivered (or
// failed) and its deliverer is gone: the spool empty, its lock free.
func waitDelivered(t *testing.T, cfg *config.Config, n int) {
	t.Helper()
	lockPath := filepath.Join(events.SpoolDir(cfg), ".lock")
	waitFor(t, fmt.Sprintf("%d events delivered and the deliverer gone", n), 10*time.Second, func() bool {
		s, err := events.DeliveryStats(cfg)
		if err != nil || s.Delivered+s.Failed < uint64(n) {
			return false
		}
		if left, _ := filepath.Glob(filepath.Join(events.SpoolDir(cfg), "*.json")); len(left) > 0 {
			return false
		}
		f, err := os.Open(lockPath)
		if err != nil {
			return os.IsNotExist(err)
		}
		defer f.Close()
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			return false
		}
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return true
	})
}

func mustLoad(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// journal reads node's event journal (hooks.event_log), oldest first.
func (p *testPair) journal(t *testing.T, node string) []wire.Event {
	t.Helper()
	evs, bad, err := events.Read(filepath.Join(p.dir, node, "events.jsonl"), time.Time{})
	if err != nil || bad != 0 {
		t.Fatalf("journal of %s: %v, %d bad lines", node, err, bad)
	}
	return evs
}

// kinds lists the events' kinds, in order.
func kinds(evs []wire.Event) []string {
	ks := make([]string, len(evs))
	for i, e := range evs {
		ks[i] = e.Event
	}
	return ks
}
