package actions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/internal/loadcheck"
	"github.com/redkeep/redkeep/lab"
	"github.com/redkeep/redkeep/nodes"
)

// labEnv is a real pair for the switchover: the lab's two network
// namespaces with redis-server, keepalived (this build of redkeep as its
// hooks) and sshd, reached over SSH like real hosts.
type labEnv struct {
	t   *testing.T
	lab *lab.Lab
	st  *lab.Status
	cfg *config.Config
	sn  *SSHNodes
	vip string // VIP:6379
}

// newLabEnv starts a lab of the test's own (directory, name prefix and a
// free subnet distinct from the lab package's tests, which may run at the
// same time) and removes it when the test ends, passed or not.
func newLabEnv(t *testing.T) *labEnv {
	t.Helper()
	return newLabEnvAt(t, "rksw", "198.18.213.0/24", "198.19.213.0/24", "198.19.78.0/24")
}

// newLabEnvAt is newLabEnv with the lab's name prefix and subnets: each
// test of its own.
func newLabEnvAt(t *testing.T, prefix string, subnets ...string) *labEnv {
	t.Helper()
	l, st := labenv.Up(t, prefix, subnets...)
	if !st.Healthy || st.VIPHolder != "a" {
		t.Fatalf("lab after up: healthy=%v holder=%q problems=%v", st.Healthy, st.VIPHolder, st.Problems)
	}
	cfg, err := config.Load(st.Config)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := NewSSHNodes(cfg, nodes.Options{DialTimeout: 2 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return &labEnv{t: t, lab: l, st: st, cfg: cfg, sn: sn, vip: net.JoinHostPort(st.VIP, "6379")}
}

// master returns the node the pair is consistent on, waiting a little for
// a replica's link to come up; it fails t when it is not consistent.
func (e *labEnv) master(t *testing.T) string {
	t.Helper()
	var desc string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var m string
		desc, m = DescribePair(e.cfg, e.sn.Snapshots(context.Background()))
		if m != "" {
			return m
		}
	}
	t.Fatalf("pair not consistent: %s", desc)
	return ""
}

// noLocks fails t when a switchover lock is left on a node.
func (e *labEnv) noLocks(t *testing.T) {
	t.Helper()
	f := Gather(context.Background(), e.cfg, e.sn)
	if len(f.Locks) > 0 || len(f.LockErrs) > 0 {
		t.Fatalf("switchover locks left: %v %v", f.Locks, f.LockErrs)
	}
}

// redisOf is a client of a node's Redis from the root namespace.
func (e *labEnv) redisOf(node string) *redis.Client {
	n, _ := e.cfg.Node(node)
	c := redis.NewClient(&redis.Options{Addr: n.Redis.PeerAddr, DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true})
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *labEnv) redisPID(t *testing.T, node string) int {
	t.Helper()
	st, err := e.lab.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Name == node {
			return n.Processes["redis"]
		}
	}
	t.Fatalf("no node %s in the lab status", node)
	return 0
}

// freshWriter writes through the VIP like a client that opens a new
// connection right after any error. Its failed-write windows are the
// pair's own: loadcheck's go-redis client waits a second after a failed
// dial before it dials again, which rounds its windows up by that second.
type freshWriter struct {
	addr    string
	cancel  context.CancelFunc
	done    chan struct{}
	acked   []string
	outages []loadcheck.Outage
}

func startFreshWriter(addr string) *freshWriter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &freshWriter{addr: addr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var c *redis.Client
		var cur *loadcheck.Outage
		defer func() {
			if c != nil {
				c.Close()
			}
		}()
		for i := 0; ctx.Err() == nil; i++ {
			if c == nil {
				c = redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
					WriteTimeout: 200 * time.Millisecond, MaxRetries: -1, PoolSize: 1, ContextTimeoutEnabled: true, DisableIdentity: true, Protocol: 2})
			}
			key := fmt.Sprintf("fresh:%d", i)
			sent := time.Now()
			wctx, wcancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := c.Set(wctx, key, i, 0).Err()
			wcancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				c.Close()
				c = nil
				if cur == nil {
					cur = &loadcheck.Outage{Start: sent, FirstErr: err.Error()}
				}
				cur.Failed++
			default:
				w.acked = append(w.acked, key)
				if cur != nil {
					cur.End = time.Now()
					w.outages = append(w.outages, *cur)
					cur = nil
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return w
}

