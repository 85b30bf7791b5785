package hooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// ErrRefused marks a hook that a safety rule stopped: nothing unsafe was
// done, and the log says why.
var ErrRefused = errors.New("refused by a safety rule")

// ErrOvertaken marks a hook that stopped because a newer keepalived state
// arrived (rule 3); the newer hook finishes the work.
var ErrOvertaken = errors.New("overtaken by a newer keepalived state")

// refusal is a refused step with its reason.
type refusal struct{ msg string }

func (r *refusal) Error() string        { return r.msg }
func (r *refusal) Is(target error) bool { return target == ErrRefused }

func refuse(format string, args ...any) error { return &refusal{msg: fmt.Sprintf(format, args...)} }

// pollInterval is how often a waiting hook re-reads Redis (offsets, roles).
// Short, because the old master's writes may be paused meanwhile.
const pollInterval = 5 * time.Millisecond

// vipGrace is how long a MASTER hook waits for keepalived's VIP to show up
// on this node before it treats its absence as a newer state.
const vipGrace = time.Second

// runner carries out hooks on one node: it observes both Redis servers,
// asks Decide for a plan and executes it step by step, stopping when a
// newer notify overtakes it.
type runner struct {
	cfg      *config.Config
	self     *config.Node
	peerNode *config.Node
	log      *Logger
	// vipHeld reports whether the VIP is on this machine. nil when that
	// cannot be checked here (the node's interface does not exist, as in
	// tests on loopback).
	vipHeld func() (bool, error)

	local, peer *redis.Client
	password    string
	timeout     time.Duration

	role string // the keepalived state being handled, for log lines
	gen  uint64 // this notify's generation; 0 for the check

	// Set by ActPausePeer: the peer's replication facts once its writes
	// were paused, the target ActWaitCaughtUp waits for.
	paused     bool
	pausedInfo *replication.Info

	// For the journal: when this notify started, the keepalived state it
	// replaced, the state it handles, and how long the peer's writes were
	// held paused in all.
	started   time.Time
	prevState string
	state     string
	pausedAt  time.Time
	pausedFor time.Duration
}

// newRunner prepares a runner for node self, with Redis clients bounded by
// timeout per call.
func newRunner(cfg *config.Config, self *config.Node, log *Logger, timeout time.Duration) (*runner, error) {
	peer, err := cfg.Peer(self.Name)
	if err != nil {
		return nil, err
	}
	pw, err := cfg.RedisPassword()
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, self: self, peerNode: peer, log: log, timeout: timeout, password: pw}
	r.local = newClient(self.Redis.Addr, cfg.Redis.Username, pw, timeout)
	r.peer = newClient(peer.Redis.PeerAddr, cfg.Redis.Username, pw, timeout)
	return r, nil
}

// watchVIP enables the VIP check of MASTER hooks when this node's keepalived
// interface exists here. Only notifies pay for the interface lookup; the
// check, which runs every second, does not need it.
func (r *runner) watchVIP() {
	if iface := r.self.Keepalived.Interface; iface != "" {
		if _, err := net.InterfaceByName(iface); err == nil {
			r.vipHeld = switchover.TrackFileVIP{VIP: r.cfg.VIPAddr()}.Held
			return
		}
	}
	r.logf(Info, "VIP check off: interface %q is not on this machine", r.self.Keepalived.Interface)
}

// newClient is a go-redis client that never retries and never waits longer
// than timeout for a dial, a read or a write: hooks must not block keepalived.
func newClient(addr, user, password string, timeout time.Duration) *redis.Client {
	// go-redis logs dial failures to stderr, which keepalived drops; the
	// hooks log what matters themselves.
	silenceGoRedis.Do(func() { redis.SetLogger(&logging.VoidLogger{}) })
	return redis.NewClient(&redis.Options{
		Addr:        addr,
		Username:    user,
		Password:    password,
		DialTimeout: timeout,
		// One dial attempt: the default is five, 100 ms apart.
		DialerRetries:         1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		MaxRetries:            -1,
		PoolSize:              2,
		MinIdleConns:          0,
		ContextTimeoutEnabled: true,
		// The hooks speak RESP2 and need no client-side caching handshake.
		Protocol:        2,
		DisableIdentity: true,
	})
}

var silenceGoRedis sync.Once

// Close releases the Redis clients.
func (r *runner) Close() {
	_ = r.local.Close()
	_ = r.peer.Close()
}

