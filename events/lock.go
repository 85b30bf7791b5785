package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/internal/nodefile"
)

// errBusy is returned by tryLock when another process holds the lock.
var errBusy = errors.New("lock held by another process")

// lockPoll is how often a bounded wait retries a non-blocking flock.
const lockPoll = 2 * time.Millisecond

// lockWait bounds how long Append waits for another writer: writers hold
// the lock for one write (or a rotation), microseconds. It is short because
// the check records its health changes inside its own deadline.
const lockWait = 200 * time.Millisecond

type fileLock struct{ f *os.File }

func tryLock(path string) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := nodefile.Open(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errBusy
		}
		return nil, fmt.Errorf("lock %s: flock: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// lock takes the lock at path, waiting at most limit.
func lock(path string, limit time.Duration) (*fileLock, error) {
	deadline := time.Now().Add(limit)
	for {
		l, err := tryLock(path)
		if !errors.Is(err, errBusy) {
			return l, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: still held after %s", path, limit)
		}
		time.Sleep(lockPoll)
	}
}

func (l *fileLock) unlock() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
