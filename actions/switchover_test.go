package actions

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// loopPair is two real redis-servers on loopback driven through the same
// node-local code the SSH path runs (switchover.HandleLock, switchover.Runner),
// with a stand-in for keepalived: a drain hands the VIP to the peer after
// a few milliseconds. It is the Redis half of the switchover tested for
// real; the lab tests run the whole thing with keepalived and sshd.
type loopPair struct {
	t       *testing.T
	cfg     *config.Config            // the console's view
	nodeCfg map[string]*config.Config // each node's own (separate lock and track files)
	servers map[string]*redistest.Server

	mu       sync.Mutex
	holder   string // the node holding the "VIP"
	stuck    bool   // the VIP does not move on a drain
	noKeepa  map[string]bool
	versions map[string]string
}

func newLoopPair(t *testing.T) *loopPair {
	t.Helper()
	a, b := redistest.Start(t), redistest.Start(t)
	b.ReplicaOf(a)
	return loopPairOf(t, a, b, a.Addr(), 6*time.Second)
}

// loopPairOf is the loopPair of a and its replica b, with aPeer the
// address b replicates from (a's own, or a proxy in front of it) and the
// given switchover.timeout.
func loopPairOf(t *testing.T, a, b *redistest.Server, aPeer string, timeout time.Duration) *loopPair {
	t.Helper()
	p := &loopPair{t: t, servers: map[string]*redistest.Server{"a": a, "b": b}, holder: "a",
		nodeCfg: map[string]*config.Config{}, noKeepa: map[string]bool{}, versions: map[string]string{"a": "test", "b": "test"}}
	p.cfg = loopConfig(t, a.Addr(), aPeer, b.Addr(), timeout, t.TempDir())
	for _, n := range []string{"a", "b"} {
		p.nodeCfg[n] = loopConfig(t, a.Addr(), aPeer, b.Addr(), timeout, t.TempDir())
	}
	return p
}

