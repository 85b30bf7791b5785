package switchover

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redkeep/redkeep/wire"
)

func TestSwitchoverLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "run", "switchover.lock")
	now := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	mk := func(owner string, ttl time.Duration) wire.SwitchoverLock {
		return wire.SwitchoverLock{Owner: owner, From: "a", To: "b", PID: 42, Acquired: now, Expires: now.Add(ttl)}
	}

	if l, err := ReadLock(path, now); err != nil || l != nil {
		t.Fatalf("no file: ReadLock = %v, %v; want nil, nil", l, err)
	}
	if _, err := AcquireLock(path, mk("one", time.Minute), now); err != nil {
		t.Fatalf("acquire a free lock: %v", err)
	}
	held, err := AcquireLock(path, mk("two", time.Minute), now)
	if !errors.Is(err, ErrLocked) || held == nil || held.Owner != "one" {
		t.Fatalf("acquire a held lock = %v, %v; want ErrLocked naming owner one", held, err)
	}
	if _, err := AcquireLock(path, mk("one", 2*time.Minute), now); err != nil {
		t.Fatalf("the owner extends its lock: %v", err)
	}
	if l, _ := ReadLock(path, now); l == nil || l.Owner != "one" || !l.Expires.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("read after extend = %v", l)
	}
	// Someone else's release does nothing.
	if err := ReleaseLock(path, "two"); err != nil {
		t.Fatal(err)
	}
	if l, _ := ReadLock(path, now); l == nil {
		t.Fatal("a release by a non-owner freed the lock")
	}
	// Expired locks are free to take.
	later := now.Add(3 * time.Minute)
	if l, _ := ReadLock(path, later); l != nil {
		t.Fatalf("expired lock still read as held: %v", l)
	}
	if _, err := AcquireLock(path, wire.SwitchoverLock{Owner: "two", Expires: later.Add(time.Minute)}, later); err != nil {
		t.Fatalf("take an expired lock: %v", err)
	}
	if err := ReleaseLock(path, "two"); err != nil {
		t.Fatal(err)
	}
	if l, err := ReadLock(path, later); err != nil || l != nil {
		t.Fatalf("after release: %v, %v", l, err)
	}

	// Bad input is refused with a message, not a panic or a silent overwrite.
	if _, err := AcquireLock(path, wire.SwitchoverLock{Expires: later.Add(time.Minute)}, later); err == nil {
		t.Error("acquire without an owner succeeded")
	}
	if _, err := AcquireLock(path, wire.SwitchoverLock{Owner: "x", Expires: later}, later); err == nil {
		t.Error("acquire with an expiry in the past succeeded")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireLock(path, mk("three", time.Minute), now); err == nil {
		t.Error("acquire over a foreign file succeeded")
	}
}

// Many concurrent acquirers: exactly one wins.
func TestSwitchoverLockRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "switchover.lock")
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := AcquireLock(path, wire.SwitchoverLock{Owner: string(rune('a' + i)), Expires: now.Add(time.Minute)}, now)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrLocked) {
				t.Errorf("acquire: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d acquirers won, want 1", wins)
	}
}
