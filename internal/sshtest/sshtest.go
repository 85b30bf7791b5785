// Package sshtest starts a real OpenSSH sshd on a loopback port for tests,
// with a generated host key and a generated client key authorized for the
// current user. Every server is stopped in t.Cleanup, even when the test fails.
package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/testport"
	"golang.org/x/crypto/ssh"
)

const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
)

// Server is one sshd listening on 127.0.0.1.
type Server struct {
	t   testing.TB
	bin string
	dir string

	// Port is the loopback port sshd listens on; it stays the same across
	// Restart, like a rebooted host.
	Port int
	// User is the account tests log in as: the current user.
	User string
	// HostKey is the host public key sshd currently offers.
	HostKey ssh.PublicKey
	// ClientKeyFile is an unencrypted private key authorized on this server.
	ClientKeyFile string
	// ClientKey is the signer for ClientKeyFile.
	ClientKey ssh.Signer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs sshd on a free loopback port and waits until it sends its
// banner. It skips the test when sshd is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("sshd")
	if err != nil {
		bin = "/usr/sbin/sshd"
		if _, err := os.Stat(bin); err != nil {
			t.Skip("sshd is not installed (apt-get install openssh-server); skipping a test that needs a real sshd")
		}
	}
	// sshd re-executes itself and insists on an absolute path.
	if bin, err = filepath.Abs(bin); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), User: u.Username}
	t.Cleanup(s.Stop)

	s.NewHostKey()
	s.ClientKey, s.ClientKeyFile = s.newKeyFile("client_key")
	s.Authorize(s.ClientKey.PublicKey())
	// sshd refuses to start without its privilege separation directory,
	// which Debian creates only when the service starts.
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
	}

	var lastErr error
	for range 5 {
		s.Port = testport.Free(t)
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("sshtest: start sshd: %v", lastErr)
	return nil
}

// Addr is 127.0.0.1:Port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Dir is the server's private directory (keys, config, logs).
func (s *Server) Dir() string { return s.dir }

// NewHostKey generates a new host key; sshd offers it after the next Restart.
func (s *Server) NewHostKey() {
	s.t.Helper()
	signer, _ := s.newKeyFile("host_key")
	s.HostKey = signer.PublicKey()
}

// NewRSAHostKey replaces the host key with a new RSA one (sshd offers only
// that after the next Restart), for tests of nodes whose key type differs
// from the one known_hosts records.
func (s *Server) NewRSAHostKey() {
	s.t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "host_key"), pem.EncodeToMemory(block), 0o600); err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	s.HostKey = pub
}

// Authorize appends pub to the server's authorized keys.
func (s *Server) Authorize(pub ssh.PublicKey) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(s.dir, "authorized_keys"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(pub)); err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
}

// KnownHostsLine is the known_hosts line for this server's current host key.
func (s *Server) KnownHostsLine() string {
	return fmt.Sprintf("[127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(s.HostKey))
}

// WriteKnownHosts appends KnownHostsLine to the file at path.
func (s *Server) WriteKnownHosts(path string) {
	s.t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(s.KnownHostsLine()); err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
}

// Restart stops sshd (dropping every connection) and starts it again on the
// same port with the current host key.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The port was just released; another process may grab it in between,
	// so retry briefly before failing.
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("sshtest: restart sshd on port %d: %v", s.Port, err)
}

// Freeze stops sshd and every process below it with SIGSTOP: connections
// stay open but nothing answers, like a hung host. Thaw undoes it; Stop
// also works on a frozen server.
func (s *Server) Freeze() { s.signalTree(syscall.SIGSTOP) }

// Thaw resumes a frozen server with SIGCONT.
func (s *Server) Thaw() { s.signalTree(syscall.SIGCONT) }

func (s *Server) signalTree(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(cmd.Process.Pid, sig)
	for _, pid := range descendants(cmd.Process.Pid) {
		_ = syscall.Kill(pid, sig)
	}
}

// CPUTime is the processor time used so far by sshd, its connections and
// the session commands they have reaped (user+system, from /proc): the
// node's side of what a client costs. Processes that already exited are
// included through their parents' cutime/cstime.
func (s *Server) CPUTime() time.Duration {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return 0
	}
	var ticks int64
	for _, pid := range append([]int{cmd.Process.Pid}, descendants(cmd.Process.Pid)...) {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		// Fields after the command name start at field 3 (state):
		// utime, stime, cutime and cstime are fields 14-17.
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond
}

// Stop kills sshd and its session processes; safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// Each connection has its own sshd child in a session of its own, so
	// signalling the listener or its group leaves them (and the clients'
	// connections) alive. Kill the whole tree, as a reboot would.
	kids := descendants(cmd.Process.Pid)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT) // in case it is frozen
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	if s.t.Failed() {
		log, _ := os.ReadFile(s.logFile())
		s.t.Logf("sshd on port %d log:\n%s", s.Port, tail(log, 8<<10))
	}
}

func (s *Server) logFile() string { return filepath.Join(s.dir, "sshd.log") }

// descendants lists the processes below pid, children first found first.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses: the ppid is
		// the second field after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[p] = pp
		}
	}
	var out []int
	want := map[int]bool{pid: true}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if want[pp] && !want[p] {
				want[p] = true
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (s *Server) start() error {
	conf := filepath.Join(s.dir, "sshd_config")
	// SetEnv SHLVL=1 keeps bash from sourcing the test user's ~/.bashrc for
	// every command (bash does that when started by sshd at shell level 1):
	// a slow rc file (pyenv's rehash waits for a lock shared by every
	// concurrent shell) would make every session take seconds, and the
	// tests would measure the machine's dotfiles instead of redkeep.
	body := fmt.Sprintf(`Port %d
SetEnv SHLVL=1
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
UseDNS no
LogLevel VERBOSE
`, s.Port, filepath.Join(s.dir, "host_key"), filepath.Join(s.dir, "authorized_keys"), filepath.Join(s.dir, "sshd.pid"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return err
	}
	// The log is a file, not a pipe: sshd's connection children inherit
	// it, and a pipe would keep cmd.Wait waiting for them.
	logf, err := os.OpenFile(s.logFile(), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "-D", "-e", "-f", conf)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			log, _ := os.ReadFile(s.logFile())
			return fmt.Errorf("sshd exited: %s", strings.TrimSpace(string(tail(log, 2<<10))))
		default:
		}
		if banner(s.Addr()) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return errors.New("sshd did not send its banner within " + startTimeout.String())
}

// banner reports whether an SSH server answers at addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 8)
	n, _ := c.Read(buf)
	return bytes.HasPrefix(buf[:n], []byte("SSH-"))
}

// newKeyFile writes a new unencrypted ed25519 key to dir/name.
func (s *Server) newKeyFile(name string) (ssh.Signer, string) {
	s.t.Helper()
	signer, pemBytes := NewKey(s.t, nil)
	path := filepath.Join(s.dir, name)
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		s.t.Fatalf("sshtest: %v", err)
	}
	return signer, path
}

// NewKey generates an ed25519 key and returns its signer and its OpenSSH
// PEM encoding, encrypted with passphrase when it is not nil.
func NewKey(t testing.TB, passphrase []byte) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	var block *pem.Block
	if passphrase != nil {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", passphrase)
	} else {
		block, err = ssh.MarshalPrivateKey(priv, "")
	}
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return signer, pem.EncodeToMemory(block)
}
