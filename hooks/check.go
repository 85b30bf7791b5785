package hooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// ErrUnhealthy marks a failed check: keepalived should put this node in FAULT.
var ErrUnhealthy = errors.New("unhealthy")

// reconcileMargin is kept free at the end of the check's deadline so the
// process exits in time even when the reconcile's Redis calls run out.
const reconcileMargin = 50 * time.Millisecond

// Check is `redkeep hook check`: nil when the local Redis answers PING
// within keepalived.check.deadline and is not loading, an error wrapping
// ErrUnhealthy otherwise. It always returns within the deadline.
//
// It also reconciles (rule 5) while it is at it, inside the same deadline:
//   - keepalived BACKUP or FAULT here but local Redis is a master: become the
//     peer's replica when the peer is the master and that loses nothing;
//   - keepalived MASTER here but local Redis is a replica (the MASTER hook
//     refused to promote over writes it lacked, or someone demoted it): the
//     check fails, so keepalived hands the VIP to where the master is. If the
//     peer's keepalived cannot take it, this node comes back through
//     FAULT -> BACKUP -> MASTER and its MASTER hook tries again with fresh
//     facts.
//
// Nothing is reconciled while a notify or a planned switchover runs.
//
// While maintenance is on (ReadMaintenance) the check answers healthy
// whether or not local Redis answers, reconciles nothing, and logs once
// what it would have said.
func Check(ctx context.Context, cfg *config.Config, self *config.Node, log *Logger) (err error) {
	// Counted for the exporter (hookstats); a count lost to a stuck lock is
	// not worth failing the check over.
	defer func() {
		result := hookstats.ResultOK
		if err != nil {
			result = hookstats.ResultFailed
		}
		_ = hookstats.Add(hookstats.Path(cfg.Hooks.StateFile), hookstats.KindCheck, result)
	}()
	deadline := cfg.Keepalived.Check.Deadline
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()

	r, err := newRunner(cfg, self, log, deadline)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	// The peer is only asked while reconciling; its calls get the shorter
	// hooks.redis_timeout, so an unreachable peer costs less than the deadline.
	_ = r.peer.Close()
	r.peer = newClient(r.peerNode.Redis.PeerAddr, cfg.Redis.Username, r.password, cfg.Hooks.RedisTimeout)
	defer r.Close()
	r.role = "check"

	// In maintenance only PING is asked, to log what the check would have
	// said; nothing is reconciled.
	maint, inMaint := r.checkMaintenance(time.Now())
	st, haveState, stErr := ReadState(cfg.Hooks.StateFile)
	wantRole := !inMaint && haveState && stErr == nil && st.State != wire.KAStop

	// PING, ROLE and DBSIZE in one round trip: PING is the health answer
	// (it fails with LOADING while the data set loads; ROLE would not).
	var ping *redis.StatusCmd
	var role *redis.Cmd
	var dbsize *redis.IntCmd
	sent := time.Now()
	_, _ = r.local.Pipelined(ctx, func(p redis.Pipeliner) error {
		ping = p.Ping(ctx)
		if wantRole {
			role = p.Do(ctx, "ROLE")
			dbsize = p.DBSize(ctx)
		}
		return nil
	})
	if err := ping.Err(); err != nil {
		what := "does not answer PING"
		if strings.HasPrefix(err.Error(), "LOADING") {
			what = "is loading its data set"
		}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("no answer within %s", deadline)
		}
		if inMaint {
			return r.maintenanceCheck(maint, fmt.Errorf("local Redis %s %s: %v", self.Redis.Addr, what, err))
		}
		return r.checkResult(fmt.Errorf("%w: local Redis %s %s: %v", ErrUnhealthy, self.Redis.Addr, what, err))
	}
	r.clearHealth(sent)
	if inMaint {
		return r.maintenanceCheck(maint, nil)
	}
	if !wantRole {
		return r.checkResult(nil)
	}
	local, err := replication.ParseRole(role.Val())
	if role.Err() != nil || err != nil || dbsize.Err() != nil {
		// Healthy by PING; the role is only needed to reconcile.
		return r.checkResult(nil)
	}
	// DBSIZE counts the selected database only; an empty one is enough to
	// ask INFO before calling the server empty.
	local.Keys = dbsize.Val()

	end, _ := ctx.Deadline()
	rctx, rcancel := context.WithDeadline(ctx, end.Add(-reconcileMargin))
	defer rcancel()
	return r.checkResult(r.reconcile(rctx, st, local))
}

// clearHealth ends a failure the watcher wrote (ClearHealth) now that
// local Redis answered a PING sent at sent.
func (r *runner) clearHealth(sent time.Time) {
	cleared, err := ClearHealth(r.cfg, sent)
	switch {
	case err != nil:
		// Its own note file: the check's note says whether it was failing.
		r.noteTo(r.cfg.Hooks.StateFile+".health", Warn, "cannot clear the watcher's health file: "+err.Error())
	case cleared:
		r.logf(Info, "local Redis answers again: health file %s = 0 (the watcher's failure is over)", r.cfg.Keepalived.Watch.HealthFile)
	}
}

