package hooks

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// ResolveRequest is what the console asks of the node whose data set a
// split brain resolution replaces: the histories both masters were on when
// the operator confirmed, so a pair that changed since is refused.
type ResolveRequest struct {
	// Keep is the peer whose data survives.
	Keep string
	// LocalReplID and KeepReplID are both masters' replids at preflight.
	LocalReplID string
	KeepReplID  string
	// Pause bounds how long local writes are paused while the data set is
	// saved and replaced (default 2 minutes).
	Pause time.Duration
}

// peerWait bounds how long resolve waits for both Redis servers to answer.
const peerWait = 10 * time.Second

// maxRDB bounds the saved copy: far above any Redis a pair like this runs.
const maxRDB = 1 << 40

// Resolve ends a split brain on the losing node (docs/safety.md rule 10): under
// the transition lock, with local writes paused, it saves local Redis's
// whole data set as an RDB file beside the hooks' state file, named with
// the time and the replid, then makes local Redis the kept node's replica
// and unpauses. Nothing is lost for good: the file holds every write the
// local side acknowledged. It refuses when the pair is not the split the
// operator confirmed.
func Resolve(ctx context.Context, cfg *config.Config, self *config.Node, log *Logger, req ResolveRequest) (wire.ResolveResult, error) {
	start := time.Now()
	var res wire.ResolveResult
	if req.Keep == self.Name {
		return res, refuse("resolve: this node (%s) is the one to keep; run the step on the other node", self.Name)
	}
	if _, err := cfg.Node(req.Keep); err != nil {
		return res, fmt.Errorf("resolve: --keep: %w", err)
	}
	if req.Pause <= 0 {
		req.Pause = 2 * time.Minute
	}
	r, err := newRunner(cfg, self, log, cfg.Hooks.RedisTimeout)
	if err != nil {
		return res, err
	}
	defer r.Close()
	r.role = "resolve"
	lock, err := lockWait(ctx, cfg.Hooks.LockFile)
	if err != nil {
		return res, fmt.Errorf("resolve: waiting for the transition lock: %w", err)
	}
	defer lock.Unlock()

	// Right after a partition heals the nodes may not reach each other for
	// a few seconds yet (neighbour entries still failed: "no route to
	// host"), while the console already reaches both: wait for that.
	f := r.observe(ctx, "")
	for deadline := time.Now().Add(peerWait); (!f.Local.Up || !f.Peer.Up) && time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(200 * time.Millisecond)
		f = r.observe(ctx, "")
	}
	l, p := f.Local, f.Peer
	switch {
	case !l.Up || !p.Up:
		return res, refuse("resolve: both Redis servers must answer: local %s; peer %s", describe(l), describe(p))
	case l.Info.Role != replication.RoleMaster || p.Info.Role != replication.RoleMaster:
		return res, refuse("resolve: not a split brain any more: local %s; peer %s", describe(l), describe(p))
	case l.Info.ReplID != req.LocalReplID || p.Info.ReplID != req.KeepReplID:
		return res, refuse("resolve: the pair changed since the preflight: local replid %s (confirmed %s), %s's replid %s (confirmed %s)",
			shortID(l.Info.ReplID), shortID(req.LocalReplID), req.Keep, shortID(p.Info.ReplID), shortID(req.KeepReplID))
	}
	r.logf(Warn, "resolve: keeping %s's data (%s); saving ours (%s) before it is replaced", req.Keep, describe(p), describe(l))

	cctx, cancel := r.call(ctx)
	err = r.local.Do(cctx, "CLIENT", "PAUSE", strconv.FormatInt(req.Pause.Milliseconds(), 10), "WRITE").Err()
	cancel()
	if err != nil {
		return res, fmt.Errorf("resolve: CLIENT PAUSE on local Redis: %w", err)
	}
	paused := time.Now()
	defer func() {
		r.unpauseLocal(ctx)
		res.PausedFor = time.Since(paused)
	}()
	// With writes paused the data set is final: read it once more.
	l = r.fetch(ctx, r.local)
	if !l.Up || l.Info.Role != replication.RoleMaster || l.Info.ReplID != req.LocalReplID {
		return res, refuse("resolve: local Redis changed while pausing: %s", describe(l))
	}
	if d, ok := replication.Diverge(l.Info, p.Info); ok && d.TailBytes(l.Info) > 0 {
		res.Tail = r.tailIfForked(ctx, r.self.Redis.Addr, l.Info, p.Info)
	}

	res.RDB, err = r.saveRDB(ctx, l.Info, req.Pause, &res)
	if err != nil {
		return res, fmt.Errorf("resolve: saving local Redis's data set: %w; nothing was changed", err)
	}
	r.logf(Warn, "resolve: our data set (%d keys, replid %s offset %d) is saved in %s (%d bytes)", l.Info.Keys, shortID(res.ReplID), res.Offset, res.RDB, res.Bytes)
	res.Keys = l.Info.Keys

	host, port, err := hostPort(r.peerNode.Redis.PeerAddr)
	if err != nil {
		return res, err
	}
	cctx, cancel = r.call(ctx)
	err = r.local.ReplicaOf(cctx, host, port).Err()
	cancel()
	if err != nil {
		return res, fmt.Errorf("resolve: REPLICAOF %s %s on local Redis: %w (our data set is saved in %s)", host, port, err, res.RDB)
	}
	r.logf(Warn, "resolve: local Redis now replicates from %s at %s; the data set it had is in %s", req.Keep, r.peerNode.Redis.PeerAddr, res.RDB)
	// Keep the transition lock until the full sync is over: until then the
	// check would see a replica of a peer on another history and detach it
	// (rule 2), undoing what the operator chose.
	if err := r.waitResynced(ctx, req.KeepReplID, time.Until(paused.Add(req.Pause))); err != nil {
		return res, fmt.Errorf("resolve: %w (our data set is saved in %s)", err, res.RDB)
	}
	res.Took = time.Since(start)
	return res, nil
}

