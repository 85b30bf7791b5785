package switchover

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// loopbackConfig is a pair config for two loopback servers. The VIP is
// 127.0.0.1, so VIP:port reaches whichever server listens on port, which
// is how clients of a real VIP reach the master's port.
func loopbackConfig(t *testing.T, a, b *redistest.Server) *config.Config {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`vip: 127.0.0.1/8
nodes:
  - name: a
    host: 127.0.0.2
    redis: {addr: %[1]s, peer_addr: %[1]s}
    keepalived: {priority: 150, interface: lo}
  - name: b
    host: 127.0.0.3
    redis: {addr: %[2]s, peer_addr: %[2]s}
    keepalived: {priority: 100, interface: lo}
keepalived: {virtual_router_id: 51, track_file: %[3]s/drain}
hooks: {lock_file: %[3]s/hook.lock, state_file: %[3]s/state.json, state_log: %[3]s/redis-state.log}
`, a.Addr(), b.Addr(), dir)
	cfg, err := config.Parse([]byte(yaml), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// fakeVIP stands in for keepalived on loopback: a drain hands the VIP to
// the peer after a short delay, unless stuck is set.
type fakeVIP struct {
	mu      sync.Mutex
	held    bool
	drained bool
	stuck   bool
	movedAt time.Time
}

func (v *fakeVIP) Held() (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.drained && !v.stuck && !v.movedAt.IsZero() && time.Now().After(v.movedAt) {
		v.held = false
	}
	return v.held, nil
}

func (v *fakeVIP) Drain() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.drained = true
	v.movedAt = time.Now().Add(20 * time.Millisecond)
	return nil
}

func (v *fakeVIP) Undrain() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.drained = false
	return nil
}

// fakeBridge records when the bridge went up and down, and what the VIP
// and a's Redis were then.
type fakeBridge struct {
	mu     sync.Mutex
	vip    *fakeVIP
	role   func() string // a's Redis role
	events []string
}

func (b *fakeBridge) note(what string) {
	held, _ := b.vip.Held()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, fmt.Sprintf("%s held=%v a=%s", what, held, b.role()))
}

func (b *fakeBridge) Bridge(lifetime time.Duration) error {
	b.note(fmt.Sprintf("up %s", lifetime))
	return nil
}

func (b *fakeBridge) Unbridge() error {
	b.note("down")
	return nil
}

func newTestSwitchover(t *testing.T, cfg *config.Config, vip VIPControl) (*Runner, *[]wire.SwitchoverStep) {
	t.Helper()
	self, _ := cfg.Node("a")
	var mu sync.Mutex
	var steps []wire.SwitchoverStep
	s := &Runner{Cfg: cfg, Self: self, VIP: vip, Now: time.Now, Emit: func(st wire.SwitchoverStep) {
		mu.Lock()
		steps = append(steps, st)
		mu.Unlock()
	}}
	return s, &steps
}

func takeLock(t *testing.T, cfg *config.Config, owner string) {
	t.Helper()
	now := time.Now()
	if _, err := AcquireLock(LockPath(cfg), wire.SwitchoverLock{Owner: owner, From: "a", To: "b", Acquired: now, Expires: now.Add(time.Minute)}, now); err != nil {
		t.Fatal(err)
	}
}

func opts(owner string) Options {
	return Options{Owner: owner, To: "b", MaxLag: 1 << 20, Timeout: 2 * time.Second, VIPTimeout: 2 * time.Second}
}

func TestSwitchoverRun(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	cfg := loopbackConfig(t, a, b)
	takeLock(t, cfg, "me")
	vip := &fakeVIP{held: true}
	s, steps := newTestSwitchover(t, cfg, vip)
	bridge := &fakeBridge{vip: vip, role: func() string { return string(infoOf(t, a.Client()).Role) }}
	s.Bridge = bridge

	w, stop := startWriter(a.Client())
	time.Sleep(50 * time.Millisecond)
	err := s.Run(context.Background(), opts("me"))
	stop()
	if err != nil {
		t.Fatalf("Run: %v\nsteps: %+v", err, *steps)
	}
	// The bridge goes up before the Redis step, for longer than the run
	// may take, and down once, after the VIP has left.
	wantBridge := []string{"up 4s held=true a=master", "down held=false a=replica"}
	if strings.Join(bridge.events, "; ") != strings.Join(wantBridge, "; ") {
		t.Errorf("bridge events %q, want %q", bridge.events, wantBridge)
	}
	if lost := w.lost(t, b.Client()); lost != 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
	if in := infoOf(t, b.Client()); in.Role != replication.RoleMaster {
		t.Fatalf("b is %s after the switchover", in.Role)
	}
	var names []string
	for _, st := range *steps {
		if st.State == wire.StateDone {
			names = append(names, st.Step)
		}
		if st.State == wire.StateFailed {
			t.Errorf("failed step reported: %+v", st)
		}
	}
	want := []string{wire.StepCheck, wire.StepRedis, wire.StepDrain, wire.StepVIP, wire.StepUndrain, wire.StepVerify}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("done steps = %v, want %v", names, want)
	}
	if vip.drained {
		t.Error("the node was left drained")
	}
}

func TestSwitchoverRunRefusesWithoutLock(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	cfg := loopbackConfig(t, a, b)
	takeLock(t, cfg, "someone-else")
	s, _ := newTestSwitchover(t, cfg, &fakeVIP{held: true})
	err := s.Run(context.Background(), opts("me"))
	var f *Failure
	if !errors.As(err, &f) || f.Step != wire.StepCheck || f.PairState != "unchanged" {
		t.Fatalf("Run without the lock = %v, want a check failure with the pair unchanged", err)
	}
	if in := infoOf(t, a.Client()); in.Role != replication.RoleMaster {
		t.Fatalf("a is %s after a refused run", in.Role)
	}
}

