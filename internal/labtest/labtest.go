// Package labtest decides whether a test that needs the lab (root, network
// namespaces, keepalived, redis-server, sshd) can run here.
package labtest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Require skips t unless the lab can run here: root, and requirements (the
// lab's own check for its packages) passing. Under CI ($CI set) it fails
// instead: CI runs as root and installs the packages, so a skip there would
// hide that the end-to-end tests never ran.
func Require(t testing.TB, requirements func() error) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "lab tests need root (network namespaces, keepalived); run as root, as CI does"
	} else if err := requirements(); err != nil {
		why = "lab tests: " + err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why + " ($CI is set: this must run in CI)")
	}
	t.Skip(why)
}

// lockDir holds the lab locks (a variable for the package's own test).
var lockDir = "/run"

// lockWait bounds how long Lock waits for another test run's lab.
const lockWait = 20 * time.Minute

// Lock makes t the only test on this machine with a lab named prefix until
// t ends: it holds an exclusive flock on /run/redkeep-labtest-PREFIX.lock,
// waiting (at most lockWait) while another test process holds it. Labs are
// named by prefix: two `go test` runs at once (two clones, a developer and
// CI) would otherwise take each other's namespaces, and one run's clean-up
// of a lab it could not start removes the other's, which is what broke a
// clean-clone run here while a second run's lab tests started.
func Lock(t testing.TB, prefix string) {
	t.Helper()
	path := filepath.Join(lockDir, "redkeep-labtest-"+prefix+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatalf("lab lock %s: %v", path, err)
	}
	start := time.Now()
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			t.Fatalf("lab lock %s: %v", path, err)
		}
		if !logged {
			t.Logf("waiting for %s: another test run on this machine has a %q lab", path, prefix)
			logged = true
		}
		if time.Since(start) > lockWait {
			f.Close()
			t.Fatalf("lab lock %s: still held by another test run after %s", path, lockWait)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if logged {
		t.Logf("took %s after %s", path, time.Since(start).Round(time.Millisecond))
	}
	// Closing the file releases the lock; registered first, it runs after
	// the clean-ups that remove the lab.
	t.Cleanup(func() { f.Close() })
}