func loopConfig(t *testing.T, aAddr, aPeer, bAddr string, timeout time.Duration, dir string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`vip: 127.0.0.1/8
nodes:
  - name: a
    host: 127.0.0.2
    redis: {addr: %[1]s, peer_addr: %[2]s}
    keepalived: {priority: 150, interface: lo}
  - name: b
    host: 127.0.0.3
    redis: {addr: %[3]s, peer_addr: %[3]s}
    keepalived: {priority: 100, interface: lo}
keepalived: {virtual_router_id: 51, track_file: %[4]s/drain}
hooks: {lock_file: %[4]s/hook.lock, state_file: %[4]s/state.json, state_log: %[4]s/redis-state.log}
switchover: {timeout: %[5]s}
`, aAddr, aPeer, bAddr, dir, timeout)
	cfg, err := config.Parse([]byte(yaml), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

func (p *loopPair) peer(n string) string {
	if n == "a" {
		return "b"
	}
	return "a"
}

func (p *loopPair) Snapshots(ctx context.Context) []nodes.Snapshot {
	p.mu.Lock()
	holder := p.holder
	p.mu.Unlock()
	var out []nodes.Snapshot
	for _, n := range []string{"a", "b"} {
		s := nodes.Snapshot{Node: n, Time: time.Now(), Conn: nodes.ConnConnected, Version: p.versions[n], HoldsVIP: holder == n,
			Keepalived: nodes.Keepalived{Running: !p.noKeepa[n], State: "BACKUP"}}
		if holder == n {
			s.Keepalived.State = "MASTER"
		}
		in, err := replication.Fetch(ctx, p.servers[n].Client())
		if err != nil {
			s.Redis.Err = err.Error()
		} else {
			s.Redis = nodes.Redis{Up: true, Info: in}
		}
		out = append(out, s)
	}
	return out
}

// MeasureLag is the SSH nodes' measurement, reading the servers directly.
func (p *loopPair) MeasureLag(ctx context.Context, snaps []nodes.Snapshot) {
	nodes.MeasureLagRate(ctx, snaps, nodes.CatchUpBound, nodes.RateWindow, func(ctx context.Context, node string) (replication.Info, error) {
		return replication.FetchRole(ctx, p.servers[node].Client())
	})
}

func (p *loopPair) Redkeep(ctx context.Context, node string, args ...string) ([]byte, error) {
	if len(args) < 3 || args[0] != "hook" || args[1] != "switchover-lock" {
		return nil, fmt.Errorf("loopPair: unexpected command %q", args)
	}
	fs := flag.NewFlagSet("switchover-lock", flag.ContinueOnError)
	req := switchover.LockRequest{Op: args[2]}
	fs.StringVar(&req.Owner, "owner", "", "")
	fs.StringVar(&req.From, "from", "", "")
	fs.StringVar(&req.To, "to", "", "")
	fs.IntVar(&req.PID, "pid", 0, "")
	fs.DurationVar(&req.TTL, "ttl", 0, "")
	if err := fs.Parse(args[3:]); err != nil {
		return nil, err
	}
	return json.Marshal(switchover.HandleLock(p.nodeCfg[node], node, req, time.Now()))
}

// vip is one node's VIPControl in the loop pair.
type vip struct {
	p    *loopPair
	node string
}

func (v vip) Held() (bool, error) {
	v.p.mu.Lock()
	defer v.p.mu.Unlock()
	return v.p.holder == v.node, nil
}

func (v vip) Drain() error {
	v.p.mu.Lock()
	stuck := v.p.stuck
	v.p.mu.Unlock()
	if !stuck {
		time.AfterFunc(20*time.Millisecond, func() {
			v.p.mu.Lock()
			v.p.holder = v.p.peer(v.node)
			v.p.mu.Unlock()
		})
	}
	return nil
}

func (v vip) Undrain() error { return nil }

func (p *loopPair) RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error) {
	if len(args) < 2 || args[0] != "hook" || args[1] != "switchover-run" {
		return nil, fmt.Errorf("loopPair: unexpected command %q", args)
	}
	fs := flag.NewFlagSet("switchover-run", flag.ContinueOnError)
	var o switchover.Options
	fs.StringVar(&o.To, "to", "", "")
	fs.StringVar(&o.Owner, "owner", "", "")
	fs.Int64Var(&o.MaxLag, "max-lag", 0, "")
	fs.DurationVar(&o.Timeout, "max-pause", 0, "")
	fs.DurationVar(&o.VIPTimeout, "vip-timeout", 0, "")
	fs.StringVar(&o.Method, "method", "", "")
	var operator string
	fs.StringVar(&operator, "operator", "", "")
	if err := fs.Parse(args[2:]); err != nil {
		return nil, err
	}
	if err := wire.CheckOperator(operator); err != nil {
		return nil, fmt.Errorf("the console passed no valid --operator: %w", err)
	}
	cfg := p.nodeCfg[node]
	self, _ := cfg.Node(node)
	pr, pw := io.Pipe()
	enc := json.NewEncoder(pw)
	sw := &switchover.Runner{Cfg: cfg, Self: self, VIP: vip{p, node}, Now: time.Now, Emit: func(st wire.SwitchoverStep) { _ = enc.Encode(st) }}
	go func() {
		// Like the real verb: the run does not stop when the console goes.
		err := sw.Run(context.Background(), o)
		if err != nil {
			p.t.Logf("node-local run on %s: %v", node, err)
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// writes records acknowledged writes through the VIP: each write goes to
// whichever node holds it at that moment.
type vipWriter struct {
	p       *loopPair
	mu      sync.Mutex
	acked   []string
	failed  int
	clients map[string]*redis.Client
}

func (w *vipWriter) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		w.p.mu.Lock()
		holder := w.p.holder
		w.p.mu.Unlock()
		key := fmt.Sprintf("k:%07d", i)
		wctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := w.clients[holder].Set(wctx, key, i, 0).Err()
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, key)
		} else {
			w.failed++
		}
		w.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

func (w *vipWriter) lost(t *testing.T, c *redis.Client) int {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	missing := 0
	for i := 0; i < len(w.acked); i += 500 {
		batch := w.acked[i:min(i+500, len(w.acked))]
		n, err := c.Exists(context.Background(), batch...).Result()
		if err != nil {
			t.Fatalf("EXISTS: %v", err)
		}
		missing += len(batch) - int(n)
	}
	return missing
}

func startWriter(t *testing.T, p *loopPair) (w *vipWriter, stop func()) {
	w = &vipWriter{p: p, clients: map[string]*redis.Client{"a": p.servers["a"].Client(), "b": p.servers["b"].Client()}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return w, stop
}

// Back and forth under a write load: every switchover completes, nothing
// acknowledged is lost, the pair is consistent after each.
func TestRunBackAndForthLoopback(t *testing.T) {
	p := newLoopPair(t)
	w, stop := startWriter(t, p)
	time.Sleep(50 * time.Millisecond)
	for i := range 6 {
		want := "b"
		if i%2 == 1 {
			want = "a"
		}
		var steps []Step
		res, err := Run(context.Background(), p.cfg, p, Options{}, func(s Step) { steps = append(steps, s) })
		if err != nil {
			t.Fatalf("switchover %d: %v\nsteps: %+v", i+1, err, steps)
		}
		if res.Plan.To != want {
			t.Fatalf("switchover %d went to %s, want %s", i+1, res.Plan.To, want)
		}
		if _, master := DescribePair(p.cfg, p.Snapshots(context.Background())); master != want {
			t.Fatalf("after switchover %d: %s", i+1, res.PairState)
		}
		for _, n := range []string{"a", "b"} {
			if l, _ := switchover.ReadLock(switchover.LockPath(p.nodeCfg[n]), time.Now()); l != nil {
				t.Fatalf("after switchover %d: lock left on %s: %s", i+1, n, l)
			}
		}
	}
	stop()
	if lost := w.lost(t, p.servers["a"].Client()); lost != 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(w.acked))
	}
	t.Logf("%d writes acknowledged, %d failed over 6 switchovers", len(w.acked), w.failed)
}

