package switchover

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/wire"
)

// ErrLocked is returned when another owner holds the lock.
var ErrLocked = errors.New("another switchover is in progress")

// LockPath is the node's switchover lock file: beside the hooks'
// own lock (hooks.lock_file), so both live on the same tmpfs and vanish on a
// reboot, when no switchover can still be running.
func LockPath(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.Hooks.LockFile), "switchover.lock")
}

// withLockFile opens path (creating it and its directory), holds an
// exclusive flock while fn runs, and hands fn the file. The flock only
// serialises readers and writers of the file; the lock itself is the
// file's content, so it survives the process that wrote it.
func withLockFile(path string, fn func(f *os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("switchover lock %s: %w", path, err)
	}
	f, err := nodefile.Open(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("switchover lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("switchover lock %s: flock: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn(f)
}

func readLock(f *os.File, path string) (*wire.SwitchoverLock, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("switchover lock %s: %w", path, err)
	}
	data, err := nodefile.ReadCapped(f, path)
	if err != nil {
		return nil, fmt.Errorf("switchover lock: %w", err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	var l wire.SwitchoverLock
	if err := json.Unmarshal(data, &l); err != nil {
		// A torn or foreign file must not wedge switchovers forever, but it
		// must not be silently overwritten either: say what it holds.
		return nil, fmt.Errorf("switchover lock %s is not a redkeep lock (%v); remove it if no switchover is running", path, err)
	}
	return &l, nil
}

func writeLock(f *os.File, path string, l *wire.SwitchoverLock) error {
	var data []byte
	if l != nil {
		var err error
		if data, err = json.Marshal(l); err != nil {
			return fmt.Errorf("switchover lock %s: %w", path, err)
		}
		data = append(data, '\n')
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("switchover lock %s: %w", path, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("switchover lock %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("switchover lock %s: %w", path, err)
	}
	return nil
}

// AcquireLock takes the lock at path for want.Owner until
// want.Expires. The same owner may take it again (to extend it). When
// another owner holds an unexpired lock it returns that lock and an error
// wrapping ErrLocked.
func AcquireLock(path string, want wire.SwitchoverLock, now time.Time) (*wire.SwitchoverLock, error) {
	if want.Owner == "" {
		return nil, fmt.Errorf("switchover lock %s: an owner is required", path)
	}
	if !want.Expires.After(now) {
		return nil, fmt.Errorf("switchover lock %s: expiry %s is not in the future", path, want.Expires.Format(time.RFC3339))
	}
	var held *wire.SwitchoverLock
	err := withLockFile(path, func(f *os.File) error {
		cur, err := readLock(f, path)
		if err != nil {
			return err
		}
		if cur.Held(now) && cur.Owner != want.Owner {
			held = cur
			return fmt.Errorf("%w: %s", ErrLocked, cur)
		}
		return writeLock(f, path, &want)
	})
	return held, err
}

// ReleaseLock drops the lock at path if owner holds it. Releasing
// a lock that is free, expired or someone else's does nothing: a console
// that outlived its lock must not free a newer switchover's.
func ReleaseLock(path, owner string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return withLockFile(path, func(f *os.File) error {
		cur, err := readLock(f, path)
		if err != nil || cur == nil || cur.Owner != owner {
			return err
		}
		return writeLock(f, path, nil)
	})
}

// ReadLock returns the lock at path when it is held at now, nil
// when the node has none (no file, empty, or expired).
func ReadLock(path string, now time.Time) (*wire.SwitchoverLock, error) {
	f, err := nodefile.Open(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("switchover lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		return nil, fmt.Errorf("switchover lock %s: flock: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	l, err := readLock(f, path)
	if err != nil || !l.Held(now) {
		return nil, err
	}
	return l, nil
}

// InProgress reports the switchover lock held on this node, or nil.
// The keepalived hooks consult it: while a planned switchover runs, Redis
// roles are the switchover's business (FAILOVER swaps them before the VIP
// moves), and a reconcile that "fixes" a master without the VIP would undo
// it. An unreadable lock counts as held: when unsure, do not touch roles.
func InProgress(cfg *config.Config, now time.Time) (*wire.SwitchoverLock, error) {
	l, err := ReadLock(LockPath(cfg), now)
	if err != nil {
		return &wire.SwitchoverLock{Owner: "unknown", Expires: now.Add(time.Minute)}, err
	}
	return l, nil
}
