package switchover

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// pollEvery is how often the Redis step re-reads replication state while it
// waits for an offset or a role. Short: writes are paused meanwhile.
const pollEvery = 2 * time.Millisecond

// RedisSwitch is the Redis half of a planned switchover: local is the
// master, Target its replica. It is used on the old master's node, which
// reaches its peer's Redis like replication does (the peer's peer_addr).
type RedisSwitch struct {
	Local  *redis.Client
	Target *redis.Client
	// TargetAddr is the target as the master knows its replica (host:port);
	// LocalAddr is the master as the target reaches it, for a rollback.
	TargetAddr string
	LocalAddr  string
	// Timeout is the pause budget: how long writes may stay paused while
	// the target catches up. Past it the step unpauses and aborts.
	Timeout time.Duration
	Method  string
}

// RedisResult is what the Redis step did.
type RedisResult struct {
	Method string `json:"method"`
	// Offset is the replication offset at which the roles swapped: the
	// target had every byte up to it.
	Offset int64 `json:"offset"`
	// Took is how long the step took, writes paused for most of it.
	Took time.Duration `json:"took_ns"`
}

// StateError is a failed step that knows what state it left the pair in.
type StateError struct {
	Err error
	// State describes the pair as it was left, e.g. "unchanged: a is still
	// master, b its replica".
	State string
}

func (e *StateError) Error() string { return fmt.Sprintf("%v; pair left %s", e.Err, e.State) }
func (e *StateError) Unwrap() error { return e.Err }

// fetchInfo reads the INFO sections the switchover decides with.
func fetchInfo(ctx context.Context, c *redis.Client) (replication.Info, error) {
	return replication.Fetch(ctx, c)
}

// isReplicaOf reports whether info is a replica of addr (host:port).
func isReplicaOf(info replication.Info, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return info.Role == replication.RoleReplica && info.MasterHost == host && strconv.Itoa(info.MasterPort) == port
}

// replicaOf finds the master's INFO line for the replica at addr.
func replicaOf(master replication.Info, addr string) (replication.Replica, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return replication.Replica{}, false
	}
	for _, r := range master.Replicas {
		if r.IP == host && strconv.Itoa(r.Port) == port {
			return r, true
		}
	}
	return replication.Replica{}, false
}

// CheckSwitchable verifies, right before the switch, that local is a master,
// target its replica with the link up, sharing its history and, when
// maxLag is positive, within maxLag bytes (0 is no byte limit: the pause
// budget, Timeout, bounds the catch-up instead). The
// console checked the same from its snapshots; this repeats it where the
// data lives, a moment before acting.
func (s *RedisSwitch) CheckSwitchable(ctx context.Context, maxLag int64) (local, target replication.Info, err error) {
	if local, err = fetchInfo(ctx, s.Local); err != nil {
		return local, target, err
	}
	if target, err = fetchInfo(ctx, s.Target); err != nil {
		return local, target, err
	}
	switch {
	case local.Role != replication.RoleMaster:
		return local, target, fmt.Errorf("local Redis %s is %s, not master", s.Local.Options().Addr, local.Role)
	case local.FailoverState != "" && local.FailoverState != "no-failover":
		return local, target, fmt.Errorf("local Redis %s is already in a failover (%s)", s.Local.Options().Addr, local.FailoverState)
	case !isReplicaOf(target, s.LocalAddr):
		return local, target, fmt.Errorf("target Redis %s is %s of %s:%d, not a replica of %s", s.TargetAddr, target.Role, target.MasterHost, target.MasterPort, s.LocalAddr)
	case !target.LinkUp:
		return local, target, fmt.Errorf("target Redis %s: replication link is down", s.TargetAddr)
	case target.SyncInProgress || target.Loading:
		return local, target, fmt.Errorf("target Redis %s is still syncing or loading", s.TargetAddr)
	}
	// FAILOVER also wants the master's own view: it refuses a replica the
	// master does not list as online, which after a full sync lasts until
	// the replica's first ack (up to a second). The pause path waits for it
	// before pausing (waitStreaming).
	if r, found := replicaOf(local, s.TargetAddr); s.Method == wire.MethodFailover && (!found || r.State != "online") {
		state := "not listed"
		if found {
			state = r.State
		}
		return local, target, fmt.Errorf("the master %s does not see the target %s as an online replica (%s)", s.Local.Options().Addr, s.TargetAddr, state)
	}
	lag, ok := replication.Lag(target, local)
	if !ok {
		return local, target, fmt.Errorf("target Redis %s does not share the master's history (replid %s vs %s)", s.TargetAddr, target.ReplID, local.ReplID)
	}
	if maxLag > 0 && lag > maxLag {
		return local, target, fmt.Errorf("target Redis %s is %d bytes behind, above the limit of %d", s.TargetAddr, lag, maxLag)
	}
	return local, target, nil
}

