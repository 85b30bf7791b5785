package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// setupStubs is a directory of stand-ins for what scripts/setup runs:
// apt-get, service, sudo and go record their arguments in log; id says
// root unless $STUB_UID says otherwise; the programs in have exist. Nothing is installed and nothing leaves the
// machine. aptGet is the body of the apt-get stub after it logs its
// arguments.
func setupStubs(t *testing.T, aptGet string, have ...string) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls.log")
	bash, err := exec.LookPath("bash")
	must(t, err)
	must(t, os.Symlink(bash, filepath.Join(dir, "bash")))
	stub := func(name, body string) {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	stub("id", "echo ${STUB_UID:-0}")
	stub("sudo", `echo "sudo $*" >>`+log+`; exec "$@"`)
	stub("sleep", ":")
	stub("service", `echo "service $*" >>`+log)
	stub("go", `echo "go $*" >>`+log)
	stub("apt-get", `echo "apt-get $*" >>`+log+"\n"+aptGet)
	for _, p := range have {
		stub(p, "exit 0")
	}
	return dir, log
}

// runSetup runs scripts/setup with only the stubs on PATH.
func runSetup(t *testing.T, dir string, env ...string) (string, []string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join("scripts", "setup"))
	cmd.Env = append([]string{"PATH=" + dir, "REDKEEP_SETUP_EXTRA_PATH=" + dir}, env...)
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(filepath.Join(dir, "calls.log"))
	calls := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(b) == 0 {
		calls = nil
	}
	return string(out), calls, err
}

func TestSetupInstallsWhatIsMissing(t *testing.T) {
	dir, _ := setupStubs(t, "exit 0", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "visudo", "stress-ng")
	out, calls, err := runSetup(t, dir)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	update, install := aptCalls(calls, "update"), aptCalls(calls, "install")
	if len(update) != 1 || len(install) != 1 || !strings.HasSuffix(install[0], " redis-server keepalived openssh-server") {
		t.Errorf("apt-get calls: %q", calls)
	}
	// Another apt-get (unattended-upgrades, cloud-init) holding the dpkg
	// lock must make setup wait, not fail at once.
	for _, c := range append(update, install...) {
		if !strings.Contains(c, " -o DPkg::Lock::Timeout=600 ") {
			t.Errorf("%q does not wait for the dpkg lock (-o DPkg::Lock::Timeout=600)", c)
		}
	}
	if calls[len(calls)-1] != "go mod download" {
		t.Errorf("last call %q, want go mod download", calls[len(calls)-1])
	}

	// Not root: through sudo, with the same options.
	dir, _ = setupStubs(t, "exit 0", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "visudo", "stress-ng")
	out, calls, err = runSetup(t, dir, "STUB_UID=1000")
	if err != nil || len(calls) < 2 || !strings.HasPrefix(calls[0], "sudo apt-get -o DPkg::Lock::Timeout=600 ") {
		t.Errorf("as a user: %v, calls %q\n%s", err, calls, out)
	}

	dir, _ = setupStubs(t, "exit 1", "redis-server", "keepalived", "sshd", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "visudo", "stress-ng")
	out, calls, err = runSetup(t, dir)
	if err != nil || len(calls) != 1 || calls[0] != "go mod download" {
		t.Errorf("with everything there: %v, calls %q\n%s", err, calls, out)
	}
}

// aptCalls returns the apt-get calls running verb.
func aptCalls(calls []string, verb string) []string {
	var out []string
	for _, c := range calls {
		f := strings.Fields(c)
		if len(f) > 0 && f[0] == "apt-get" && slices.Contains(f, verb) {
			out = append(out, c)
		}
	}
	return out
}