func (r *runner) logf(level Level, format string, args ...any) {
	r.log.Logf(level, r.role, format, args...)
}

// call bounds one Redis exchange by hooks.redis_timeout.
func (r *runner) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.timeout)
}

func (r *runner) fetch(ctx context.Context, c *redis.Client) Side {
	cctx, cancel := r.call(ctx)
	defer cancel()
	in, err := replication.Fetch(cctx, c)
	if err != nil {
		return Side{Err: err.Error()}
	}
	return Side{Up: true, Info: in}
}

// observe reads both servers' INFO at once.
func (r *runner) observe(ctx context.Context, state string) Facts {
	var l, p Side
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l = r.fetch(ctx, r.local) }()
	go func() { defer wg.Done(); p = r.fetch(ctx, r.peer) }()
	wg.Wait()
	l.Follows = l.Up && followsAddr(l.Info, r.peerNode.Redis.PeerAddr)
	p.Follows = p.Up && followsAddr(p.Info, r.self.Redis.PeerAddr)
	if l.Up && p.Up && !l.Info.Loading && !p.Info.Loading {
		l.Tail = r.tailIfForked(ctx, r.self.Redis.Addr, l.Info, p.Info)
		p.Tail = r.tailIfForked(ctx, r.peerNode.Redis.PeerAddr, p.Info, l.Info)
	}
	return Facts{State: state, Local: l, Peer: p}
}

