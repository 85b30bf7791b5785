package hooks_test

import (
	"os"
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
			if r.maxRSS > maxRSS {
				t.Errorf("check with a %s used %d MB, want under %d MB", tt.name, r.maxRSS>>20, maxRSS>>20)
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
