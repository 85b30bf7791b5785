package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/wire"
)

const precious = "precious\n"

// plant makes path a symlink to a file holding precious, or to a missing
// file when dangling, and returns the target.
func plant(t *testing.T, path string, dangling bool) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), "target")
	if !dangling {
		if err := os.WriteFile(target, []byte(precious), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	return target
}

// untouched fails the test when a symlink's target was written, created
// or had its mode changed through the link.
func untouched(t *testing.T, target string, dangling bool) {
	t.Helper()
	fi, err := os.Stat(target)
	if dangling {
		if err == nil {
			t.Errorf("the missing symlink target %s was created through the link", target)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != precious {
		t.Errorf("symlink target %s was written through the link: %q", target, b)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("symlink target %s had its mode changed to %v", target, fi.Mode().Perm())
	}
}

// wantErrNaming fails unless err is an error that names path.
func wantErrNaming(t *testing.T, what string, err error, path string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("%s: error = %v, want one naming %s", what, err, path)
	}
}

// TestHookFilesRefuseSymlinks: the hooks run as root, so a symlink planted
// at any path they write or read must be refused or replaced, never
// followed: the target stays as it was.
func TestHookFilesRefuseSymlinks(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for _, dangling := range []bool{false, true} {
		name := "to a file"
		if dangling {
			name = "dangling"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("drain temp file", func(t *testing.T) {
				track := filepath.Join(t.TempDir(), "drain")
				target := plant(t, track+".tmp", dangling)
				cfg := &config.Config{Keepalived: config.Keepalived{TrackFile: track}}
				if err := Drain(cfg); err != nil {
					t.Fatal(err)
				}
				untouched(t, target, dangling)
				if b, _ := os.ReadFile(track); string(b) != "1\n" {
					t.Errorf("track file = %q after drain", b)
				}
			})
			t.Run("track file", func(t *testing.T) {
				track := filepath.Join(t.TempDir(), "drain")
				target := plant(t, track, dangling)
				cfg := &config.Config{Keepalived: config.Keepalived{TrackFile: track}}
				if err := Undrain(cfg); err != nil {
					t.Fatal(err)
				}
				untouched(t, target, dangling)
				if fi, err := os.Lstat(track); err != nil || !fi.Mode().IsRegular() {
					t.Errorf("track file after undrain: %v, %v; want a regular file", fi, err)
				}
			})
			t.Run("state log", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "redis-state.log")
				target := plant(t, path, dangling)
				l := NewLogger(path)
				l.Syslog = false
				l.Logf(Info, "check", "through the link?")
				l.Close()
				untouched(t, target, dangling)
				wantErrNaming(t, "state log", l.fileErr, path)
			})
			t.Run("hook lock", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "hook.lock")
				target := plant(t, path, dangling)
				l, err := tryLock(path)
				l.Unlock()
				untouched(t, target, dangling)
				wantErrNaming(t, "tryLock", err, path)
			})
			t.Run("switchover lock acquire", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "switchover.lock")
				target := plant(t, path, dangling)
				_, err := switchover.AcquireLock(path, wire.SwitchoverLock{Owner: "x", Expires: now.Add(time.Minute)}, now)
				untouched(t, target, dangling)
				wantErrNaming(t, "switchover.AcquireLock", err, path)
			})
			t.Run("state file", func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "state.json")
				target := plant(t, path, dangling)
				if !dangling {
					// A valid state behind the link must not be believed either.
					if err := os.WriteFile(target, []byte(`{"state":"MASTER"}`), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				_, ok, err := ReadState(path)
				if ok {
					t.Error("ReadState read the state file through a symlink")
				}
				wantErrNaming(t, "ReadState", err, path)
				if !dangling {
					if err := os.WriteFile(target, []byte(precious), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if err := writeState(path, wire.State{State: wire.KABackup}); err != nil {
					t.Fatal(err)
				}
				untouched(t, target, dangling)
			})
		})
	}
	t.Run("switchover lock read", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "switchover.lock")
		target := plant(t, path, true)
		held := `{"owner":"planted","expires":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`
		if err := os.WriteFile(target, []byte(held), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := switchover.ReadLock(path, now)
		if l != nil {
			t.Errorf("ReadSwitchoverLock read %v through a symlink", l)
		}
		wantErrNaming(t, "ReadSwitchoverLock", err, path)
	})
}

// within runs f and fails the test when it has not returned after limit:
// a read that blocks (a FIFO with no writer) must fail the test, not hang it.
func within(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s still blocked after %s", what, limit)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHookReadsAreBounded: whatever sits at a hook file's path, reading it
// neither blocks (a FIFO) nor reads without limit (a huge file).
func TestHookReadsAreBounded(t *testing.T) {
	t.Parallel()
	const limit = 5 * time.Second
	now := time.Now()
	t.Run("fifo state file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "state.json")
		mkfifo(t, path)
		var err error
		within(t, limit, "ReadState of a FIFO", func() { _, _, err = ReadState(path) })
		wantErrNaming(t, "ReadState of a FIFO", err, path)
	})
	t.Run("directory state file", func(t *testing.T) {
		t.Parallel()
		path := t.TempDir()
		_, _, err := ReadState(path)
		wantErrNaming(t, "ReadState of a directory", err, path)
	})
	t.Run("huge state file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 300<<20); err != nil {
			t.Fatal(err)
		}
		_, _, err := ReadState(path)
		wantErrNaming(t, "ReadState of a 300 MB file", err, path)
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("ReadState of a 300 MB file: %v, want it refused for its size", err)
		}
	})
	t.Run("fifo switchover lock", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "switchover.lock")
		mkfifo(t, path)
		var err error
		within(t, limit, "ReadSwitchoverLock of a FIFO", func() { _, err = switchover.ReadLock(path, now) })
		wantErrNaming(t, "ReadSwitchoverLock of a FIFO", err, path)
		within(t, limit, "switchover.AcquireLock of a FIFO", func() {
			_, err = switchover.AcquireLock(path, wire.SwitchoverLock{Owner: "x", Expires: now.Add(time.Minute)}, now)
		})
		wantErrNaming(t, "switchover.AcquireLock of a FIFO", err, path)
	})
	t.Run("huge switchover lock", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "switchover.lock")
		if err := os.WriteFile(path, []byte(strings.Repeat(" ", 1<<20)+"{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := switchover.ReadLock(path, now)
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("ReadSwitchoverLock of a 1 MB file: %v, want it refused for its size", err)
		}
	})
	t.Run("fifo state log", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "redis-state.log")
		mkfifo(t, path)
		l := NewLogger(path)
		l.Syslog = false
		within(t, limit, "logging to a FIFO", func() { l.Logf(Info, "check", "hello") })
		l.Close()
		wantErrNaming(t, "logging to a FIFO", l.fileErr, path)
	})
	t.Run("fifo lock", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "hook.lock")
		mkfifo(t, path)
		var err error
		within(t, limit, "locking a FIFO", func() {
			var l *fileLock
			l, err = tryLock(path)
			l.Unlock()
		})
		wantErrNaming(t, "locking a FIFO", err, path)
	})
}
