package switchover

import (
	"errors"
	"fmt"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/wire"
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

// HandleLock runs one switchover-lock operation on node self.
func HandleLock(cfg *config.Config, self string, req LockRequest, now time.Time) wire.LockReply {
	path := LockPath(cfg)
	reply := wire.LockReply{Node: self}
	switch req.Op {
	case wire.LockAcquire:
		if req.TTL <= 0 {
			reply.Error = "--ttl must be positive"
			return reply
		}
		want := wire.SwitchoverLock{Owner: req.Owner, From: req.From, To: req.To, PID: req.PID, Acquired: now, Expires: now.Add(req.TTL)}
		held, err := AcquireLock(path, want, now)
		switch {
		case errors.Is(err, ErrLocked):
			reply.Held = held
		case err != nil:
			reply.Error = err.Error()
		default:
			reply.OK, reply.Held = true, &want
		}
	case wire.LockRelease:
		if err := ReleaseLock(path, req.Owner); err != nil {
			reply.Error = err.Error()
		} else {
			reply.OK = true
		}
	case wire.LockStatus:
		l, err := ReadLock(path, now)
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