func (w *freshWriter) stop() {
	w.cancel()
	<-w.done
}

// longestIn is the longest window of failed writes that began in [from, to).
func longestIn(outages []loadcheck.Outage, from, to time.Time) time.Duration {
	var longest time.Duration
	for _, o := range outages {
		if !o.Start.Before(from) && o.Start.Before(to) && o.Duration() > longest {
			longest = o.Duration()
		}
	}
	return longest
}

// TestLabSwitchover is the switchover end to end, on real keepalived, sshd
// and Redis: 20 switchovers back and forth under a write load through the
// VIP, every refusal provoked for real, and a switchover whose SSH
// connection dies half-way. It logs the measurements the benchmark reports:
//
//	go test ./actions/ -run TestLabSwitchover -v
func TestLabSwitchover(t *testing.T) {
	e := newLabEnv(t)
	load := loadcheck.Start(context.Background(), loadcheck.Options{Addr: e.vip, Interval: 5 * time.Millisecond, Timeout: 200 * time.Millisecond})
	stopped := false
	defer func() {
		if !stopped {
			load.Stop()
		}
	}()
	if err := load.WaitAcked(context.Background(), 20, 5*time.Second); err != nil {
		t.Fatalf("write load through the VIP %s: %v", e.vip, err)
	}
	fresh := startFreshWriter(e.vip)
	freshStopped := false
	defer func() {
		if !freshStopped {
			fresh.stop()
		}
	}()

	type run struct {
		from, to   string
		start, end time.Time
		took       time.Duration
	}
	var runs []run
	t.Run("back-and-forth", func(t *testing.T) {
		for i := range 20 {
			from := e.master(t)
			start := time.Now()
			var steps []string
			res, err := Run(context.Background(), e.cfg, e.sn, Options{Timeout: 20 * time.Second}, func(s Step) {
				steps = append(steps, fmt.Sprintf("%s %s %s %s %s", s.Time.Format("15:04:05.000"), s.Name, s.Node, s.State, s.Detail))
			})
			if err != nil {
				t.Fatalf("switchover %d from %s: %v\n%s", i+1, from, err, strings.Join(steps, "\n"))
			}
			runs = append(runs, run{from: res.Plan.From, to: res.Plan.To, start: start, end: time.Now(), took: res.Took})
			if m := e.master(t); m != res.Plan.To || m == from {
				t.Fatalf("switchover %d: master %s after %s -> %s", i+1, m, res.Plan.From, res.Plan.To)
			}
			e.noLocks(t)
		}
	})

	// Redis's own FAILOVER TO, there and back: slower (the master waits
	// for the replica's once-a-second ack) but as lossless.
	var failoverRuns []run
	t.Run("failover-method", func(t *testing.T) {
		for i := range 2 {
			from := e.master(t)
			start := time.Now()
			res, err := Run(context.Background(), e.cfg, e.sn, Options{Timeout: 20 * time.Second, Method: "failover"}, nil)
			if err != nil {
				t.Fatalf("FAILOVER switchover %d from %s: %v", i+1, from, err)
			}
			if res.Method != "failover" {
				t.Errorf("method = %q, want failover", res.Method)
			}
			failoverRuns = append(failoverRuns, run{from: res.Plan.From, to: res.Plan.To, start: start, end: time.Now(), took: res.Took})
			if m := e.master(t); m != res.Plan.To {
				t.Fatalf("FAILOVER switchover %d: master %s after %s -> %s", i+1, m, res.Plan.From, res.Plan.To)
			}
			e.noLocks(t)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		refusals(t, e)
	})

	t.Run("interrupted", func(t *testing.T) {
		interrupted(t, e, load)
	})

	stopped, freshStopped = true, true
	res := load.Stop()
	fresh.stop()
	final := e.master(t)
	fn, _ := e.cfg.Node(final)
	if err := res.Verify(context.Background(), fn.Redis.PeerAddr); err != nil {
		t.Fatal(err)
	}
	t.Log("loadcheck: " + res.Summary())
	if len(res.Lost) > 0 {
		t.Errorf("%d acknowledged writes lost (first #%d, acked %s)", len(res.Lost), res.Lost[0].Seq, res.Lost[0].At.Format("15:04:05.000"))
	}
	fc := e.redisOf(final)
	freshLost := 0
	for i := 0; i < len(fresh.acked); i += 500 {
		batch := fresh.acked[i:min(i+500, len(fresh.acked))]
		n, err := fc.Exists(context.Background(), batch...).Result()
		if err != nil {
			t.Fatal(err)
		}
		freshLost += len(batch) - int(n)
	}
	t.Logf("fresh-connection writer: %d acknowledged, %d lost", len(fresh.acked), freshLost)
	if freshLost > 0 {
		t.Errorf("%d writes acknowledged to the fresh-connection writer lost", freshLost)
	}

	// Per switchover: the longest stretch of failed writes inside it, as
	// each client saw it.
	if len(runs) == 0 {
		return
	}
	var windows, lcWindows, tooks []time.Duration
	for i, r := range runs {
		w := longestIn(fresh.outages, r.start, r.end)
		lw := longestIn(res.Outages, r.start, r.end)
		windows = append(windows, w)
		lcWindows = append(lcWindows, lw)
		tooks = append(tooks, r.took)
		t.Logf("switchover %2d %s -> %s: writes failing %4d ms (loadcheck client %4d ms), total %5d ms", i+1, r.from, r.to, w.Milliseconds(), lw.Milliseconds(), r.took.Milliseconds())
	}
	for i, r := range failoverRuns {
		t.Logf("FAILOVER method %d %s -> %s: writes failing %4d ms (loadcheck client %4d ms), total %5d ms", i+1, r.from, r.to,
			longestIn(fresh.outages, r.start, r.end).Milliseconds(), longestIn(res.Outages, r.start, r.end).Milliseconds(), r.took.Milliseconds())
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	mx := func(d []time.Duration) time.Duration { return slices.Max(d) }
	t.Logf("BENCH switchovers=%d unavailability median=%d ms max=%d ms (loadcheck client median=%d ms); total median=%d ms max=%d ms; acknowledged writes lost=%d",
		len(runs), med(windows).Milliseconds(), mx(windows).Milliseconds(), med(lcWindows).Milliseconds(),
		med(tooks).Milliseconds(), mx(tooks).Milliseconds(), len(res.Lost)+freshLost)
}

// refusals provokes each refusal for real and checks the pair is untouched.
func refusals(t *testing.T, e *labEnv) {
	ctx := context.Background()
	master := e.master(t)
	replica, _ := e.cfg.Peer(master)
	mc := e.redisOf(master)

	expectRefused := func(name string, o Options, check string) {
		t.Helper()
		o.Timeout = 20 * time.Second
		_, err := Run(ctx, e.cfg, e.sn, o, nil)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("%s: Run = %v, want a refusal", name, err)
		}
		found := false
		for _, c := range re.Plan.Failed() {
			found = found || c.Name == check
		}
		if !found {
			t.Fatalf("%s: refused for %v; want %q among the reasons", name, err, check)
		}
		t.Logf("%s: %v", name, err)
	}
	untouched := func(name string) {
		t.Helper()
		if m := e.master(t); m != master {
			t.Fatalf("%s: the master moved from %s to %s under a refusal", name, master, m)
		}
		e.noLocks(t)
	}

	// Lag: the replica frozen, the master's offset moving on.
	pid := e.redisPID(t, replica.Name)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	time.Sleep(1500 * time.Millisecond) // past the replica's last ack
	expectRefused("replica frozen", Options{MaxLag: 1}, CheckLag)
	thaw()
	untouched("replica frozen")

	// Replica link down: the master refuses the replica's PSYNC.
	if err := mc.Do(ctx, "ACL", "SETUSER", "default", "-psync", "-sync").Err(); err != nil {
		t.Fatal(err)
	}
	restore := func() { _ = mc.Do(context.Background(), "ACL", "SETUSER", "default", "+@all").Err() }
	t.Cleanup(restore)
	if err := mc.Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
		t.Fatal(err)
	}
	rc := e.redisOf(replica.Name)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		info, _ := rc.Info(ctx, "replication").Result()
		if strings.Contains(info, "master_link_status:down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica link did not go down:\n%s", info)
		}
	}
	expectRefused("link down", Options{}, CheckLink)
	restore()
	untouched("link down")

	// The target node down.
	if _, err := e.lab.Fail(ctx, "node-down", replica.Name); err != nil {
		t.Fatal(err)
	}
	expectRefused("node down", Options{}, CheckReachable)
	if _, err := e.lab.Heal(ctx); err != nil {
		t.Fatalf("lab heal: %v", err)
	}
	untouched("node down")

	// The target named is the master.
	expectRefused("target is the master", Options{To: master}, CheckTarget)
	untouched("target is the master")
}