// Switch swaps the roles: the target becomes master, local its replica,
// with no acknowledged write lost. On failure the returned *StateError says
// how the pair was left; writes are never left paused.
func (s *RedisSwitch) Switch(ctx context.Context) (RedisResult, error) {
	start := time.Now()
	local, err := fetchInfo(ctx, s.Local)
	if err != nil {
		return RedisResult{}, &StateError{Err: err, State: "unchanged"}
	}
	method := s.Method
	if method == "" || method == wire.MethodAuto {
		method = wire.MethodPause
	}
	if !replication.SupportsSwitchover(local.Version) {
		// Before 6.2 the only pause also blocks our own REPLICAOF, so a
		// write could land on the old master after the replica took over.
		return RedisResult{}, &StateError{
			Err:   fmt.Errorf("redis %s on %s is older than 6.2: it has neither FAILOVER nor CLIENT PAUSE WRITE, so a switchover cannot guarantee no lost writes; upgrade Redis", local.Version, s.Local.Options().Addr),
			State: "unchanged",
		}
	}
	var off int64
	switch method {
	case wire.MethodFailover:
		off, err = s.failover(ctx)
	case wire.MethodPause:
		off, err = s.pause(ctx)
	default:
		return RedisResult{}, &StateError{Err: fmt.Errorf("unknown switchover method %q (auto, failover, pause)", s.Method), State: "unchanged"}
	}
	return RedisResult{Method: method, Offset: off, Took: time.Since(start)}, err
}

// failoverAckCadence is how long FAILOVER needs at least: the master learns
// the replica's offset only from its REPLCONF ACK, once a second, since it
// sends no GETACK while writes are paused (Redis 7.0, beforeSleep). A
// shorter TIMEOUT aborts about every other FAILOVER of a replica in sync.
const failoverAckCadence = 1500 * time.Millisecond

// failoverTimeout is FAILOVER's TIMEOUT for a pause budget: the budget, but
// never below failoverAckCadence. So --method failover may hold writes up
// to about a second whatever the budget; --method pause (auto) keeps it.
func failoverTimeout(budget time.Duration) time.Duration {
	return max(budget, failoverAckCadence)
}

// failover runs FAILOVER TO and waits for the server to finish it.
func (s *RedisSwitch) failover(ctx context.Context) (int64, error) {
	host, port, err := net.SplitHostPort(s.TargetAddr)
	if err != nil {
		return 0, &StateError{Err: fmt.Errorf("target address %q: %w", s.TargetAddr, err), State: "unchanged"}
	}
	timeout := failoverTimeout(s.Timeout)
	if err := s.Local.Do(ctx, "FAILOVER", "TO", host, port, "TIMEOUT", timeout.Milliseconds()).Err(); err != nil {
		return 0, &StateError{Err: fmt.Errorf("FAILOVER TO %s %s on %s: %w", host, port, s.Local.Options().Addr, err), State: "unchanged: FAILOVER was refused by the master"}
	}
	// FAILOVER answers at once and works in the background; its state is
	// master_failover_state. The server ends it by itself (success or, at
	// the timeout, abort and unpause), so waiting a little past the timeout
	// always sees the end, whatever our context does.
	deadline := time.Now().Add(timeout + 2*time.Second)
	wctx := context.WithoutCancel(ctx)
	var last replication.Info
	var lastErr error
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(wctx, time.Second)
		last, lastErr = fetchInfo(cctx, s.Local)
		cancel()
		if lastErr == nil && (last.FailoverState == "" || last.FailoverState == "no-failover") {
			break
		}
		time.Sleep(pollEvery)
	}
	switch {
	case lastErr != nil:
		// We lost sight of the master. Abort whatever may still run so
		// nothing stays paused, then report what we know.
		s.abortFailover(wctx)
		return 0, &StateError{Err: fmt.Errorf("FAILOVER on %s: lost contact while it ran: %w", s.Local.Options().Addr, lastErr), State: "unknown: check both nodes (FAILOVER ABORT was sent)"}
	case last.FailoverState != "" && last.FailoverState != "no-failover":
		s.abortFailover(wctx)
		return 0, &StateError{Err: fmt.Errorf("FAILOVER on %s still %s after %s", s.Local.Options().Addr, last.FailoverState, timeout+2*time.Second), State: "unchanged: FAILOVER ABORT was sent, writes unpaused"}
	case last.Role == replication.RoleMaster:
		return 0, &StateError{Err: fmt.Errorf("FAILOVER on %s was aborted by Redis (the replica did not reach the master's offset within %s, or the handshake failed; see the Redis log)", s.Local.Options().Addr, timeout), State: "unchanged: Redis aborted the failover and unpaused writes"}
	case !isReplicaOf(last, s.TargetAddr):
		return 0, &StateError{Err: fmt.Errorf("after FAILOVER %s is a replica of %s:%d, not of %s", s.Local.Options().Addr, last.MasterHost, last.MasterPort, s.TargetAddr), State: "unexpected: check both nodes"}
	}
	tctx, cancel := context.WithTimeout(wctx, 2*time.Second)
	defer cancel()
	target, err := fetchInfo(tctx, s.Target)
	if err != nil || target.Role != replication.RoleMaster {
		return 0, &StateError{Err: fmt.Errorf("after FAILOVER the target %s is not confirmed master (role %q, err %v)", s.TargetAddr, target.Role, err), State: "unknown: the old master is a replica; check the target"}
	}
	return target.SecondReplOffset - 1, nil
}