// waitResynced waits, up to limit, until local Redis has finished its full
// sync from the kept master: a replica with its link up, nothing loading,
// on the master's history keep.
func (r *runner) waitResynced(ctx context.Context, keep string, limit time.Duration) error {
	start := time.Now()
	for {
		l := r.fetch(ctx, r.local)
		in := l.Info
		if l.Up && in.Role == replication.RoleReplica && in.LinkUp && !in.SyncInProgress && !in.Loading && in.ReplID == keep {
			r.logf(Info, "resolve: in sync with the kept master after %s", ms(time.Since(start)))
			return nil
		}
		if time.Since(start) > limit {
			return fmt.Errorf("the full sync from the kept master did not finish within %s: %s", limit.Round(time.Millisecond), describe(l))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the full sync: %w", context.Cause(ctx))
		case <-time.After(pollInterval):
		}
	}
}

// saveRDB copies local Redis's data set, as a replica's full sync receives
// it, into a new file beside the state file: created exclusively, never
// through a link, readable by root alone, synced before it counts.
func (r *runner) saveRDB(ctx context.Context, in replication.Info, limit time.Duration, res *wire.ResolveResult) (string, error) {
	dir := filepath.Dir(r.cfg.Hooks.StateFile)
	name := fmt.Sprintf("resolve-%s-%s-%d.rdb", time.Now().UTC().Format("20060102T150405.000Z"), shortID(in.ReplID), in.Offset())
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(path)
		}
	}()
	dctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", r.self.Redis.Addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	snap, err := replication.DumpRDB(dctx, conn, replication.Auth{Username: r.cfg.Redis.Username, Password: r.password}, f, maxRDB)
	if err != nil {
		return "", err
	}
	if snap.ReplID != in.ReplID {
		return "", fmt.Errorf("the dump is of history %s, not %s", shortID(snap.ReplID), shortID(in.ReplID))
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	ok = true
	res.Bytes, res.ReplID, res.Offset = snap.Bytes, snap.ReplID, snap.Offset
	return path, nil
}
