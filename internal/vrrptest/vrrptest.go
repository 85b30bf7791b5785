// Package vrrptest runs a stand-in keepalived for tests: a process named
// keepalived, in a network namespace of its own, holding the raw VRRP socket
// keepalived opens. Tests read it as root and as an unprivileged user, who
// cannot read root's /proc/PID/ns/net. It needs root.
//
// A test package that uses it calls Main first thing in its TestMain: the
// stand-in is the test binary itself, run again under the name keepalived.
package vrrptest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const env = "REDKEEP_TEST_HOLD_VRRP_SOCKET"

// Main turns this process into the stand-in when the test started it as
// one: it opens a raw IPPROTO_VRRP socket, says so and holds it until stdin
// closes. Otherwise it returns at once.
func Main() {
	if os.Getenv(env) == "" {
		return
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, 112)
	if err != nil {
		fmt.Fprintln(os.Stderr, "raw VRRP socket:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	syscall.Close(fd)
	os.Exit(0)
}

// Skip skips t unless it runs as root with the util-linux tools the
// commands below use.
func Skip(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it runs a stand-in keepalived in a network namespace of its own and reads it as the user nobody")
	}
	for _, tool := range []string{"nsenter", "unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s (util-linux) is not installed", tool)
		}
	}
}

// Dir makes a directory the user nobody can read and run files from,
// removed when t ends.
func Dir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "redkeep-vrrptest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Copy copies the executable from into dir (see Dir) and returns its path.
func Copy(t *testing.T, from, dir string) string {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(dir, filepath.Base(from))
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return to
}

// Keepalived is a running stand-in.
type Keepalived struct {
	cmd     *exec.Cmd
	stdin   interface{ Close() error }
	stopped bool
}

// Start runs the stand-in from a copy of the test binary in dir, in a new
// network namespace, and waits until its socket is open. It is stopped
// when t ends.
func Start(t *testing.T, dir string) *Keepalived {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "keepalived")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &Keepalived{cmd: cmd, stdin: stdin}
	t.Cleanup(k.Stop)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("the stand-in keepalived did not start: %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stand-in keepalived did not start within 10s")
	}
	return k
}

// Stop ends the stand-in and waits for it; its namespace goes with it.
func (k *Keepalived) Stop() {
	if k.stopped {
		return
	}
	k.stopped = true
	k.stdin.Close()
	_ = k.cmd.Process.Kill()
	_ = k.cmd.Wait()
}

// InItsNamespace prefixes argv to run it in the stand-in's network namespace.
func (k *Keepalived) InItsNamespace(argv ...string) []string {
	return append([]string{"nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", k.cmd.Process.Pid)}, argv...)
}

// InNewNamespace prefixes argv to run it in a new, empty network namespace.
func InNewNamespace(argv ...string) []string {
	return append([]string{"unshare", "--net"}, argv...)
}

// AsNobody prefixes argv to run it as the user nobody (uid and gid 65534,
// no supplementary groups).
func AsNobody(argv ...string) []string {
	return append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
}

// Output runs argv and returns its standard output.
func Output(t *testing.T, argv ...string) []byte {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out, stderr)
	}
	return out
}