func TestRunRefusals(t *testing.T) {
	p := newLoopPair(t)
	ctx := context.Background()
	refused := func(name string, o Options, check string) {
		t.Helper()
		_, err := Run(ctx, p.cfg, p, o, nil)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("%s: Run = %v, want a refusal", name, err)
		}
		found := false
		for _, c := range re.Plan.Failed() {
			found = found || c.Name == check
		}
		if !found {
			t.Fatalf("%s: refused for %v, want %q among the reasons", name, re, check)
		}
		// Untouched: a is still the master holding the VIP, no lock left.
		for _, s := range p.Snapshots(ctx) {
			if s.Node == "a" && (!s.HoldsVIP || s.Redis.Info.Role != replication.RoleMaster) {
				t.Fatalf("%s: a is no longer the master with the VIP after a refusal: %+v", name, s)
			}
		}
		if l, _ := switchover.ReadLock(switchover.LockPath(p.nodeCfg["a"]), time.Now()); l != nil {
			t.Fatalf("%s: a refused switchover left a lock on a: %s", name, l)
		}
	}

	// Lag: freeze the replica and write past the limit.
	p.servers["b"].Freeze()
	if err := p.servers["a"].Client().Set(ctx, "big", strings.Repeat("x", 4096), 0).Err(); err != nil {
		t.Fatal(err)
	}
	func() {
		// The frozen replica does not answer INFO: its snapshot says so.
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := Run(cctx, p.cfg, &frozenView{p}, Options{MaxLag: 100}, nil)
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("lag: Run = %v, want a refusal", err)
		}
	}()
	p.servers["b"].Thaw()

	// Another operation in progress: someone else's lock on b.
	now := time.Now()
	if _, err := switchover.AcquireLock(switchover.LockPath(p.nodeCfg["b"]), wire.SwitchoverLock{Owner: "other@console:1", Expires: now.Add(time.Minute)}, now); err != nil {
		t.Fatal(err)
	}
	refused("lock held", Options{}, CheckNoOperation)
	if err := switchover.ReleaseLock(switchover.LockPath(p.nodeCfg["b"]), "other@console:1"); err != nil {
		t.Fatal(err)
	}

	p.versions["b"] = "other"
	refused("versions differ", Options{}, CheckVersions)
	p.versions["b"] = "test"

	p.noKeepa["b"] = true
	refused("keepalived down", Options{}, CheckKeepalived)
	p.noKeepa["b"] = false

	refused("target is master", Options{To: "a"}, CheckTarget)

	// Link down: the replica is pointed at nothing.
	if err := p.servers["b"].Client().ReplicaOf(ctx, "127.0.0.1", "1").Err(); err != nil {
		t.Fatal(err)
	}
	refused("link down", Options{}, CheckReplicaOf)
}