// reconcile brings Redis in line with the keepalived state recorded by the
// last notify. It returns an error only when the node must report unhealthy.
func (r *runner) reconcile(ctx context.Context, st wire.State, local replication.Info) error {
	backup := st.State == wire.KABackup || st.State == wire.KAFault
	emptyMaster := local.Role == replication.RoleMaster && local.Keys == 0 && local.MasterReplOffset == 0
	switch {
	case st.State == wire.KAMaster && local.Role == replication.RoleReplica:
	case st.State == wire.KAMaster && local.Role == replication.RoleMaster && (emptyMaster || len(local.Replicas) == 0):
		// A master without its replica: restarted empty, or back from a
		// partition while the peer took over? Only then is the peer asked.
	case backup && local.Role == replication.RoleMaster:
	case backup && local.Role == replication.RoleReplica && !local.LinkUp:
		// Our master may have come back empty: detach before Redis's own
		// full resync wipes us, if we are quick enough (see Decide).
	default:
		return nil // Redis agrees with keepalived
	}
	if st.LastResult == wire.ResultRunning && pidAlive(st.PID) {
		return nil // the notify is still working on it
	}
	lock, err := tryLock(r.cfg.Hooks.LockFile)
	if err != nil {
		return nil // a notify holds the lock
	}
	defer lock.Unlock()
	if sw, err := switchover.InProgress(r.cfg, time.Now()); err == nil && sw != nil {
		return nil // a planned switchover swaps roles on purpose
	}

	if st.State == wire.KAMaster && local.Role == replication.RoleReplica {
		return fmt.Errorf("%w: keepalived is MASTER here but local Redis is a replica of %s:%d (last MASTER hook: %s: %s); failing so the VIP goes to the master",
			ErrUnhealthy, local.MasterHost, local.MasterPort, st.LastResult, st.LastAction)
	}
	if st.State == wire.KAMaster {
		return r.checkStaleMaster(ctx)
	}

	facts := r.observe(ctx, st.State)
	facts.PeerWaited = true // the check never waits
	plan := Decide(facts)
	if len(plan.Steps) == 0 {
		if local.Role == replication.RoleMaster {
			r.note(Warn, fmt.Sprintf("reconcile: keepalived %s but local Redis is master; %s", st.State, plan))
		}
		return nil
	}
	r.logf(Info, "reconcile: keepalived %s; local %s; peer %s; plan: %s", st.State, describe(facts.Local), describe(facts.Peer), plan)
	if err := r.execute(ctx, plan, facts); err != nil {
		r.note(Warn, "reconcile: "+err.Error())
		return nil
	}
	r.note(Info, "reconcile: "+reconciled(plan))
	return nil
}

// checkStaleMaster fails the check of a VIP holder whose Redis is a master
// the peer's data has overtaken: an empty master (restarted without its
// data), or one that was cut off while the peer took over and whose stream
// since holds no write (a partition healed, and VRRP priority handed the
// VIP back to it). Clients would write into the stale data set. It first
// makes local Redis the peer's replica (checked with its writes paused:
// nothing to lose), then fails, so keepalived moves the VIP to the data
// (rule 9). A real split brain, writes on both sides, is left alone: an
// operator chooses (redkeep resolve).
func (r *runner) checkStaleMaster(ctx context.Context) error {
	f := r.observe(ctx, wire.KAMaster)
	l, p := f.Local, f.Peer
	if !l.Up || !p.Up || p.Info.Loading || l.Info.Role != replication.RoleMaster || p.Info.Role != replication.RoleMaster || p.Info.Empty() {
		return nil
	}
	if ok, _ := p.canFollow(l); ok {
		return nil // ours is the newer data; the peer's hooks make it our replica
	}
	ok, why := l.canFollow(p)
	if !ok {
		return nil
	}
	stale := fmt.Sprintf("the peer's Redis holds newer data than ours (%s)", why)
	if l.Info.Empty() {
		stale = fmt.Sprintf("local Redis is an empty master (restarted without its data?) while the peer is a master with %d keys at offset %d", p.Info.Keys, p.Info.Offset())
	}
	followed := "local Redis now replicates from the peer"
	if err := r.followPeer(ctx); err != nil {
		followed = "making it the peer's replica failed: " + err.Error()
	}
	return fmt.Errorf("%w: keepalived is MASTER here but %s; %s; failing so the VIP goes to the data", ErrUnhealthy, stale, followed)
}

// reconciled says what a successful reconcile plan did.
func reconciled(p Plan) string {
	if p.Steps[0].Action == ActFollowPeer {
		return "local Redis now replicates from the peer"
	}
	return "done: " + p.String()
}

// pidAlive reports whether process pid exists.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// checkNotePath holds the check's last notable message, so a check that
// runs every second logs a condition once, when it changes, not every time.
func checkNotePath(cfg *config.Config) string { return cfg.Hooks.StateFile + ".check" }

// note logs msg unless it is the same as the previous check's note.
func (r *runner) note(level Level, msg string) {
	r.noteTo(checkNotePath(r.cfg), level, msg)
}

// noteTo logs msg unless path holds it already from an earlier check, and
// keeps it there. It reports whether it logged.
func (r *runner) noteTo(path string, level Level, msg string) bool {
	if prev, err := nodefile.Read(path); err == nil && string(prev) == msg {
		return false
	}
	r.logf(level, "%s", msg)
	_ = nodefile.WriteAtomic(path, []byte(msg))
	return true
}

// checkResult logs a change of health and passes err through.
// A change between healthy and failing is also one event in the journal.
func (r *runner) checkResult(err error) error {
	now := time.Now() // before the line logged about it, as for every event
	path := checkNotePath(r.cfg)
	prev, rerr := nodefile.Read(path)
	wasFailing := rerr == nil && strings.HasPrefix(string(prev), "check failed")
	if err != nil {
		r.note(Error, "check failed: "+err.Error())
		if !wasFailing {
			r.record(wire.Event{Time: now, Event: wire.EventCheckFailed, Result: wire.ResultFailed, Detail: err.Error()})
		}
		return err
	}
	if wasFailing {
		r.note(Info, "check healthy again")
		r.record(wire.Event{Time: now, Event: wire.EventCheckOK, Result: wire.ResultOK})
	}
	return nil
}
