package wire

import (
	"fmt"
	"time"
)

// SwitchoverLock is the planned-switchover lock of one node. A console takes
// it on both nodes before a switchover, so a second console (or a second
// run of the same one) sees the operation in progress and refuses. It
// expires on its own, so a console that died mid-switchover does not block
// the pair forever.
type SwitchoverLock struct {
	// Owner identifies the switchover, e.g. "alice@laptop:4711:1732581234".
	Owner    string    `json:"owner"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	PID      int       `json:"pid"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// Held reports whether the lock is taken at now.
func (l *SwitchoverLock) Held(now time.Time) bool {
	return l != nil && l.Owner != "" && now.Before(l.Expires)
}

func (l *SwitchoverLock) String() string {
	if l == nil || l.Owner == "" {
		return "none"
	}
	return fmt.Sprintf("switchover %s -> %s by %s (pid %d) until %s", l.From, l.To, l.Owner, l.PID, l.Expires.UTC().Format(time.RFC3339))
}

// Lock operations of `redkeep hook switchover-lock`.
const (
	LockAcquire = "acquire"
	LockRelease = "release"
	LockStatus  = "status"
)

// LockReply is what the verb prints as JSON. A lock held by someone else is
// an answer (OK false, Held set), not an error: the console refuses with it.
type LockReply struct {
	Node string `json:"node"`
	OK   bool   `json:"ok"`
	// Held is the lock now on the node: ours after an acquire, someone
	// else's when OK is false, the current one for status; nil when free.
	Held  *SwitchoverLock `json:"held,omitempty"`
	Error string          `json:"error,omitempty"`
}

// Steps of the node-local switchover, in order. The console shows them as
// they are reported.
const (
	StepCheck   = "check"   // re-check on the node: local master, target its replica in sync
	StepRedis   = "redis"   // swap Redis roles (FAILOVER TO, or pause/promote/demote)
	StepDrain   = "drain"   // make this node's keepalived FAULT so the peer takes the VIP
	StepVIP     = "vip"     // wait until the VIP has left this node and answers from the target
	StepUndrain = "undrain" // clear the drain: this node comes back as BACKUP
	StepVerify  = "verify"  // the VIP answers with the new master; this node replicates from it
)

// Step states.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// SwitchoverStep is one progress report of the node-local switchover,
// printed as a JSON line by `redkeep hook switchover-run`.
type SwitchoverStep struct {
	Step   string    `json:"step"`
	State  string    `json:"state"`
	Detail string    `json:"detail,omitempty"`
	Time   time.Time `json:"time"`
	// PairState is set on the final failed step: how the pair was left.
	PairState string `json:"pair_state,omitempty"`
}

// Switchover methods for the Redis step.
const (
	// MethodAuto is MethodPause: measured on Redis 7.0, FAILOVER keeps
	// writes paused about 0.9 s per switchover (the master only learns the
	// replica's offset from its once-a-second REPLCONF ACK, and sends no
	// GETACK while paused), the pause method about 3 ms (it reads the
	// replica's offset directly). Both lose nothing.
	MethodAuto = "auto"
	// MethodFailover is Redis 6.2's FAILOVER TO host port TIMEOUT ms: the
	// server pauses writes, waits for the replica's exact offset, and swaps
	// the roles itself, aborting (and unpausing) on its own at the timeout.
	MethodFailover = "failover"
	// MethodPause does the same by hand: CLIENT PAUSE WRITE (with a
	// timeout, so a killed process cannot leave writes paused), wait until
	// the replica has applied the master's exact offset, promote the
	// replica, demote the master, CLIENT UNPAUSE.
	MethodPause = "pause"
)
