package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// RestartRedisKeepingData restarts node n's redis-server the way an
// operator upgrading it would (in maintenance mode, so that no failover
// follows): SHUTDOWN SAVE writes the data set to dump.rdb in the node's
// directory, and the new server loads it and serves in the role the old
// one had: a master comes back a master with its data, a replica follows
// the same peer. The lab's own restarts (redis-restart, heal) come back
// empty instead, as its Redis has no persistence. The server stays down
// for hold between the two (the upgrade itself). It returns how long Redis
// was down.
func (l *Lab) RestartRedisKeepingData(ctx context.Context, n string, hold time.Duration) (time.Duration, error) {
	s := &l.S
	pid := s.running(n, procRedis)
	if pid == 0 {
		return 0, fmt.Errorf("node %s: redis-server is not running", n)
	}
	addr := redisAddr(s.NodeAddr(n))
	v := probeRedis(ctx, addr)
	if !v.Up {
		return 0, fmt.Errorf("node %s: redis-server at %s does not answer: %s", n, addr, v.Err)
	}
	replicaOf := ""
	if v.Role == "replica" {
		for _, peer := range NodeNames {
			if s.NodeAddr(peer).String() == v.MasterHost {
				replicaOf = peer
			}
		}
		if replicaOf == "" {
			return 0, fmt.Errorf("node %s: a replica of %s, not of a lab node", n, v.MasterHost)
		}
	}
	c := newRedis(addr)
	defer c.Close()
	start := time.Now()
	// The server closes the connection once it has saved: that is the
	// answer, not an error.
	_ = c.Do(ctx, "SHUTDOWN", "SAVE").Err()
	if err := waitGone(ctx, 10*time.Second, pid); err != nil {
		return 0, fmt.Errorf("node %s: SHUTDOWN SAVE: %w", n, err)
	}
	if _, err := os.Stat(filepath.Join(s.NodeDir(n), "dump.rdb")); err != nil {
		return 0, fmt.Errorf("node %s: SHUTDOWN SAVE left no dump: %w", n, err)
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(hold):
	}
	if err := l.startRedisAs(ctx, n, replicaOf, true); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
