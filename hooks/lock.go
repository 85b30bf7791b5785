package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/internal/nodefile"
)

// lockPoll is how often a waiting hook retries a held lock. flock(2) has
// no timeout, so a bounded wait polls a non-blocking flock.
const lockPoll = 5 * time.Millisecond

// errLockBusy is returned by tryLock when another process holds the lock.
var errLockBusy = errors.New("lock held by another hook")

// fileLock is an exclusive flock on a file. The kernel drops it when the
// process dies, so a killed hook never leaves the node locked.
type fileLock struct {
	f *os.File
}

func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := nodefile.Open(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}

// tryLock takes the lock at path without waiting; errLockBusy if it is held.
func tryLock(path string) (*fileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLockBusy
		}
		return nil, fmt.Errorf("lock %s: flock: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// lockWait takes the lock at path, waiting until ctx is done.
func lockWait(ctx context.Context, path string) (*fileLock, error) {
	for {
		l, err := tryLock(path)
		if !errors.Is(err, errLockBusy) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: still held by another hook: %w", path, context.Cause(ctx))
		case <-time.After(lockPoll):
		}
	}
}

// Unlock releases the lock.
func (l *fileLock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

// stateLockPath guards read-modify-write of the state file (the generation
// counter). It is a different file from the transition lock, which a hook
// holds for its whole plan, so a newer hook can announce itself while an
// older one still runs.
func stateLockPath(lockFile string) string { return lockFile + ".state" }
