package hooks

import (
	"errors"
	"fmt"
	"time"

	"github.com/redkeep/redkeep/config"
)

// Lock operations of `redkeep hook switchover-lock`.
const (
	LockAcquire = "acquire"
	LockRelease = "release"
	LockStatus  = "status"
)

// LockRequest is one `redkeep hook switchover-lock` call from a console.
type LockRequest struct {
	Op    string
	Owner string
	From  string
	To    string
	PID   int
	TTL   time.Duration
}

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

// HandleLock runs one switchover-lock operation on node self.
func HandleLock(cfg *config.Config, self string, req LockRequest, now time.Time) LockReply {
	path := SwitchoverLockPath(cfg)
	reply := LockReply{Node: self}
	switch req.Op {
	case LockAcquire:
		if req.TTL <= 0 {
			reply.Error = "--ttl must be positive"
			return reply
		}
		want := SwitchoverLock{Owner: req.Owner, From: req.From, To: req.To, PID: req.PID, Acquired: now, Expires: now.Add(req.TTL)}
		held, err := AcquireSwitchoverLock(path, want, now)
		switch {
		case errors.Is(err, ErrSwitchoverLocked):
			reply.Held = held
		case err != nil:
			reply.Error = err.Error()
		default:
			reply.OK, reply.Held = true, &want
		}
	case LockRelease:
		if err := ReleaseSwitchoverLock(path, req.Owner); err != nil {
			reply.Error = err.Error()
		} else {
			reply.OK = true
		}
	case LockStatus:
		l, err := ReadSwitchoverLock(path, now)
		if err != nil {
			reply.Error = err.Error()
		} else {
			reply.OK, reply.Held = true, l
		}
	default:
		reply.Error = fmt.Sprintf("unknown lock operation %q (acquire, release, status)", req.Op)
	}
	return reply
}
