package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// fakeProc writes a /proc-like tree: pid -> (comm, state, net namespace).
func fakeProc(t *testing.T, selfNS string, procs map[int][3]string) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "self", "ns"), 0o755))
	must(os.Symlink(selfNS, filepath.Join(root, "self", "ns", "net")))
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		must(os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
		must(os.WriteFile(filepath.Join(dir, "comm"), []byte(p[0]+"\n"), 0o644))
		stat := strconv.Itoa(pid) + " (" + p[0] + ") " + p[1] + " 1 1 1"
		must(os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
		must(os.Symlink(p[2], filepath.Join(dir, "ns", "net")))
	}
	return root
}

func TestProcessRunning(t *testing.T) {
	const here, there = "net:[4026531840]", "net:[4026532999]"
	cases := []struct {
		name  string
		procs map[int][3]string
		want  bool
	}{
		{"running here", map[int][3]string{10: {"keepalived", "S", here}}, true},
		{"not running", map[int][3]string{10: {"redis-server", "S", here}}, false},
		{"zombie after SIGKILL", map[int][3]string{10: {"keepalived", "Z", here}}, false},
		{"only in another namespace", map[int][3]string{10: {"keepalived", "S", there}}, false},
		{"zombie here, live elsewhere", map[int][3]string{10: {"keepalived", "Z", here}, 11: {"keepalived", "S", there}}, false},
		{"one of several is live here", map[int][3]string{10: {"keepalived", "Z", here}, 11: {"keepalived", "R", here}}, true},
		{"name is a prefix", map[int][3]string{10: {"keepalived-x", "S", here}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Running(fakeProc(t, here, c.procs), "keepalived"); got != c.want {
				t.Errorf("Running = %v, want %v", got, c.want)
			}
		})
	}
}

// Against the real /proc: a child that exited but is not yet reaped is a
// zombie and must not count as running.
func TestProcessRunningRealZombie(t *testing.T) {
	// A copy of sleep under a name no other process on the machine has.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	name := "rkz" + strconv.Itoa(os.Getpid())
	bin := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !Running("/proc", name) {
		t.Fatal("a live process is not seen as running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Wait, without reaping, until the kernel has made it a zombie.
	stat := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "stat")
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(stat); err == nil && Zombie(b) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if Running("/proc", name) {
		t.Error("a SIGKILLed, unreaped process (a zombie) counts as running")
	}
}

func TestZombie(t *testing.T) {
	for stat, want := range map[string]bool{
		"1 (keepalived) S 0": false,
		"1 (keepalived) Z 0": true,
		"1 (a) b) Z 0":       true,
		"1 (x)":              false,
		"garbage":            false,
	} {
		if got := Zombie([]byte(stat)); got != want {
			t.Errorf("Zombie(%q) = %v, want %v", stat, got, want)
		}
	}
}
