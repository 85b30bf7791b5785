// Package switchover is the node side of a planned switchover: what
// `redkeep hook switchover-run` and `hook switchover-lock` do on the
// current master, driven over SSH by the console side (package actions).
//
// Runner moves the pair in steps it reports as wire.SwitchoverStep lines:
// re-check on the node, swap the Redis roles with writes paused until the
// target has every byte (RedisSwitch: FAILOVER TO or CLIENT PAUSE WRITE,
// never a sleep), drain keepalived so the VIP follows, verify, and roll
// back when a step fails. The switchover lock (AcquireLock, HandleLock)
// keeps a second console out and expires by itself; the hooks' check
// consults it (InProgress) so roles swapped on purpose are not "fixed".
package switchover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/internal/proc"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// VIPControl is this node's side of the VIP: whether it holds it, and the
// drain that makes keepalived hand it over.
type VIPControl interface {
	Held() (bool, error)
	Drain() error
	Undrain() error
}

// TrackFileVIP is the VIPControl of a real node: the VIP on its interfaces,
// and keepalived's vrrp_track_file as the drain (non-zero = FAULT, which
// sends a priority-0 advert so the peer takes over at once).
type TrackFileVIP struct {
	VIP       netip.Addr
	TrackFile string
}

// Held reports whether the VIP is on one of this machine's interfaces
// other than loopback: keepalived puts it on a real one, and a VIP on lo
// is the switchover's bridge (LoopbackBridge), which nobody is told of.
func (v TrackFileVIP) Held() (bool, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return false, fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // gone since it was listed
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap() == v.VIP {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// Drain writes 1 to the track file; keepalived sees the change at once
// (inotify) and enters FAULT.
func (v TrackFileVIP) Drain() error { return writeTrackFile(v.TrackFile, "1\n") }

// Undrain writes 0: keepalived leaves FAULT and, with nopreempt, stays BACKUP.
func (v TrackFileVIP) Undrain() error { return writeTrackFile(v.TrackFile, "0\n") }

// writeTrackFile replaces the file atomically, so keepalived never reads a
// half-written number, and through a fresh temporary file, never through a
// symlink planted at a fixed one.
func writeTrackFile(path, content string) error {
	if err := nodefile.WriteAtomic(path, []byte(content)); err != nil {
		return fmt.Errorf("track file: %w", err)
	}
	return nil
}

// Options are the parameters of one node-local switchover.
type Options struct {
	// Owner is the switchover lock owner the console took; the run refuses
	// unless this node's lock is held by it.
	Owner string
	// To is the target node.
	To string
	// MaxLag is an optional byte limit on the target's lag; 0 is none.
	MaxLag int64
	// Timeout is the pause budget (switchover.max_pause, the verb's
	// --max-pause): the Redis step keeps writes paused at most this long,
	// and unpauses and aborts, the pair unchanged, when the target has
	// not caught up by then.
	Timeout time.Duration
	// VIPTimeout bounds how long the VIP may take to move to the target.
	VIPTimeout time.Duration
	Method     string
}

// Switchover runs the switchover on the old master's node: Redis roles
// first, then the VIP, then verification. It is started by the console over
// SSH but does not depend on it: once the Redis roles have swapped it goes
// on to a consistent pair even if the console disappears.
type Runner struct {
	Cfg  *config.Config
	Self *config.Node
	// Password is the Redis password ("" for none).
	Password string
	VIP      VIPControl
	// Emit receives each step as it starts and ends; may be nil.
	Emit func(wire.SwitchoverStep)
	Now  func() time.Time
	// KeepalivedRunning reports whether this node's keepalived runs; nil
	// means it does.
	KeepalivedRunning func() bool
	// Bridge keeps this node taking the VIP's packets for a moment after
	// the drain (see Bridger); nil for none.
	Bridge Bridger

	// Measured by Run for the event journal: how long the Redis step held
	// writes paused, and how long the VIP took from the drain until the
	// target answered on it (0 when the run did not get that far).
	WritesPaused, VIPMoved time.Duration
}

// New returns the switchover of a real node: self's Redis, the
// peer's over the pair's network, and the VIP from the config.
func New(cfg *config.Config, self *config.Node, emit func(wire.SwitchoverStep)) (*Runner, error) {
	pw, err := cfg.RedisPassword()
	if err != nil {
		return nil, err
	}
	r := &Runner{
		Cfg: cfg, Self: self, Password: pw, Emit: emit, Now: time.Now,
		VIP:               TrackFileVIP{VIP: cfg.VIPAddr(), TrackFile: cfg.Keepalived.TrackFile},
		KeepalivedRunning: func() bool { return proc.Running("/proc", "keepalived") },
	}
	if cfg.Switchover.BridgeOn() {
		r.Bridge = LoopbackBridge{VIP: cfg.VIPAddr()}
	}
	return r, nil
}

func (s *Runner) emit(step, state, detail string) {
	if s.Emit != nil {
		s.Emit(wire.SwitchoverStep{Step: step, State: state, Detail: detail, Time: s.now()})
	}
}

func (s *Runner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Runner) client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		Username:              s.Cfg.Redis.Username,
		Password:              s.Password,
		DialTimeout:           time.Second,
		ReadTimeout:           2 * time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            -1,
		PoolSize:              2,
		ContextTimeoutEnabled: true,
	})
}

