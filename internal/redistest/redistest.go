// Package redistest starts real redis-server processes on loopback for tests.
//
// Every server a test starts is stopped in t.Cleanup, even when the test
// fails, and runs without persistence in its own temporary directory, so a
// Restart comes back empty, like a crashed node whose data is gone.
package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/redkeep/redkeep/internal/testport"
)

// startTimeout bounds how long Start waits for a new server to answer PING.
const startTimeout = 10 * time.Second

// stopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopTimeout = 5 * time.Second

var silence sync.Once

// Option changes how Start runs redis-server.
type Option func(*options)

type options struct {
	password string
	args     []string
	rdb      string
}

// WithRDB starts the server with a copy of the RDB file at path as its data
// set (see SaveRDB); with WithArgs("--key-load-delay", ...) it stays LOADING
// for a while, like a big data set after a restart.
func WithRDB(path string) Option { return func(o *options) { o.rdb = path } }

// WithPassword sets requirepass (and masterauth, so replicas of servers with
// the same password authenticate).
func WithPassword(p string) Option { return func(o *options) { o.password = p } }

// WithArgs appends raw redis-server arguments, e.g. "--repl-backlog-size", "64kb".
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// Server is one redis-server process on 127.0.0.1.
type Server struct {
	t    testing.TB
	bin  string
	opts options
	port int
	dir  string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	runs    int
	runArgs []string // extra arguments of the current run (Restart)
	client  *redis.Client
}

// Start runs a redis-server on a free loopback port and waits until it
// answers PING. It skips the test when redis-server is not installed.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server); skipping a test that needs a real Redis")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	for _, o := range opts {
		o(&s.opts)
	}
	t.Cleanup(s.cleanup)
	// go-redis logs every refused dial; tests stop servers on purpose.
	silence.Do(func() { redis.SetLogger(&logging.VoidLogger{}) })

	// A free port found by binding :0 can be taken by someone else before
	// redis-server binds it; try a few ports before giving up.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := testport.Pick()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// start launches redis-server in a fresh directory on s.port and waits for PING.
func (s *Server) start() error {
	s.mu.Lock()
	s.runs++
	dir := filepath.Join(s.dir, "run"+strconv.Itoa(s.runs))
	s.mu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if s.opts.rdb != "" && s.runs == 1 {
		data, err := os.ReadFile(s.opts.rdb)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), data, 0o644); err != nil {
			return err
		}
	}
	logFile := filepath.Join(dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", logFile,
		// A master would otherwise wait up to 10 s for lagging replicas on SIGTERM.
		"--shutdown-timeout", "0",
		// A master would otherwise wait 5 s for more replicas before a full sync.
		"--repl-diskless-sync-delay", "0",
	}
	if p := s.opts.password; p != "" {
		args = append(args, "--requirepass", p, "--masterauth", p)
	}
	args = append(args, s.opts.args...)
	s.mu.Lock()
	args = append(args, s.runArgs...)
	s.mu.Unlock()
	cmd := exec.Command(s.bin, args...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	c := redis.NewClient(s.clientOptions())
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		// A server loading its data set is up; it answers LOADING.
		if err == nil || strings.HasPrefix(err.Error(), "LOADING") {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server on port %d exited: %s %s", s.port, strings.TrimSpace(stderr.String()), tail(logFile))
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d did not answer PING within %s: %v %s", s.port, startTimeout, err, tail(logFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last lines of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\nlog " + path + ":\n" + strings.Join(lines, "\n")
}

func (s *Server) clientOptions() *redis.Options {
	return &redis.Options{
		Addr:        s.Addr(),
		Password:    s.opts.password,
		DialTimeout: time.Second,
		// One dial attempt per command: the default is five, 100 ms apart.
		DialerRetries: 1,
		ReadTimeout:   2 * time.Second,
		WriteTimeout:  2 * time.Second,
		MaxRetries:    -1,
		PoolSize:      4,
		// Without it go-redis ignores a context deadline shorter than ReadTimeout.
		ContextTimeoutEnabled: true,
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Password is the requirepass the server runs with ("" for none).
func (s *Server) Password() string { return s.opts.password }

// Client returns a go-redis client for the server, shared by the test and
// closed in t.Cleanup. It survives Restart (same port).
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(s.clientOptions())
	}
	return s.client
}

// signal sends sig to the running process, if any.
func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Freeze stops the process with SIGSTOP: it keeps its sockets open but
// answers nothing, like a hung server.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server with SIGCONT.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

// Stop terminates the server: SIGTERM, then SIGKILL if it has not exited
// within a few seconds. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// A frozen process would only act on SIGTERM after SIGCONT.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// kill ends the process at once, for failed starts.
func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart stops the server and starts a new, empty one on the same port: a
// new run_id and replication id, no keys, offset 0.
//
// args are extra redis-server arguments for the new run only, e.g.
// "--rename-command", "PSYNC", "" for a master no replica can sync from.
func (s *Server) Restart(args ...string) {
	s.t.Helper()
	s.Stop()
	s.mu.Lock()
	s.runArgs = args
	s.mu.Unlock()
	var err error
	// The port can linger briefly after the old process exits.
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
}

// ReplicaOf makes s a replica of other and waits until the link is up and
// the initial sync is done.
func (s *Server) ReplicaOf(other *Server) {
	s.t.Helper()
	s.ReplicaOfAddr(other.Addr())
}

// ReplicaOfAddr is ReplicaOf for a master at addr (host:port), such as a
// Throttle in front of a server.
func (s *Server) ReplicaOfAddr(addr string) {
	s.t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		s.t.Fatalf("redistest: master address %q: %v", addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := s.Client()
	if err := c.ReplicaOf(ctx, host, port).Err(); err != nil {
		s.t.Fatalf("redistest: REPLICAOF %s %s on %s: %v", host, port, s.Addr(), err)
	}
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") && strings.Contains(info, "master_sync_in_progress:0") {
			return
		}
		if ctx.Err() != nil {
			s.t.Fatalf("redistest: %s did not sync from %s within %s: %v\n%s", s.Addr(), addr, startTimeout, err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cleanup closes the client and stops the server.
func (s *Server) cleanup() {
	s.mu.Lock()
	c := s.client
	s.client = nil
	s.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	s.Stop()
}

// SaveRDB saves the data set (SAVE) and returns the RDB file's path, for
// WithRDB.
func (s *Server) SaveRDB() string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.Client().Save(ctx).Err(); err != nil {
		s.t.Fatalf("redistest: SAVE on %s: %v", s.Addr(), err)
	}
	dir, err := s.Client().ConfigGet(ctx, "dir").Result()
	if err != nil {
		s.t.Fatalf("redistest: CONFIG GET dir on %s: %v", s.Addr(), err)
	}
	return filepath.Join(dir["dir"], "dump.rdb")
}

// ErrNotRunning is reported by PID when the server is stopped.
var ErrNotRunning = errors.New("redis-server is not running")

// PID returns the server's process id.
func (s *Server) PID() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, ErrNotRunning
	}
	return s.cmd.Process.Pid, nil
}