func TestSwitchoverRunRefusesWithoutVIP(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	cfg := loopbackConfig(t, a, b)
	takeLock(t, cfg, "me")
	s, _ := newTestSwitchover(t, cfg, &fakeVIP{held: false})
	err := s.Run(context.Background(), opts("me"))
	var f *Failure
	if !errors.As(err, &f) || f.Step != wire.StepCheck {
		t.Fatalf("Run on a node without the VIP = %v, want a check failure", err)
	}
}

// An abort before the Redis step stops with nothing changed.
func TestSwitchoverRunAbortedEarly(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	cfg := loopbackConfig(t, a, b)
	takeLock(t, cfg, "me")
	s, _ := newTestSwitchover(t, cfg, &fakeVIP{held: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Run(ctx, opts("me"))
	var f *Failure
	if !errors.As(err, &f) || f.PairState != "unchanged" {
		t.Fatalf("aborted Run = %v, want the pair unchanged", err)
	}
	if in := infoOf(t, a.Client()); in.Role != replication.RoleMaster {
		t.Fatalf("a is %s after an aborted run", in.Role)
	}
}

// When the VIP does not move (keepalived on the target dead, say), the
// Redis roles are rolled back so the VIP holder is the master again, and
// no acknowledged write is lost on the way there and back.
func TestSwitchoverRunRollsBackWhenVIPStuck(t *testing.T) {
	t.Parallel()
	a, b, s, vip := stuckSwitchover(t)
	bridge := &fakeBridge{vip: vip, role: func() string { return string(infoOf(t, a.Client()).Role) }}
	s.Bridge = bridge

	w, stop := startWriter(a.Client())
	err := s.Run(context.Background(), stuckVIPOpts())
	time.Sleep(50 * time.Millisecond) // writes after the rollback must succeed
	stop()
	// The VIP never left: the bridge comes down once, when the run ends.
	if len(bridge.events) != 2 || !strings.HasPrefix(bridge.events[1], "down held=true a=master") {
		t.Errorf("bridge events %q, want up, then down after the rollback", bridge.events)
	}

	var f *Failure
	if !errors.As(err, &f) || f.Step != wire.StepVIP || !strings.HasPrefix(f.PairState, "rolled back") {
		t.Fatalf("Run with a stuck VIP = %v, want a vip failure, rolled back", err)
	}
	if in := infoOf(t, a.Client()); in.Role != replication.RoleMaster {
		t.Fatalf("a is %s after the rollback, want master", in.Role)
	}
	waitLinkUp(t, b.Client())
	if in := infoOf(t, b.Client()); !isReplicaOf(in, a.Addr()) {
		t.Fatalf("b is %s of %s:%d after the rollback", in.Role, in.MasterHost, in.MasterPort)
	}
	if vip.drained {
		t.Error("the node was left drained after the rollback")
	}
	if lost := w.lost(t, a.Client()); lost != 0 {
		t.Fatalf("%d acknowledged writes lost over the rollback", lost)
	}
	wctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := a.Client().Set(wctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("write to a after the rollback (paused?): %v", err)
	}
}

// TestSwitchoverNoRollbackOntoDeadKeepalived: keepalived on the old master
// dies mid-switchover and leaves the VIP behind. The target's keepalived
// takes the VIP; rolling the Redis roles back would make the node without
// a keepalived the master. The target keeps the roles, nothing is lost.
func TestSwitchoverNoRollbackOntoDeadKeepalived(t *testing.T) {
	t.Parallel()
	a, b, s, vip := stuckSwitchover(t)
	s.KeepalivedRunning = func() bool { return false }

	w, stop := startWriter(a.Client())
	err := s.Run(context.Background(), stuckVIPOpts())
	stop()

	var f *Failure
	if !errors.As(err, &f) || f.Step != wire.StepVIP || !strings.HasPrefix(f.PairState, "switched: b is Redis master") {
		t.Fatalf("Run with a dead keepalived = %v, want a vip failure, switched", err)
	}
	if in := infoOf(t, b.Client()); in.Role != replication.RoleMaster {
		t.Fatalf("b is %s, want master", in.Role)
	}
	if in := infoOf(t, a.Client()); !isReplicaOf(in, b.Addr()) {
		t.Fatalf("a is %s of %s:%d, want b's replica", in.Role, in.MasterHost, in.MasterPort)
	}
	if lost := w.lost(t, b.Client()); lost != 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
	// The chaos soak: left drained, the keepalived started here next
	// stayed in FAULT and the pair never became healthy again.
	if vip.drained {
		t.Error("the node was left drained")
	}
}

// stuckVIPOpts are the options of a run whose VIP never moves: it gives up
// on the VIP after 200 ms.
func stuckVIPOpts() Options {
	o := opts("me")
	o.VIPTimeout = 200 * time.Millisecond
	return o
}

// stuckSwitchover is a locked loopback pair, a master and b its replica,
// whose switchover from a finds the VIP stuck on a.
func stuckSwitchover(t *testing.T) (a, b *redistest.Server, s *Runner, vip *fakeVIP) {
	t.Helper()
	a, b = pair(t)
	cfg := loopbackConfig(t, a, b)
	takeLock(t, cfg, "me")
	vip = &fakeVIP{held: true, stuck: true}
	s, _ = newTestSwitchover(t, cfg, vip)
	return a, b, s, vip
}