// vipAddr is the VIP with the Redis port clients use: the target's Redis
// port as the pair's network reaches it.
func vipAddr(cfg *config.Config, n *config.Node) string {
	_, port, err := net.SplitHostPort(n.Redis.PeerAddr)
	if err != nil {
		port = "6379"
	}
	return net.JoinHostPort(cfg.VIPAddr().String(), port)
}

// Failure is the final error of a failed run: the step that
// failed, why, and the state the pair was left in.
type Failure struct {
	Step      string
	Err       error
	PairState string
}

func (e *Failure) Error() string {
	return fmt.Sprintf("switchover step %s failed: %v; pair left %s", e.Step, e.Err, e.PairState)
}
func (e *Failure) Unwrap() error { return e.Err }

// Result is the hookstats result of a run that returned err.
func Result(err error) string {
	var f *Failure
	switch {
	case err == nil:
		return hookstats.ResultOK
	case errors.As(err, &f) && f.Step == wire.StepCheck && f.PairState == "unchanged":
		return hookstats.ResultRefused
	default:
		return hookstats.ResultFailed
	}
}

// fail reports step as failed and returns the failure.
func (s *Runner) fail(step string, err error, pair string) error {
	if s.Emit != nil {
		s.Emit(wire.SwitchoverStep{Step: step, State: wire.StateFailed, Detail: err.Error(), PairState: pair, Time: s.now()})
	}
	return &Failure{Step: step, Err: err, PairState: pair}
}