// frozenView is the loop pair with b's Redis frozen: its probe times out.
type frozenView struct{ *loopPair }

func (f *frozenView) Snapshots(ctx context.Context) []nodes.Snapshot {
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	return f.loopPair.Snapshots(cctx)
}

// The console's connection to the node dies right after the Redis step:
// the node finishes on its own and the pair ends consistent on the target.
func TestRunConsoleConnectionLost(t *testing.T) {
	p := newLoopPair(t)
	w, stop := startWriter(t, p)
	cut := &cutAfterRedis{loopPair: p}
	_, err := Run(context.Background(), p.cfg, cut, Options{}, nil)
	if err == nil {
		t.Fatal("Run succeeded although its stream was cut")
	}
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Run = %v, want a FailedError", err)
	}
	// The node goes on; the pair ends consistent on b.
	desc, ok := confirm(context.Background(), p.cfg, p, "b", false, 5*time.Second)
	if !ok {
		t.Fatalf("pair after a cut connection: %s", desc)
	}
	stop()
	if lost := w.lost(t, p.servers["b"].Client()); lost != 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
	wctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.servers["b"].Client().Set(wctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("write to the new master (paused?): %v", err)
	}
}

// cutAfterRedis breaks the stream like a killed SSH connection as soon as
// the redis step has started.
type cutAfterRedis struct{ *loopPair }

func (c *cutAfterRedis) RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error) {
	r, err := c.loopPair.RedkeepStream(ctx, node, args...)
	if err != nil {
		return nil, err
	}
	return &cutReader{r: r}, nil
}

type cutReader struct {
	r   io.ReadCloser
	buf strings.Builder
}

func (c *cutReader) Read(b []byte) (int, error) {
	if strings.Contains(c.buf.String(), `"step":"redis"`) {
		c.r.Close()
		return 0, errors.New("ssh: connection lost")
	}
	n, err := c.r.Read(b)
	c.buf.Write(b[:n])
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

func TestStartDeliversStepsThenResult(t *testing.T) {
	p := newLoopPair(t)
	var steps []Step
	for s := range Start(context.Background(), p.cfg, p, Options{}) {
		steps = append(steps, s)
	}
	if len(steps) < 2 {
		t.Fatalf("steps = %+v", steps)
	}
	last := steps[len(steps)-1]
	if last.Name != StepResult || last.State != StepDone || !strings.HasPrefix(last.Detail, "consistent") {
		t.Fatalf("last step = %+v, want a done result with the pair consistent", last)
	}
	// Every step that starts also ends.
	open := map[string]bool{}
	for _, s := range steps[:len(steps)-1] {
		key := s.Name + "@" + s.Node
		switch s.State {
		case StepRunning:
			open[key] = true
		default:
			delete(open, key)
		}
	}
	if len(open) > 0 {
		t.Errorf("steps started and never ended: %v", open)
	}

	// A refusal ends with a failed result naming the reason.
	var lastRefused Step
	for s := range Start(context.Background(), p.cfg, p, Options{To: "b"}) {
		lastRefused = s
	}
	if lastRefused.Name != StepResult || lastRefused.State != StepFailed || !strings.Contains(lastRefused.Detail, "already the master") {
		t.Fatalf("refused result = %+v", lastRefused)
	}
}

// noStart is the loop pair whose node-local run cannot be started (say the
// node's redkeep is missing): nothing changes, the locks are released, and
// the failure says how the pair stands.
type noStart struct{ *loopPair }

func (noStart) RedkeepStream(context.Context, string, ...string) (io.ReadCloser, error) {
	return nil, errors.New("exec: redkeep: not found")
}

func TestRunNodeLocalRunDoesNotStart(t *testing.T) {
	p := newLoopPair(t)
	_, err := Run(context.Background(), p.cfg, noStart{p}, Options{}, nil)
	var fe *FailedError
	if !errors.As(err, &fe) || !strings.Contains(fe.PairState, "consistent: a master") {
		t.Fatalf("Run = %v, want a failure leaving a the master", err)
	}
	for _, n := range []string{"a", "b"} {
		if l, _ := switchover.ReadLock(switchover.LockPath(p.nodeCfg[n]), time.Now()); l != nil {
			t.Fatalf("lock left on %s: %s", n, l)
		}
	}
}