// interrupted kills the console's SSH connection to the master right after
// the Redis step has started: the node finishes on its own, the pair ends
// consistent, and writes flow (nothing left paused).
func interrupted(t *testing.T, e *labEnv, load *loadcheck.Run) {
	ctx := context.Background()
	from := e.master(t)
	cut := &cutSSH{SSHNodes: e.sn}
	_, err := Run(ctx, e.cfg, cut, Options{Timeout: 20 * time.Second}, nil)
	if !cut.cut {
		t.Fatalf("the connection was never cut (Run = %v)", err)
	}
	var fe *FailedError
	if err != nil && !errors.As(err, &fe) {
		t.Fatalf("Run with a cut connection = %v, want nil or a FailedError", err)
	}
	t.Logf("Run with the connection cut: %v", err)
	m := e.master(t)
	t.Logf("after the cut the pair is consistent on %s (was %s)", m, from)
	if err := load.WaitAcked(ctx, 50, 5*time.Second); err != nil {
		t.Fatalf("writes through the VIP after the cut (left paused?): %v", err)
	}
	// The lock: released by Run over a fresh connection, or expiring.
	e.noLocks(t)
	// The node finished every step on its own, undrain included: a
	// switchover back passes its preflight.
	var plan Plan
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if plan = DryRun(ctx, e.cfg, e.sn, Options{}); plan.OK() {
			return
		}
	}
	t.Fatalf("after the cut the pair does not pass a preflight: %v", (&RefusedError{Plan: plan}).Error())
}

// cutSSH closes the SSH connection to the node running the switchover as
// soon as it reports the Redis step, like a console whose network died.
type cutSSH struct {
	*SSHNodes
	cut bool
}

func (c *cutSSH) RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error) {
	r, err := c.SSHNodes.RedkeepStream(ctx, node, args...)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				pw.Write([]byte(line))
			}
			if strings.Contains(line, `"step":"redis"`) && !c.cut {
				c.cut = true
				if cl, cerr := c.conns[node].Client(ctx); cerr == nil {
					cl.Close()
				}
			}
			if err != nil {
				pw.CloseWithError(err)
				r.Close()
				return
			}
		}
	}()
	return pr, nil
}
