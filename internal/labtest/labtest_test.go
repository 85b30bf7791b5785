package labtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestLockWaitsForAnotherHolder: while another open file holds the lock (as
// another test process would), Lock waits; it returns once that lets go,
// and a second Lock after the first test ends takes it at once.
func TestLockWaitsForAnotherHolder(t *testing.T) {
	lockDir = t.TempDir()
	other, err := os.OpenFile(filepath.Join(lockDir, "redkeep-labtest-rkx.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	const hold = 300 * time.Millisecond
	go func() {
		time.Sleep(hold)
		syscall.Flock(int(other.Fd()), syscall.LOCK_UN)
	}()
	start := time.Now()
	t.Run("waits", func(t *testing.T) { Lock(t, "rkx") })
	if took := time.Since(start); took < hold {
		t.Errorf("Lock returned after %s while another holder had it for %s", took, hold)
	}
	// The subtest ended: its lock is released.
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("the lock is still held after the test that took it ended: %v", err)
	}
}