// lockedUpdate is an apt-get stub whose update fails like apt 2.6's does
// while another apt-get holds the package lists lock (it does not wait for
// that lock, whatever DPkg::Lock::Timeout says), the first n times.
func lockedUpdate(dir string, n int) string {
	count := filepath.Join(dir, "updates")
	return `case " $* " in *" update "*)
  c=0; [ -f ` + count + ` ] && read c < ` + count + `
  c=$((c+1)); echo $c > ` + count + `
  if [ $c -le ` + strconv.Itoa(n) + ` ]; then
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
    echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
    exit 100
  fi;;
esac`
}

func TestSetupWaitsForTheListsLock(t *testing.T) {
	dir := t.TempDir()
	stubs, _ := setupStubs(t, lockedUpdate(dir, 3), "sshd", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "visudo", "stress-ng")
	out, calls, err := runSetup(t, stubs)
	if err != nil {
		t.Fatalf("setup with the lists lock busy 3 times: %v\n%s", err, out)
	}
	if u, i := aptCalls(calls, "update"), aptCalls(calls, "install"); len(u) != 4 || len(i) != 1 {
		t.Errorf("apt-get calls: %q", calls)
	}
	if !strings.Contains(out, "waiting") {
		t.Errorf("setup did not say it waits:\n%s", out)
	}

	// Past the deadline it gives up, with apt-get's message.
	dir = t.TempDir()
	stubs, _ = setupStubs(t, lockedUpdate(dir, 1000), "sshd", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "visudo", "stress-ng")
	out, calls, err = runSetup(t, stubs, "REDKEEP_APT_LOCK_TIMEOUT=0")
	if err == nil || len(aptCalls(calls, "install")) != 0 || !strings.Contains(out, "Could not get lock") {
		t.Errorf("setup with the lists lock held for good: %v, calls %q\n%s", err, calls, out)
	}
	for _, c := range aptCalls(calls, "update") {
		if !strings.Contains(c, " -o DPkg::Lock::Timeout=0 ") {
			t.Errorf("%q ignores REDKEEP_APT_LOCK_TIMEOUT", c)
		}
	}
}

// TestSetupUpdateFailure: an update failing for another reason than the
// lock fails setup at once, with apt-get's message.
func TestSetupUpdateFailure(t *testing.T) {
	stubs, _ := setupStubs(t, `case " $* " in *" update "*) echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2; exit 100;; esac`,
		"sshd", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "visudo", "stress-ng")
	out, calls, err := runSetup(t, stubs)
	if err == nil || len(aptCalls(calls, "update")) != 1 || len(aptCalls(calls, "install")) != 0 || !strings.Contains(out, "Failed to fetch") {
		t.Errorf("setup with a failing update: %v, calls %q\n%s", err, calls, out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// promtool (the exporter's tests) comes from Debian's prometheus package,
// installed only where promtool is missing, and the server it starts is
// stopped again.
func TestSetupInstallsPromtool(t *testing.T) {
	dir, _ := setupStubs(t, "exit 0", "redis-server", "keepalived", "sshd", "ssh-keygen", "ip", "tmux", "pgrep", "journalctl", "visudo", "stress-ng")
	out, calls, err := runSetup(t, dir)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	install := aptCalls(calls, "install")
	if len(install) != 1 || !strings.HasSuffix(install[0], " --no-install-recommends prometheus") {
		t.Errorf("apt-get install calls: %q", install)
	}
	if !slices.Contains(calls, "service prometheus stop") {
		t.Errorf("the prometheus service was not stopped: %q", calls)
	}
}

// sudo (visudo) is installed where missing: the lab's nodes give their
// SSH user the node verbs through a sudoers drop-in.
func TestSetupInstallsSudo(t *testing.T) {
	dir, _ := setupStubs(t, "exit 0", "redis-server", "keepalived", "sshd", "ssh-keygen", "ip", "tmux", "pgrep", "promtool", "journalctl", "stress-ng")
	out, calls, err := runSetup(t, dir)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	if install := aptCalls(calls, "install"); len(install) != 1 || !strings.HasSuffix(install[0], " --no-install-recommends sudo") {
		t.Errorf("apt-get install calls: %q", install)
	}
}