// tailIfForked reads what server in (at addr) holds past the point where
// its history and other's part, when the offsets alone say following other
// would lose in's bytes: they may be replication PINGs and nothing else.
// nil when there is nothing to read or it cannot be read (logged).
func (r *runner) tailIfForked(ctx context.Context, addr string, in, other replication.Info) *replication.Tail {
	if ok, _ := replication.SafeToReplicateFrom(in, other); ok || in.Role != replication.RoleMaster {
		return nil
	}
	d, ok := replication.Diverge(in, other)
	if !ok || d.TailBytes(in) == 0 {
		return nil
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", addr)
	if err != nil {
		r.logf(Warn, "cannot read the replication stream of %s past offset %d: %v", addr, d.Fork-1, err)
		return nil
	}
	defer conn.Close()
	t, err := replication.ReadTail(cctx, conn, replication.Auth{Username: r.cfg.Redis.Username, Password: r.password}, in, d)
	if err != nil {
		r.logf(Warn, "cannot read the replication stream of %s past offset %d: %v", addr, d.Fork-1, err)
		return nil
	}
	r.logf(Info, "replication stream of %s past the fork with the other side (history %s): %s", addr, shortID(d.ReplID), t)
	return &t
}

// followsAddr reports whether info is a replica whose master is addr.
func followsAddr(info replication.Info, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || info.Role != replication.RoleReplica {
		return false
	}
	return strings.EqualFold(info.MasterHost, host) && strconv.Itoa(info.MasterPort) == port
}

// stillCurrent returns ErrOvertaken when a newer notify has started, or
// when keepalived's VIP contradicts the MASTER state being handled.
func (r *runner) stillCurrent() error {
	if r.gen == 0 {
		return nil // the check's reconcile holds the lock; notifies wait for it
	}
	s, ok, err := ReadState(r.cfg.Hooks.StateFile)
	switch {
	case err != nil:
		return fmt.Errorf("%w: cannot read the state file: %v", ErrOvertaken, err)
	case !ok:
		return fmt.Errorf("%w: the state file %s vanished", ErrOvertaken, r.cfg.Hooks.StateFile)
	case s.Generation != r.gen:
		return fmt.Errorf("%w: generation %d (%s) replaced ours (%d)", ErrOvertaken, s.Generation, s.State, r.gen)
	}
	if r.role == strings.ToLower(wire.KAMaster) && r.vipHeld != nil {
		if held, err := r.vipHeld(); err == nil && !held {
			return fmt.Errorf("%w: the VIP %s is no longer on this node", ErrOvertaken, r.cfg.VIPAddr())
		}
	}
	return nil
}

// waitVIP gives keepalived a moment to add the VIP before a MASTER hook
// acts; false when it never appeared.
func (r *runner) waitVIP(ctx context.Context) bool {
	if r.vipHeld == nil {
		return true
	}
	deadline := time.Now().Add(vipGrace)
	for {
		if held, err := r.vipHeld(); err != nil || held {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// execute runs plan. It returns nil when every step succeeded, a refusal
// (ErrRefused) when a re-check forbade a step, ErrOvertaken, or the error of
// the failed step. The peer's writes are unpaused whatever happens.
func (r *runner) execute(ctx context.Context, plan Plan, facts Facts) error {
	defer r.unpause(ctx)
	for _, st := range plan.Steps {
		if err := r.stillCurrent(); err != nil {
			return err
		}
		r.logf(Info, "step %s: %s", st.Action, st.Why)
		r.setAction(string(st.Action))
		var err error
		switch st.Action {
		case ActPausePeer:
			err = r.pausePeer(ctx)
		case ActFollowPeer:
			err = r.followPeer(ctx)
		case ActWaitCaughtUp:
			err = r.waitCaughtUp(ctx)
		case ActPromote:
			err = r.promote(ctx)
		case ActDemotePeer:
			err = r.demotePeer(ctx)
		case ActWaitPeerMaster:
			return r.waitPeerMaster(ctx, facts)
		default:
			err = fmt.Errorf("unknown step %q", st.Action)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", st.Action, err)
		}
	}
	if plan.Result == wire.ResultRefused {
		return refuse("%s", plan.Summary)
	}
	if plan.Result == wire.ResultFailed {
		return errors.New(plan.Summary)
	}
	return nil
}

// ms formats a duration in whole milliseconds, as the log's timestamps.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

func hostPort(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("bad redis address %q: %w", addr, err)
	}
	return host, port, nil
}

// pausePeer pauses the peer's writes for at most the time the rest of the
// takeover may take, so a hook that dies leaves no paused master behind,
// and reads the peer's offset once nothing can move it any more.
func (r *runner) pausePeer(ctx context.Context) error {
	bound := r.cfg.Hooks.SyncTimeout + 4*r.timeout
	cctx, cancel := r.call(ctx)
	err := r.peer.Do(cctx, "CLIENT", "PAUSE", strconv.FormatInt(bound.Milliseconds(), 10), "WRITE").Err()
	cancel()
	if err != nil {
		if strings.Contains(err.Error(), "syntax") || strings.Contains(err.Error(), "unknown") {
			return refuse("peer Redis cannot pause only writes (CLIENT PAUSE WRITE needs Redis 6.2+): %v; not taking over without it", err)
		}
		return fmt.Errorf("CLIENT PAUSE on peer %s: %w", r.peerNode.Redis.PeerAddr, err)
	}
	r.paused = true
	r.pausedAt = time.Now()
	p := r.fetch(ctx, r.peer)
	if !p.Up {
		return fmt.Errorf("peer INFO after pausing: %s", p.Err)
	}
	r.pausedInfo = &p.Info
	r.logf(Info, "peer writes paused for at most %s: peer %s", bound, describe(p))
	return nil
}

// unpause lifts the peer's write pause, on a context of its own: it must
// run even when the hook's context has expired.
func (r *runner) unpause(ctx context.Context) {
	if !r.paused {
		return
	}
	r.paused = false
	defer func() { r.pausedFor += time.Since(r.pausedAt) }()
	cctx, cancel := r.call(context.WithoutCancel(ctx))
	defer cancel()
	if err := r.peer.Do(cctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		r.logf(Warn, "CLIENT UNPAUSE on peer failed: %v (the pause expires on its own)", err)
		return
	}
	r.logf(Info, "peer writes unpaused")
}

// pauseLocal pauses local Redis's writes for a moment: long enough to read
// its stream and make it a replica, which is all it is used for.
func (r *runner) pauseLocal(ctx context.Context) error {
	cctx, cancel := r.call(ctx)
	defer cancel()
	bound := 4 * r.timeout
	if err := r.local.Do(cctx, "CLIENT", "PAUSE", strconv.FormatInt(bound.Milliseconds(), 10), "WRITE").Err(); err != nil {
		return fmt.Errorf("CLIENT PAUSE on local Redis: %w", err)
	}
	return nil
}

// unpauseLocal lifts pauseLocal's pause; a write held by it then finds a
// replica and fails (READONLY) rather than being lost.
func (r *runner) unpauseLocal(ctx context.Context) {
	cctx, cancel := r.call(context.WithoutCancel(ctx))
	defer cancel()
	if err := r.local.Do(cctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		r.logf(Warn, "CLIENT UNPAUSE on local Redis failed: %v (the pause expires on its own)", err)
	}
}

// peerTarget is the peer's replication state to compare against: the one
// read after pausing its writes, else a fresh read.
func (r *runner) peerTarget(ctx context.Context) (replication.Info, error) {
	if r.pausedInfo != nil {
		return *r.pausedInfo, nil
	}
	p := r.fetch(ctx, r.peer)
	if !p.Up {
		return replication.Info{}, fmt.Errorf("peer Redis: %s", p.Err)
	}
	return p.Info, nil
}

// followPeer makes local a replica of the peer after re-checking rule 2
// with fresh facts.
func (r *runner) followPeer(ctx context.Context) error {
	l := r.fetch(ctx, r.local)
	if !l.Up {
		return fmt.Errorf("local Redis: %s", l.Err)
	}
	p, err := r.peerTarget(ctx)
	if err != nil {
		return err
	}
	ok, why := replication.SafeToReplicateFrom(l.Info, p)
	if !ok && l.Info.Role == replication.RoleMaster {
		// Only a tail of PINGs past the fork may stand between us and the
		// peer. Read it with our own writes paused, so that no write can
		// land between reading it and replicating.
		if err := r.pauseLocal(ctx); err != nil {
			return err
		}
		defer r.unpauseLocal(ctx)
		if l = r.fetch(ctx, r.local); !l.Up {
			return fmt.Errorf("local Redis: %s", l.Err)
		}
		tail := r.tailIfForked(ctx, r.self.Redis.Addr, l.Info, p)
		ok, why = replication.SafeToReplicateFromTail(l.Info, p, tail)
	}
	if !ok {
		return refuse("refusing to replicate from the peer: %s", why)
	}
	host, port, err := hostPort(r.peerNode.Redis.PeerAddr)
	if err != nil {
		return err
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.local.ReplicaOf(cctx, host, port).Err(); err != nil {
		return fmt.Errorf("REPLICAOF %s %s on local Redis: %w", host, port, err)
	}
	r.logf(Info, "local Redis now replicates from the peer %s (local was %s)", r.peerNode.Redis.PeerAddr, describe(l))
	return nil
}

// waitCaughtUp polls local's offset until it reaches the peer's, bounded by
// hooks.sync_timeout. Running out of time refuses the promotion (rule 1).
func (r *runner) waitCaughtUp(ctx context.Context) error {
	target, err := r.peerTarget(ctx)
	if err != nil {
		return err
	}
	limit := r.cfg.Hooks.SyncTimeout
	start := time.Now()
	deadline := start.Add(limit)
	var why string
	for first := true; ; first = false {
		l := r.fetch(ctx, r.local)
		if l.Up {
			var ok bool
			if ok, why = replication.CaughtUp(l.Info, target); ok {
				// A paused master still sends its replicas a PING every
				// repl-ping-replica-period, which moves its offset: look
				// once more and keep waiting if it moved.
				p := r.fetch(ctx, r.peer)
				if !p.Up || p.Info.ReplID != target.ReplID || p.Info.MasterReplOffset <= target.MasterReplOffset {
					r.logf(Info, "caught up after %s: %s", ms(time.Since(start)), why)
					return nil
				}
				r.logf(Info, "the peer's offset moved from %d to %d; waiting for that too", target.MasterReplOffset, p.Info.MasterReplOffset)
				target = p.Info
			}
			if first {
				r.logf(Info, "waiting up to %s: %s", limit, why)
			}
		} else {
			why = "local Redis: " + l.Err
		}
		if err := r.stillCurrent(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return refuse("refusing to promote: not caught up with the peer after %s (%s); promoting now would lose its writes", limit, why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the peer's offset: %w (%s)", context.Cause(ctx), why)
		case <-time.After(pollInterval):
		}
	}
}

// promote makes local Redis a master.
func (r *runner) promote(ctx context.Context) error {
	cctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.local.ReplicaOf(cctx, "NO", "ONE").Err(); err != nil {
		return fmt.Errorf("REPLICAOF NO ONE on local Redis: %w", err)
	}
	l := r.fetch(ctx, r.local)
	r.logf(Info, "promoted: local Redis is %s", describe(l))
	return nil
}

// demotePeer makes the peer a replica of local, after re-checking with
// fresh facts that the peer has nothing local lacks.
func (r *runner) demotePeer(ctx context.Context) error {
	l := r.fetch(ctx, r.local)
	if !l.Up {
		return fmt.Errorf("local Redis: %s", l.Err)
	}
	p := r.fetch(ctx, r.peer)
	if !p.Up {
		return fmt.Errorf("peer Redis: %s", p.Err)
	}
	ok, why := replication.SafeToReplicateFrom(p.Info, l.Info)
	if !ok && r.paused {
		// The peer's writes are paused, so its stream past the fork is
		// final: PINGs alone there lose nothing.
		tail := r.tailIfForked(ctx, r.peerNode.Redis.PeerAddr, p.Info, l.Info)
		ok, why = replication.SafeToReplicateFromTail(p.Info, l.Info, tail)
	}
	if !ok {
		if p.Info.Role == replication.RoleMaster {
			return refuse("TWO MASTERS: refusing to demote the peer, it has writes we lack: %s", why)
		}
		return refuse("refusing to make the peer our replica: %s", why)
	}
	host, port, err := hostPort(r.self.Redis.PeerAddr)
	if err != nil {
		return err
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.peer.ReplicaOf(cctx, host, port).Err(); err != nil {
		return fmt.Errorf("REPLICAOF %s %s on peer Redis: %w", host, port, err)
	}
	r.logf(Info, "peer Redis now replicates from us at %s (peer was %s)", r.self.Redis.PeerAddr, describe(p))
	return nil
}

// waitPeerMaster waits, bounded, for the peer to stop being our replica,
// then decides again with fresh facts (without waiting a second time).
func (r *runner) waitPeerMaster(ctx context.Context, facts Facts) error {
	limit := r.cfg.Hooks.SyncTimeout + 2*r.timeout
	deadline := time.Now().Add(limit)
	for {
		p := r.fetch(ctx, r.peer)
		if p.Up && !followsAddr(p.Info, r.self.Redis.PeerAddr) {
			break
		}
		if err := r.stillCurrent(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			r.logf(Warn, "the peer is still not a master after %s", limit)
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the peer to become master: %w", context.Cause(ctx))
		case <-time.After(pollInterval):
		}
	}
	next := r.observe(ctx, facts.State)
	next.PeerWaited = true
	plan := Decide(next)
	r.logf(Info, "local %s; peer %s", describe(next.Local), describe(next.Peer))
	r.logf(Info, "plan: %s", plan)
	return r.execute(ctx, plan, next)
}

// setAction records the step in progress in the state file.
func (r *runner) setAction(action string) {
	if r.gen == 0 {
		return
	}
	_ = r.updateState(func(s *wire.State) { s.LastAction = action })
}

// updateState applies fn to the state file if this hook's generation is
// still the current one; an overtaken hook never writes.
func (r *runner) updateState(fn func(*wire.State)) error {
	// The state lock is only ever held for a read and a write.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	lock, err := lockWait(ctx, stateLockPath(r.cfg.Hooks.LockFile))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	s, ok, err := ReadState(r.cfg.Hooks.StateFile)
	if err != nil {
		return err
	}
	if !ok || s.Generation != r.gen {
		return ErrOvertaken
	}
	fn(&s)
	return writeState(r.cfg.Hooks.StateFile, s)
}

// announce starts a notify: under the state lock it bumps the generation,
// which tells any older hook still running to stop, and records the new
// keepalived state as running.
func (r *runner) announce(ctx context.Context, instance, state string, priority int) error {
	lock, err := lockWait(ctx, stateLockPath(r.cfg.Hooks.LockFile))
	if err != nil {
		return err
	}
	defer lock.Unlock()
	old, _, err := ReadState(r.cfg.Hooks.StateFile)
	if err != nil {
		// A corrupt file must not stop a failover; start a new count.
		r.logf(Warn, "state file unreadable, starting over: %v", err)
	}
	me := selfFork()
	if err == nil && forkedAfter(old, me) {
		return fmt.Errorf("%w: keepalived started the notify for %s (pid %d) after ours, and it already announced itself", ErrOvertaken, old.State, old.PID)
	}
	r.gen = old.Generation + 1
	r.prevState = old.State
	return writeState(r.cfg.Hooks.StateFile, wire.State{
		Node:       r.self.Name,
		Instance:   instance,
		State:      state,
		Priority:   priority,
		Since:      time.Now(),
		Generation: r.gen,
		PID:        me.pid,
		BootID:     me.bootID,
		StartTicks: me.ticks,
		LastAction: "started",
		LastResult: wire.ResultRunning,
	})
}
