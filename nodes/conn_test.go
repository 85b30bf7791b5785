package nodes

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/sshtest"
)

// testOpts keep failures quick: loopback answers in milliseconds.
var testOpts = Options{DialTimeout: 3 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

// sshNode is a config node reaching srv with its client key, checking host
// keys against knownHosts, and an ssh_config file with body (never the
// user's own ~/.ssh/config or agent).
func sshNode(t *testing.T, srv *sshtest.Server, knownHosts, sshConfig string) *config.Node {
	t.Helper()
	cfgFile := filepath.Join(t.TempDir(), "ssh_config")
	if sshConfig == "" {
		sshConfig = "Host *\n  IdentityAgent none\n"
	}
	if err := os.WriteFile(cfgFile, []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return &config.Node{
		Name: "a",
		Host: "127.0.0.1",
		SSH: config.SSH{
			Host:          "127.0.0.1",
			Port:          srv.Port,
			User:          srv.User,
			IdentityFiles: []string{srv.ClientKeyFile},
			KnownHosts:    knownHosts,
			ConfigFile:    cfgFile,
		},
	}
}

func knownHostsFor(t *testing.T, srvs ...*sshtest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range srvs {
		s.WriteKnownHosts(path)
	}
	return path
}

func newTestConn(t *testing.T, node *config.Node) *Conn {
	t.Helper()
	c, err := DialNode(node, testOpts)
	if err != nil {
		t.Fatalf("DialNode: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestConnRunAndStream(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	c := newTestConn(t, sshNode(t, srv, knownHostsFor(t, srv), ""))

	out, err := c.Run(ctxFor(t, 5*time.Second), "echo hello")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if string(out) != "hello\n" {
		t.Errorf("Run output = %q, want %q", out, "hello\n")
	}
	if st, err := c.State(); st != ConnConnected || err != nil {
		t.Errorf("State = %s, %v; want connected", st, err)
	}

	_, err = c.Run(ctxFor(t, 5*time.Second), "echo oops >&2; exit 3")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Run of a failing command: err = %v; want exit status 3 with its stderr", err)
	}

	t.Run("stream lines", func(t *testing.T) {
		r, err := c.Stream(ctxFor(t, 5*time.Second), "for i in 1 2 3; do echo line$i; done")
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		if string(b) != "line1\nline2\nline3\n" {
			t.Errorf("stream = %q", b)
		}
	})
	t.Run("stream failure carries stderr", func(t *testing.T) {
		r, err := c.Stream(ctxFor(t, 5*time.Second), "tail -n 1 /nonexistent/file")
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		defer r.Close()
		_, err = io.ReadAll(r)
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/file") {
			t.Errorf("read of a failing stream: err = %v; want tail's message", err)
		}
	})
	t.Run("cancel ends a stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// A quiet long-running remote command, like `tail -F` on a log
		// nobody writes: it never gets SIGPIPE, only our stop can end it.
		nap := "86400." + itoa(srv.Port)
		r, err := c.Stream(ctx, "echo ready; sleep "+nap)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		br := bufio.NewReader(r)
		if line, err := br.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
			t.Fatalf("first line = %q, %v", line, err)
		}
		cancel()
		// Reading must end (EOF or error) once the session is closed.
		if _, err := io.Copy(io.Discard, br); err != nil {
			t.Logf("read after cancel: %v", err)
		}
		r.Close()
		// The remote command must be gone. ([s] keeps pgrep's own shell
		// from matching.)
		out, err := c.Run(ctxFor(t, 10*time.Second), "for i in $(seq 50); do pgrep -f '[s]leep "+nap+"' >/dev/null || exit 0; sleep 0.1; done; exit 1")
		if err != nil {
			t.Errorf("remote loop still running after cancel: %v %s", err, out)
		}
	})
}

