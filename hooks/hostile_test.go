package hooks_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
)

// TestCheckAnswersWhateverIsAtItsPaths: `hook check` keeps its deadline
// (and its memory) whatever sits at the paths it reads: a FIFO would block
// an open or a read for ever, a 300 MB file would be read whole.
func TestCheckAnswersWhateverIsAtItsPaths(t *testing.T) {
	t.Parallel()
	fifo := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(path, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	huge := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		// Sparse: it costs the test no disk, but a reader 300 MB of zeros.
		if err := os.Truncate(path, 300<<20); err != nil {
			t.Fatal(err)
		}
	}
	const maxRSS = 100 << 20
	for _, tt := range []struct {
		name  string
		file  func(p *testPair) string
		plant func(t *testing.T, path string)
	}{
		{"fifo state file", func(p *testPair) string { return p.stateFile["a"] }, fifo},
		{"fifo check note", func(p *testPair) string { return p.stateFile["a"] + ".check" }, fifo},
		{"fifo state log", func(p *testPair) string { return p.stateLog["a"] }, fifo},
		{"300 MB state file", func(p *testPair) string { return p.stateFile["a"] }, huge},
		{"300 MB check note", func(p *testPair) string { return p.stateFile["a"] + ".check" }, huge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := redistest.Start(t), redistest.Start(t)
			p := newPair(t, a, b, pairOpts{deadline: 300 * time.Millisecond})
			path := tt.file(p)
			tt.plant(t, path)
			r := p.hook(t, "a", "check")
			// newPair's cleanup reads the state log; it must not block on a FIFO.
			_ = os.Remove(path)
			t.Logf("%s: exit %d after %s, max RSS %d MB", tt.name, r.code, r.elapsed.Round(time.Millisecond), r.maxRSS>>20)
			if r.code != 0 {
				t.Errorf("check with a %s: exit %d, want 0 (Redis is healthy)\n%s", tt.name, r.code, r.stderr)
			}
			// Go starts the hook with vfork (CLONE_VM): until its exec the
			// child shares this test process's memory, and the kernel
			// counts that in the child's peak. So the limit is this
			// process's own peak when that is higher: a check reading the
			// 300 MB file would still exceed it by far.
			var self syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
				t.Fatal(err)
			}
			if limit := max(int64(maxRSS), self.Maxrss<<10+8<<20); r.maxRSS > limit {
				t.Errorf("check with a %s used %d MB, want under %d MB (the larger of %d MB and this test process's peak plus 8 MB)", tt.name, r.maxRSS>>20, limit>>20, maxRSS>>20)
			}
		})
	}
	t.Run("fifo track file", func(t *testing.T) {
		t.Parallel()
		a, b := redistest.Start(t), redistest.Start(t)
		p := newPair(t, a, b, pairOpts{})
		fifo(t, filepath.Join(p.dir, "a", "drain"))
		r := p.hook(t, "a", "state", "--json")
		t.Logf("state --json with a FIFO track file: exit %d after %s", r.code, r.elapsed.Round(time.Millisecond))
		if r.code != 0 || !strings.Contains(r.stdout, `"drained": false`) {
			t.Errorf("state --json with a FIFO track file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestRootHooksRefuseFilesOthersCanChange: as root, every hook that acts
// refuses a config or hooks directory that someone other than root could
// change (docs/safety.md rule 11), saying which and why; reading the state
// stays possible, for root and for an unprivileged user.
func TestRootHooksRefuseFilesOthersCanChange(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the hooks only check ownership when they run as root, and only root can make the root-owned files of the good case")
	}
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{})
	dir := filepath.Join(p.dir, "a")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if r := p.notify(t, "a", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify with trusted files: exit %d\n%s", r.code, r.stderr)
	}
	acting := [][]string{
		{"check"},
		{"notify", "INSTANCE", "VI_REDIS", "MASTER", "150"},
		{"master"}, {"backup"}, {"fault"}, {"stop"},
		{"drain"}, {"undrain"},
		{"switchover-lock", "status"},
		{"switchover-run", "--to", "b", "--owner", "x"},
	}
	refused := func(t *testing.T, why string, reason ...string) {
		t.Helper()
		before, _ := os.ReadFile(p.stateFile["a"])
		for _, args := range acting {
			r := p.hook(t, "a", args...)
			if r.code != 3 {
				t.Errorf("%s: hook %q: exit %d, want 3 (refused)\n%s", why, args, r.code, r.stderr)
				continue
			}
			for _, s := range reason {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("%s: hook %q does not say %q:\n%s", why, args, s, r.stderr)
				}
			}
		}
		if after, _ := os.ReadFile(p.stateFile["a"]); string(after) != string(before) {
			t.Errorf("%s: a refused hook changed the state file", why)
		}
		r := p.hook(t, "a", "state", "--json")
		if r.code != 0 || !strings.Contains(r.stdout, `"state": "MASTER"`) {
			t.Errorf("%s: state --json as root: exit %d, want 0 with the state\n%s%s", why, r.code, r.stdout, r.stderr)
		}
	}
	chmod := func(t *testing.T, path string, mode os.FileMode) {
		t.Helper()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	chown := func(t *testing.T, path string, uid int) {
		t.Helper()
		if err := os.Lchown(path, uid, -1); err != nil {
			t.Fatal(err)
		}
	}
	const nobody = 65534

	chmod(t, dir, 0o777)
	refused(t, "world-writable hooks directory", dir, "writable")
	chmod(t, dir, 0o775)
	refused(t, "group-writable hooks directory", dir, "writable")
	chmod(t, dir, 0o755)
	chown(t, dir, nobody)
	refused(t, "hooks directory owned by nobody", dir, "uid 65534")
	chown(t, dir, 0)

	cfg := p.cfg["a"]
	chmod(t, cfg, 0o666)
	refused(t, "world-writable config", cfg, "writable")
	chmod(t, cfg, 0o644)
	chown(t, cfg, nobody)
	refused(t, "config owned by nobody", cfg, "uid 65534")
	// Under sudo the SSH user chose the command line, so even the
	// read-only verbs refuse a config it could have written.
	for _, args := range [][]string{{"state", "--json"}, {"history", "--json"}} {
		argv := append([]string{"hook", args[0], "--config", cfg, "--node", "a"}, args[1:]...)
		cmd := exec.Command(redkeepBin, argv...)
		cmd.Env = append(os.Environ(), "REDKEEP_NODE=", "REDKEEP_CONFIG=", "SUDO_UID=65534", "SUDO_USER=nobody")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "uid 65534") {
			t.Errorf("hook %s under sudo with a config nobody owns: %v, want exit 3 naming the owner\n%s", args[0], err, out)
		}
	}
	chown(t, cfg, 0)

	// A config reached through a symlink that nobody owns (and so could
	// point elsewhere, were its directory theirs).
	real := cfg + ".real"
	if err := os.Rename(cfg, real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, cfg); err != nil {
		t.Fatal(err)
	}
	chown(t, cfg, nobody)
	refused(t, "config symlink owned by nobody", cfg, "uid 65534")
	chown(t, cfg, 0)
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Errorf("check with a root-owned config symlink: exit %d, want 0\n%s", r.code, r.stderr)
	}

	// Not root: an unprivileged user (the console's SSH login) reads the
	// state, even where root would refuse to act.
	chmod(t, dir, 0o777)
	bin := filepath.Join(p.dir, "redkeep")
	data, err := os.ReadFile(redkeepBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := p.dir; d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 && strings.HasPrefix(d, os.TempDir()) {
			chmod(t, d, fi.Mode().Perm()|0o005)
		}
	}
	out, err := exec.Command("runuser", "-u", "nobody", "--", bin, "hook", "state", "--json", "--config", cfg, "--node", "a").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"state": "MASTER"`) {
		t.Errorf("hook state --json as nobody: %v\n%s", err, out)
	}
}
