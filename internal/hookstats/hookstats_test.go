package hookstats

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAddRead(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "sub", "state.json"))
	c, err := Read(path)
	if err != nil || len(c) != 0 {
		t.Fatalf("missing file: %v, %v; want no counts and no error", c, err)
	}
	for range 3 {
		if err := Add(path, KindCheck, ResultOK); err != nil {
			t.Fatal(err)
		}
	}
	if err := Add(path, KindMaster, ResultRefused); err != nil {
		t.Fatal(err)
	}
	if err := Add(path, KindSwitchover, ResultFailed); err != nil {
		t.Fatal(err)
	}
	c, err = Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[Key]uint64{{KindCheck, ResultOK}: 3, {KindMaster, ResultRefused}: 1, {KindSwitchover, ResultFailed}: 1, {KindCheck, ResultFailed}: 0, {KindStop, ResultOvertaken}: 0}
	for k, v := range want {
		if got, ok := c[k]; !ok || got != v {
			t.Errorf("%v = %d (present %v), want %d", k, got, ok, v)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 || fi.Size() > int64(Size) {
		t.Errorf("counter file mode %v size %d; want 0644 and at most %d bytes", fi.Mode().Perm(), fi.Size(), Size)
	}
}

// Hooks run as separate processes; separate opens of the file contend for
// its flock like they do, so no increment may be lost.
func TestAddConcurrent(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "state.json"))
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if err := Add(path, KindCheck, ResultFailed); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c[Key{KindCheck, ResultFailed}]; got != workers*each {
		t.Fatalf("check failed = %d, want %d", got, workers*each)
	}
}

func TestAddRefuses(t *testing.T) {
	dir := t.TempDir()
	t.Run("unknown counter", func(t *testing.T) {
		for _, kr := range [][2]string{{"bogus", ResultOK}, {KindCheck, ResultRefused}, {KindMaster, "nope"}} {
			if err := Add(filepath.Join(dir, "c1"), kr[0], kr[1]); err == nil {
				t.Errorf("Add(%q, %q) = nil, want an error", kr[0], kr[1])
			}
		}
	})
	t.Run("foreign file", func(t *testing.T) {
		path := filepath.Join(dir, "foreign")
		if err := os.WriteFile(path, []byte("precious data, not counters\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Add(path, KindCheck, ResultOK)
		if err == nil || !strings.Contains(err.Error(), "not a redkeep counter file") {
			t.Fatalf("Add on a foreign file: %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "precious data, not counters\n" {
			t.Fatalf("foreign file changed: %q", b)
		}
		if _, err := Read(path); err == nil {
			t.Fatal("Read of a foreign file: no error")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(dir, "target")
		if err := os.WriteFile(target, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := Add(link, KindCheck, ResultOK); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("Add through a symlink: %v", err)
		}
		if b, _ := os.ReadFile(target); len(b) != 0 {
			t.Fatalf("symlink target written: %q", b)
		}
	})
}

// A process holding the lock (a stuck hook, or anyone who can open the
// file) costs a hook at most maxLockWait, and the count is given up.
func TestAddGivesUpOnHeldLock(t *testing.T) {
	path := Path(filepath.Join(t.TempDir(), "state.json"))
	if err := Add(path, KindCheck, ResultOK); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = Add(path, KindCheck, ResultOK)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Add under a held lock: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < maxLockWait {
		t.Fatalf("gave up after %s, before maxLockWait %s", d, maxLockWait)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := Add(path, KindCheck, ResultOK); err != nil {
		t.Fatal(err)
	}
	c, _ := Read(path)
	if got := c[Key{KindCheck, ResultOK}]; got != 2 {
		t.Fatalf("check ok = %d, want 2 (one given up)", got)
	}
}

func TestPathEmpty(t *testing.T) {
	if Path("") != "" {
		t.Fatal(`Path("") must be "" (no state file, no counters)`)
	}
	if err := Add("", KindCheck, ResultOK); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAdd is what counting costs each `redkeep hook check`: open,
// flock, pread, pwrite, close of the counter file.
//
//	go test -run '^$' -bench BenchmarkAdd ./internal/hookstats/
func BenchmarkAdd(b *testing.B) {
	path := Path(filepath.Join(b.TempDir(), "state.json"))
	for b.Loop() {
		if err := Add(path, KindCheck, ResultOK); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead is the exporter's read of the file, once per scrape.
func BenchmarkRead(b *testing.B) {
	path := Path(filepath.Join(b.TempDir(), "state.json"))
	if err := Add(path, KindCheck, ResultOK); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Read(path); err != nil {
			b.Fatal(err)
		}
	}
}