// Run performs the switchover. abort is honoured only before the Redis
// step: after it, stopping half-way would leave the VIP on a replica, so the
// run finishes (everything it does is bounded by its timeouts).
func (s *Runner) Run(abort context.Context, o Options) (err error) {
	// Counted for the exporter (hookstats): a refusal is a check that
	// failed with the pair unchanged.
	defer func() {
		_ = hookstats.Add(hookstats.Path(s.Cfg.Hooks.StateFile), hookstats.KindSwitchover, Result(err))
	}()
	target, err := s.Cfg.Node(o.To)
	if err != nil {
		return s.fail(wire.StepCheck, err, "unchanged")
	}
	if target.Name == s.Self.Name {
		return s.fail(wire.StepCheck, fmt.Errorf("%s is this node; the target must be the peer", o.To), "unchanged")
	}
	if o.Timeout <= 0 || o.VIPTimeout <= 0 {
		return s.fail(wire.StepCheck, errors.New("timeouts must be positive"), "unchanged")
	}
	ctx := context.WithoutCancel(abort)

	s.emit(wire.StepCheck, wire.StateRunning, fmt.Sprintf("%s -> %s", s.Self.Name, target.Name))
	lock, err := ReadLock(LockPath(s.Cfg), s.now())
	switch {
	case err != nil:
		return s.fail(wire.StepCheck, err, "unchanged")
	case lock == nil || lock.Owner != o.Owner:
		return s.fail(wire.StepCheck, fmt.Errorf("this node's switchover lock is not held by %q (lock: %s)", o.Owner, lock), "unchanged")
	}
	// The console's preflight refuses too; this catches maintenance turned
	// on after it.
	if m, on, err := ReadMaintenance(s.Cfg.Hooks.MaintenanceFile, s.now()); err != nil {
		return s.fail(wire.StepCheck, err, "unchanged")
	} else if on {
		return s.fail(wire.StepCheck, fmt.Errorf("%s is in maintenance (%s): no switchover until `redkeep maintenance off`", s.Self.Name, m), "unchanged")
	}
	held, err := s.VIP.Held()
	if err != nil {
		return s.fail(wire.StepCheck, err, "unchanged")
	}
	if !held {
		return s.fail(wire.StepCheck, fmt.Errorf("%s does not hold the VIP %s; run the switchover on the VIP holder", s.Self.Name, s.Cfg.VIPAddr()), "unchanged")
	}
	local := s.client(s.Self.Redis.Addr)
	defer local.Close()
	peer := s.client(target.Redis.PeerAddr)
	defer peer.Close()
	rs := &RedisSwitch{Local: local, Target: peer, TargetAddr: target.Redis.PeerAddr, LocalAddr: s.Self.Redis.PeerAddr, Timeout: o.Timeout, Method: o.Method}
	cctx, cancel := context.WithTimeout(abort, 2*time.Second)
	li, ti, err := rs.CheckSwitchable(cctx, o.MaxLag)
	cancel()
	if err != nil {
		return s.fail(wire.StepCheck, err, "unchanged")
	}
	lag, _ := replication.Lag(ti, li)
	limit := "no byte limit"
	if o.MaxLag > 0 {
		limit = fmt.Sprintf("limit %d", o.MaxLag)
	}
	s.emit(wire.StepCheck, wire.StateDone, fmt.Sprintf("%s is master at offset %d, %s its replica %d bytes behind (%s)", s.Self.Name, li.MasterReplOffset, target.Name, lag, limit))
	if abort.Err() != nil {
		return s.fail(wire.StepCheck, fmt.Errorf("aborted before the Redis step: %w", context.Cause(abort)), "unchanged")
	}

	// The bridge goes up before the Redis step, where it costs nothing (the
	// VIP is still here), with a lifetime that outlasts the step, the drain
	// and the hold; it comes down when the run ends, whatever happened.
	bridged, bridgeUp := "", false
	if s.Bridge != nil {
		if err := s.Bridge.Bridge(o.Timeout + o.VIPTimeout); err != nil {
			bridged = fmt.Sprintf("; no bridge (%v): packets sent to the VIP before %s takes it wait for a TCP retransmit", err, target.Name)
		} else {
			bridgeUp = true
			defer func() {
				if bridgeUp {
					// A run that stopped before the VIP moved. Should this
					// fail, the kernel removes the address when its
					// lifetime ends.
					_ = s.Bridge.Unbridge()
				}
			}()
		}
	}

	s.emit(wire.StepRedis, wire.StateRunning, fmt.Sprintf("swap roles (%s, writes paused at most %s)", methodName(o.Method), o.Timeout))
	res, err := rs.Switch(ctx)
	if err != nil {
		var se *StateError
		state := "unknown: check both nodes"
		if errors.As(err, &se) {
			state = se.State
		}
		return s.fail(wire.StepRedis, err, state)
	}
	s.WritesPaused = res.Took
	s.emit(wire.StepRedis, wire.StateDone, fmt.Sprintf("%s: %s is master, %s its replica, at offset %d, in %s", res.Method, target.Name, s.Self.Name, res.Offset, res.Took.Round(time.Millisecond)))

	// From here on, this node holds the VIP but its Redis is a replica:
	// clients get READONLY until the VIP moves. Move it at once.
	s.emit(wire.StepDrain, wire.StateRunning, "track file "+s.Cfg.Keepalived.TrackFile+" = 1 (keepalived FAULT)")
	if err := s.VIP.Drain(); err != nil {
		return s.rollback(ctx, rs, target, wire.StepDrain, err)
	}
	s.emit(wire.StepDrain, wire.StateDone, "")

	s.emit(wire.StepVIP, wire.StateRunning, fmt.Sprintf("wait up to %s for the VIP to move to %s", o.VIPTimeout, target.Name))
	vipStart := time.Now()
	if err := s.waitVIPGone(o.VIPTimeout); err != nil {
		return s.vipFailed(ctx, rs, target, err)
	}
	left := time.Since(vipStart)
	if bridgeUp {
		// Until the target has announced the VIP, packets still sent here
		// reach the local Redis (READONLY, retried), not a dropped address.
		hold := bridgeHold(s.Cfg.Keepalived.AdvertInt, target.Keepalived.Priority)
		time.Sleep(hold)
		bridgeUp = false
		if err := s.Bridge.Unbridge(); err != nil {
			bridged = fmt.Sprintf("; the bridge could not be removed: %v", err)
		} else {
			bridged = fmt.Sprintf("; VIP bridged on lo for %s after it left", hold.Round(time.Millisecond))
		}
	}
	// Stay drained until the target answers on the VIP: undrained at
	// once, this node would flap FAULT -> BACKUP within milliseconds, and
	// keepalived would start both notify hooks at the same moment, racing
	// each other for the state file.
	if err := s.waitVIPAnswers(ctx, rs, target, o.VIPTimeout-left); err != nil {
		return s.vipFailed(ctx, rs, target, err)
	}
	s.VIPMoved = time.Since(vipStart)
	s.emit(wire.StepVIP, wire.StateDone, fmt.Sprintf("VIP left %s after %s; %s answers on it after %s%s", s.Self.Name, left.Round(time.Millisecond), target.Name, time.Since(vipStart).Round(time.Millisecond), bridged))

	s.emit(wire.StepUndrain, wire.StateRunning, "track file = 0 (keepalived BACKUP, nopreempt)")
	if err := s.VIP.Undrain(); err != nil {
		// The pair is consistent (the target is master with the VIP); this
		// node merely stays in FAULT until someone clears the file.
		return s.fail(wire.StepUndrain, err, fmt.Sprintf("switched: %s is master with the VIP, %s its replica, but %s is still drained (run `redkeep hook undrain` on it)", target.Name, s.Self.Name, s.Self.Name))
	}
	s.emit(wire.StepUndrain, wire.StateDone, "")

	s.emit(wire.StepVerify, wire.StateRunning, "ROLE through the VIP "+vipAddr(s.Cfg, target))
	if err := s.verify(ctx, rs, target, o.VIPTimeout); err != nil {
		return s.fail(wire.StepVerify, err, fmt.Sprintf("switched, not verified: %s should be master with the VIP and %s its replica; check both nodes", target.Name, s.Self.Name))
	}
	s.emit(wire.StepVerify, wire.StateDone, fmt.Sprintf("the VIP answers as master %s; %s replicates from it, link up", target.Name, s.Self.Name))
	return nil
}