func (s *RedisSwitch) abortFailover(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = s.Local.Do(cctx, "FAILOVER", "ABORT").Err()
}

// streamingWait bounds how long a switchover waits, before it pauses
// anything, for the target to show it receives the master's stream.
const streamingWait = 2 * time.Second

// waitStreaming waits, writes still flowing, until the target has reached
// the offset the master had a moment before, or its offset moves: proof
// that the master streams to it. After a diskless full sync the master lists the replica
// online, and the replica reports its link up, but the master holds the
// stream until the replica's first REPLCONF ACK, up to a second later (seen
// as "replica offset 0 is 163 bytes behind master offset 163" when writes
// were paused then with a 500 ms budget). Past streamingWait it goes on:
// the pause's own budget decides then.
func (s *RedisSwitch) waitStreaming(ctx context.Context) {
	deadline := time.Now().Add(streamingWait)
	local, err := fetchInfo(ctx, s.Local)
	first := int64(-1)
	for err == nil && time.Now().Before(deadline) && ctx.Err() == nil {
		target, terr := fetchInfo(ctx, s.Target)
		if terr != nil {
			return
		}
		if ok, _ := replication.CaughtUp(target, local); ok {
			return
		}
		// Behind, but its offset moves: the stream flows, and how far
		// behind it is is the budget's business.
		if first >= 0 && target.Offset() > first {
			return
		}
		if first < 0 {
			first = target.Offset()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pause is FAILOVER by hand. Writes are paused with a timeout as well as
// unpaused explicitly, so even a process killed mid-way cannot leave them
// paused for longer than s.Timeout.
func (s *RedisSwitch) pause(ctx context.Context) (int64, error) {
	s.waitStreaming(ctx)
	wctx := context.WithoutCancel(ctx)
	ms := max(s.Timeout.Milliseconds(), 1)
	if err := s.Local.Do(ctx, "CLIENT", "PAUSE", ms, "WRITE").Err(); err != nil {
		return 0, &StateError{Err: fmt.Errorf("CLIENT PAUSE WRITE on %s: %w", s.Local.Options().Addr, err), State: "unchanged"}
	}
	unpause := func() error {
		cctx, cancel := context.WithTimeout(wctx, time.Second)
		defer cancel()
		return s.Local.Do(cctx, "CLIENT", "UNPAUSE").Err()
	}
	defer unpause()

	deadline := time.Now().Add(s.Timeout)
	local, err := fetchInfo(ctx, s.Local)
	if err != nil {
		return 0, &StateError{Err: err, State: "unchanged (writes unpaused)"}
	}
	var why string
	for {
		target, err := fetchInfo(ctx, s.Target)
		if err == nil {
			var ok bool
			if ok, why = replication.CaughtUp(target, local); ok {
				break
			}
		} else {
			why = err.Error()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, &StateError{Err: fmt.Errorf("target %s did not reach the master's offset %d within the pause budget %s (switchover.max_pause, --max-pause): %s", s.TargetAddr, local.MasterReplOffset, s.Timeout, why), State: "unchanged (writes unpaused)"}
		}
		time.Sleep(pollEvery)
	}

	cctx, cancel := context.WithTimeout(wctx, 2*time.Second)
	defer cancel()
	if err := s.Target.Do(cctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		// The promotion may have happened even though the reply was lost:
		// put the target back under the master, which it has fully caught
		// up with, so it resyncs partially and nothing is lost.
		state := "unchanged (writes unpaused)"
		if rerr := s.replicaOf(cctx, s.Target, s.LocalAddr); rerr != nil {
			state = fmt.Sprintf("uncertain: the target %s may be a master beside the old one and re-attaching it failed (%v); check both nodes", s.TargetAddr, rerr)
		}
		return 0, &StateError{Err: fmt.Errorf("REPLICAOF NO ONE on target %s: %w", s.TargetAddr, err), State: state}
	}
	if err := s.replicaOf(cctx, s.Local, s.TargetAddr); err != nil {
		state := "unchanged: the target was put back as the master's replica (writes unpaused)"
		if rerr := s.replicaOf(cctx, s.Target, s.LocalAddr); rerr != nil {
			state = fmt.Sprintf("TWO MASTERS: the target %s was promoted, the old master could not be demoted (%v) nor the target re-attached (%v)", s.TargetAddr, err, rerr)
		}
		return 0, &StateError{Err: fmt.Errorf("REPLICAOF %s on %s: %w", s.TargetAddr, s.Local.Options().Addr, err), State: state}
	}
	if err := unpause(); err != nil {
		return 0, &StateError{Err: fmt.Errorf("CLIENT UNPAUSE on %s: %w", s.Local.Options().Addr, err), State: fmt.Sprintf("switched (writes on the old master stay paused at most until the %s pause timeout; they fail as READONLY there anyway)", s.Timeout)}
	}
	return local.MasterReplOffset, nil
}

func (s *RedisSwitch) replicaOf(ctx context.Context, c *redis.Client, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	return c.Do(ctx, "REPLICAOF", host, port).Err()
}