func TestConnUnknownHostRefused(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	c := newTestConn(t, sshNode(t, srv, knownHostsFor(t), ""))

	_, err := c.Run(ctxFor(t, 5*time.Second), "true")
	var he *HostKeyError
	if !errors.As(err, &he) {
		t.Fatalf("Run against an unknown host: err = %v; want a HostKeyError", err)
	}
	if he.Changed {
		t.Errorf("unknown host reported as changed")
	}
	want := ssh.FingerprintSHA256(srv.HostKey)
	for _, s := range []string{want, "ssh-keyscan -p", "unknown"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if st, _ := c.State(); st != ConnHostKeyRefused {
		t.Errorf("State = %s, want %s", st, ConnHostKeyRefused)
	}
	if StateOf(err) != ConnHostKeyRefused {
		t.Errorf("StateOf = %s", StateOf(err))
	}
}

// TestConnUnknownHostAdvice: the advice for an unknown key has the
// operator check the fingerprint shown on the node itself, and appends only
// a scanned key whose fingerprint is that one.
func TestConnUnknownHostAdvice(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	kh := knownHostsFor(t)
	_, err := newTestConn(t, sshNode(t, srv, kh, "")).Run(ctxFor(t, 5*time.Second), "true")
	fp := ssh.FingerprintSHA256(srv.HostKey)
	msg := err.Error()
	verify := strings.Index(msg, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")
	scan := strings.Index(msg, "ssh-keyscan -p "+itoa(srv.Port)+" -t ed25519 127.0.0.1")
	check := strings.Index(msg, "ssh-keygen -lf - | grep -qF '"+fp+"'")
	appendAt := strings.Index(msg, ">> "+kh)
	if verify < 0 || scan < 0 || check < 0 || appendAt < 0 || !(verify < scan && scan < check && check < appendAt) {
		t.Fatalf("advice does not verify the fingerprint before appending the key (verify %d, scan %d, check %d, append %d):\n%s", verify, scan, check, appendAt, msg)
	}

	// The advice works as written: with another fingerprint it appends
	// nothing, with the one shown the node is known and reachable.
	line := msg[scan-len("k=$("):]
	wrong := strings.Replace(line, fp, "SHA256:"+strings.Repeat("A", 43), 1)
	if out, err := exec.Command("sh", "-c", wrong).CombinedOutput(); err == nil {
		t.Errorf("the advice with a wrong fingerprint succeeded: %s", out)
	}
	if b, _ := os.ReadFile(kh); len(b) != 0 {
		t.Errorf("the advice with a wrong fingerprint appended %q", b)
	}
	if out, err := exec.Command("sh", "-c", line).CombinedOutput(); err != nil {
		t.Fatalf("the advice failed: %v %s\n%s", err, out, line)
	}
	if _, err := newTestConn(t, sshNode(t, srv, kh, "")).Run(ctxFor(t, 5*time.Second), "true"); err != nil {
		t.Errorf("after following the advice: %v", err)
	}
}

// TestConnRevokedHostKeyRefused: a key known_hosts marks @revoked is named
// revoked, with where, and never comes with advice to add it again.
func TestConnRevokedHostKeyRefused(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte("# retired\n@revoked "+srv.KnownHostsLine()), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newTestConn(t, sshNode(t, srv, kh, ""))
	_, err := c.Run(ctxFor(t, 5*time.Second), "true")
	var he *HostKeyError
	if !errors.As(err, &he) || !he.Revoked || he.Changed {
		t.Fatalf("a revoked host key: err = %v; want a revoked-key HostKeyError", err)
	}
	for _, s := range []string{"REVOKED", ssh.FingerprintSHA256(srv.HostKey), kh + ":2"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	for _, s := range []string{"unknown", "ssh-keyscan", ">>"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q says %q", err, s)
		}
	}
	if st, _ := c.State(); st != ConnHostKeyRefused {
		t.Errorf("State = %s, want %s", st, ConnHostKeyRefused)
	}
}

// TestConnHostKeyAlgorithmMismatch: known_hosts has a key of one type for
// the host and the node offers only another. The client asks only for the
// known type (so the handshake fails in negotiation, before any key is
// seen): that is a host key problem, not an unreachable node.
func TestConnHostKeyAlgorithmMismatch(t *testing.T) {
	t.Parallel()
	rsaKnown := func(t *testing.T, srv *sshtest.Server) string {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		other := sshtest.Start(t)
		other.NewRSAHostKey()
		line := strings.Replace(other.KnownHostsLine(), itoa(other.Port), itoa(srv.Port), 1)
		if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		return kh
	}
	for _, tt := range []struct {
		name          string
		setup         func(t *testing.T, srv *sshtest.Server) string
		known, offers string
		keyType       string
	}{
		{"known ed25519, offers rsa", func(t *testing.T, srv *sshtest.Server) string {
			kh := knownHostsFor(t, srv)
			srv.NewRSAHostKey()
			srv.Restart()
			return kh
		}, "ssh-ed25519", "rsa-sha2-512", "rsa"},
		{"known rsa, offers ed25519", rsaKnown, "rsa-sha2-512", "ssh-ed25519", "ed25519"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := sshtest.Start(t)
			kh := tt.setup(t, srv)
			c := newTestConn(t, sshNode(t, srv, kh, ""))
			_, err := c.Run(ctxFor(t, 5*time.Second), "true")
			var he *HostKeyError
			if !errors.As(err, &he) || len(he.OfferedAlgos) == 0 {
				t.Fatalf("err = %v; want a HostKeyError naming the offered algorithms", err)
			}
			if st := StateOf(err); st != ConnHostKeyRefused {
				t.Errorf("StateOf = %s, want %s", st, ConnHostKeyRefused)
			}
			for _, s := range []string{tt.known, tt.offers, kh, "ssh-keygen -lf /etc/ssh/ssh_host_" + tt.keyType + "_key.pub", "-t " + tt.keyType} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestConnMissingKnownHostsRefused(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	c := newTestConn(t, sshNode(t, srv, filepath.Join(t.TempDir(), "no_such_known_hosts"), ""))
	_, err := c.Run(ctxFor(t, 5*time.Second), "true")
	var he *HostKeyError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(srv.HostKey)) {
		t.Fatalf("err = %v; want a HostKeyError with the offered fingerprint", err)
	}
}

func TestConnChangedHostKeyRefused(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	kh := knownHostsFor(t, srv)
	c := newTestConn(t, sshNode(t, srv, kh, ""))
	if _, err := c.Run(ctxFor(t, 5*time.Second), "true"); err != nil {
		t.Fatalf("Run with the recorded key: %v", err)
	}

	srv.NewHostKey()
	srv.Restart()
	var err error
	// The old connection dies with the restart; the reconnect must refuse.
	for i := 0; i < 50; i++ {
		if _, err = c.Run(ctxFor(t, 5*time.Second), "true"); StateOf(err) == ConnHostKeyRefused {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var he *HostKeyError
	if !errors.As(err, &he) || !he.Changed {
		t.Fatalf("after a host key change: err = %v; want a changed-key HostKeyError", err)
	}
	for _, s := range []string{"CHANGED", ssh.FingerprintSHA256(srv.HostKey), kh + ":1", "ssh-keygen -R"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestConnReconnectsAfterRestart(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	c := newTestConn(t, sshNode(t, srv, knownHostsFor(t, srv), ""))
	if _, err := c.Run(ctxFor(t, 5*time.Second), "true"); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	first, _ := c.Client(ctxFor(t, time.Second))

	srv.Restart()
	var err error
	for i := 0; i < 100; i++ {
		if _, err = c.Run(ctxFor(t, 5*time.Second), "echo back"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no reconnect after sshd restart: %v", err)
	}
	second, _ := c.Client(ctxFor(t, time.Second))
	if first == second {
		t.Errorf("Run succeeded on the old client after a restart")
	}
}

func TestConnUnreachableDoesNotBlock(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: the attempt fails fast, later calls inside
	// the backoff window fail at once with the same cause.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	node := &config.Node{Name: "a", Host: "127.0.0.1", SSH: config.SSH{Host: "127.0.0.1", Port: port, User: "nobody",
		KnownHosts: filepath.Join(t.TempDir(), "kh"), ConfigFile: os.DevNull}}
	c := newTestConn(t, node)
	_, err = c.Run(ctxFor(t, 5*time.Second), "true")
	if StateOf(err) != ConnUnreachable {
		t.Fatalf("err = %v (state %s); want unreachable", err, StateOf(err))
	}
	_, err = c.Run(ctxFor(t, 5*time.Second), "true")
	var re *RetryError
	if !errors.As(err, &re) && StateOf(err) != ConnUnreachable {
		t.Fatalf("second call: %v", err)
	}

	// A server that accepts TCP but never speaks SSH: the caller's context
	// bounds the wait even though the handshake hangs.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	node.SSH.Port = silent.Addr().(*net.TCPAddr).Port
	_, keyPEM := sshtest.NewKey(t, nil)
	keyFile := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	node.SSH.IdentityFiles = []string{keyFile}
	c2 := newTestConn(t, node)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c2.Run(ctx, "true"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run against a silent server: err = %v; want the caller's deadline", err)
	}
}

func TestConnProxyJump(t *testing.T) {
	t.Parallel()
	jump := sshtest.Start(t)
	target := sshtest.Start(t)
	// One key for both hops, as with an agent or a shared IdentityFile.
	jump.Authorize(target.ClientKey.PublicKey())
	kh := knownHostsFor(t, jump, target)
	sshConfig := "Host redis-target\n  HostName 127.0.0.1\n  Port " + itoa(target.Port) +
		"\n  ProxyJump bastion\n\nHost bastion\n  HostName 127.0.0.1\n  Port " + itoa(jump.Port) +
		"\n  IdentityFile " + target.ClientKeyFile + "\n\nHost *\n  IdentityAgent none\n"
	node := sshNode(t, target, kh, sshConfig)
	node.SSH.Host = "redis-target"
	node.SSH.Port = 0 // from ssh_config
	c := newTestConn(t, node)
	if c.Target().Jump == nil || c.Target().Port != target.Port {
		t.Fatalf("target = %v; want port %d via the bastion", c.Target(), target.Port)
	}
	out, err := c.Run(ctxFor(t, 5*time.Second), "echo through")
	if err != nil || string(out) != "through\n" {
		t.Fatalf("Run through ProxyJump: %q, %v", out, err)
	}
	// The connection rides on the bastion: stopping it drops the target.
	jump.Stop()
	for i := 0; i < 100; i++ {
		if st, _ := c.State(); st != ConnConnected {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("connection survived the jump host's death: it did not go through it")
}

func TestConnAuth(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	kh := knownHostsFor(t, srv)
	dir := t.TempDir()
	pass := []byte("correct horse")
	encSigner, encPEM := sshtest.NewKey(t, pass)
	encFile := filepath.Join(dir, "id_encrypted")
	if err := os.WriteFile(encFile, encPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Authorize(encSigner.PublicKey())

	t.Run("encrypted key without agent", func(t *testing.T) {
		node := sshNode(t, srv, kh, "")
		node.SSH.IdentityFiles = []string{encFile}
		_, err := newTestConn(t, node).Run(ctxFor(t, 5*time.Second), "true")
		if StateOf(err) != ConnAuthFailed {
			t.Fatalf("err = %v (state %s); want auth failed", err, StateOf(err))
		}
		for _, s := range []string{encFile, "encrypted", "ssh-add"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
	})
	t.Run("unauthorized key", func(t *testing.T) {
		_, otherPEM := sshtest.NewKey(t, nil)
		other := filepath.Join(t.TempDir(), "id_other")
		if err := os.WriteFile(other, otherPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		node := sshNode(t, srv, kh, "")
		node.SSH.IdentityFiles = []string{other}
		_, err := newTestConn(t, node).Run(ctxFor(t, 5*time.Second), "true")
		if StateOf(err) != ConnAuthFailed || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("err = %v (state %s); want auth failed", err, StateOf(err))
		}
	})
	t.Run("encrypted key through agent", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "agent.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		keyring := agent.NewKeyring()
		raw, err := ssh.ParseRawPrivateKeyWithPassphrase(encPEM, pass)
		if err != nil {
			t.Fatal(err)
		}
		if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
			}
		}()
		node := sshNode(t, srv, kh, "Host *\n  IdentityAgent "+sock+"\n")
		node.SSH.IdentityFiles = []string{encFile}
		if _, err := newTestConn(t, node).Run(ctxFor(t, 5*time.Second), "true"); err != nil {
			t.Fatalf("Run with the key in the agent: %v", err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestConnFrozenNodeDoesNotBlock(t *testing.T) {
	t.Parallel()
	srv := sshtest.Start(t)
	node := sshNode(t, srv, knownHostsFor(t, srv), "")
	c, err := DialNode(node, Options{DialTimeout: 2 * time.Second, KeepaliveInterval: 200 * time.Millisecond, KeepaliveTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Run(ctxFor(t, 5*time.Second), "true"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	srv.Freeze()
	t.Cleanup(srv.Thaw)

	// Every call returns with the caller's deadline, though the node
	// never answers. The bound on the wait only catches a hang.
	calls := map[string]func(ctx context.Context) error{
		"Run": func(ctx context.Context) error { _, err := c.Run(ctx, "true"); return err },
		"Stream": func(ctx context.Context) error {
			r, err := c.Stream(ctx, "true")
			if err == nil {
				r.Close()
			}
			return err
		},
		"DialContext": func(ctx context.Context) error {
			nc, err := c.DialContext(ctx, "tcp", "127.0.0.1:1")
			if err == nil {
				nc.Close()
			}
			return err
		},
	}
	for name, call := range calls {
		res := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			res <- call(ctx)
		}()
		select {
		case err := <-res:
			if err == nil {
				t.Errorf("%s on a frozen node succeeded", name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s on a frozen node ignored its context", name)
		}
	}
	// The keepalive notices the silence and drops the connection.
	for range 100 {
		if st, _ := c.State(); st != ConnConnected {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("connection to a frozen node still counted as connected")
}