func methodName(m string) string {
	if m == "" {
		return wire.MethodAuto
	}
	return m
}

// waitVIPGone waits until this node no longer holds the VIP.
func (s *Runner) waitVIPGone(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		held, err := s.VIP.Held()
		if err == nil && !held {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("VIP still here after %s: %w", limit, err)
			}
			return fmt.Errorf("VIP %s still on %s after %s: is keepalived running on both nodes and does the track file reach it?", s.Cfg.VIPAddr(), s.Self.Name, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rollback puts Redis back the way it was when the VIP could not be moved:
// the VIP stays here, so the master must be here too. The target has every
// write (it is the master now and nothing reached it but replication), so a
// FAILOVER back loses nothing.
// vipFailed handles a VIP that did not move after the Redis roles swapped.
// Normally that rolls the roles back to the VIP. But when this node's
// keepalived has died, the VIP here is what it left behind: it cannot keep
// it, the target's keepalived takes the VIP once the adverts stop, and
// rolling back would make the node without a keepalived the master (the
// chaos soak saw writes fail for 21.7 s that way, until the target's check
// swapped the roles again). The target keeps the roles.
func (s *Runner) vipFailed(ctx context.Context, rs *RedisSwitch, target *config.Node, cause error) error {
	if s.KeepalivedRunning == nil || s.KeepalivedRunning() {
		return s.rollback(ctx, rs, target, wire.StepVIP, cause)
	}
	// Undrained, the keepalived that is started here next comes up as
	// BACKUP; left drained, it would stay in FAULT for good.
	if err := s.VIP.Undrain(); err != nil {
		cause = fmt.Errorf("%v; undrain failed too: %v", cause, err)
	}
	return s.fail(wire.StepVIP, fmt.Errorf("%v; keepalived is not running on %s, so no rollback", cause, s.Self.Name),
		fmt.Sprintf("switched: %s is Redis master and its keepalived takes the VIP; %s is its replica, its keepalived is down and left a stale VIP here: start keepalived on %s (or remove the address)", target.Name, s.Self.Name, s.Self.Name))
}

func (s *Runner) rollback(ctx context.Context, rs *RedisSwitch, target *config.Node, step string, cause error) error {
	s.emit(step, wire.StateFailed, cause.Error()+"; rolling back")
	undrainErr := s.VIP.Undrain()
	back := &RedisSwitch{Local: rs.Target, Target: rs.Local, TargetAddr: rs.LocalAddr, LocalAddr: rs.TargetAddr, Timeout: rs.Timeout, Method: rs.Method}
	var err error
	deadline := time.Now().Add(rs.Timeout + 2*time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err = back.CheckSwitchable(cctx, 1<<62)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err == nil {
		_, err = back.Switch(ctx)
	}
	held, _ := s.VIP.Held()
	switch {
	case err != nil:
		return s.fail(step, fmt.Errorf("%v; rollback failed: %v", cause, err),
			fmt.Sprintf("INCONSISTENT: %s is Redis master, the VIP is on %s (held here: %v); move the VIP with `redkeep hook drain` on %s", target.Name, s.vipHolderGuess(held, target), held, s.Self.Name))
	case undrainErr != nil:
		return s.fail(step, fmt.Errorf("%v; rolled back Redis but undrain failed: %v", cause, undrainErr),
			fmt.Sprintf("rolled back: %s is master again, %s its replica; %s is still drained", s.Self.Name, target.Name, s.Self.Name))
	}
	if !held {
		// Undrained, this node takes the VIP back as soon as keepalived
		// sees no MASTER advert; if the target holds it, it stays there.
		return s.fail(step, cause, fmt.Sprintf("rolled back Redis: %s is master again, %s its replica; the VIP is not on %s at this moment (keepalived should bring it back; if %s holds it, drain %s)", s.Self.Name, target.Name, s.Self.Name, target.Name, target.Name))
	}
	return s.fail(step, cause, fmt.Sprintf("rolled back: %s is master with the VIP again, %s its replica", s.Self.Name, target.Name))
}

func (s *Runner) vipHolderGuess(held bool, target *config.Node) string {
	if held {
		return s.Self.Name
	}
	return target.Name + " (probably)"
}

// waitVIPAnswers waits until the VIP answers as the target's Redis, master.
func (s *Runner) waitVIPAnswers(ctx context.Context, rs *RedisSwitch, target *config.Node, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		// A fresh client each time: go-redis backs off for a second after
		// failed dials, and the VIP refuses dials until the target has it.
		via := s.client(vipAddr(s.Cfg, target))
		err := s.vipIsTarget(ctx, via, rs)
		via.Close()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the VIP left %s but does not answer as %s: %w", s.Self.Name, target.Name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// vipIsTarget checks once that the VIP answers as the target, master.
func (s *Runner) vipIsTarget(ctx context.Context, via *redis.Client, rs *RedisSwitch) error {
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	vi, err := fetchInfo(cctx, via)
	if err != nil {
		return fmt.Errorf("through the VIP: %w", err)
	}
	ti, err := fetchInfo(cctx, rs.Target)
	if err != nil {
		return err
	}
	switch {
	case vi.Role != replication.RoleMaster:
		return fmt.Errorf("the VIP answers as %s, not master", vi.Role)
	case vi.RunID != ti.RunID:
		return fmt.Errorf("the VIP answers as run_id %s, the target is %s", short8(vi.RunID), short8(ti.RunID))
	}
	return nil
}

// verify checks through the VIP that the target answers as master, and
// that this node's Redis replicates from it with the link up.
func (s *Runner) verify(ctx context.Context, rs *RedisSwitch, target *config.Node, limit time.Duration) error {
	via := s.client(vipAddr(s.Cfg, target))
	defer via.Close()
	deadline := time.Now().Add(limit)
	var lastErr error
	for time.Now().Before(deadline) {
		lastErr = s.verifyOnce(ctx, via, rs)
		if lastErr == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return lastErr
}

func (s *Runner) verifyOnce(ctx context.Context, via *redis.Client, rs *RedisSwitch) error {
	if err := s.vipIsTarget(ctx, via, rs); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	li, err := fetchInfo(cctx, rs.Local)
	if err != nil {
		return err
	}
	if !isReplicaOf(li, rs.TargetAddr) || !li.LinkUp {
		return fmt.Errorf("%s is %s of %s:%d (link up %v), want a replica of %s with the link up", s.Self.Name, li.Role, li.MasterHost, li.MasterPort, li.LinkUp, rs.TargetAddr)
	}
	return nil
}

func short8(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return strings.TrimSpace(s)
}
