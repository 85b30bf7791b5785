package nodes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/shell"
)

// Options tune the SSH transport. Zero values take the defaults.
type Options struct {
	// DialTimeout bounds one connection attempt: TCP connect plus the SSH
	// handshake, for each hop. Default 5s.
	DialTimeout time.Duration
	// KeepaliveInterval is how often an idle connection is checked with an
	// OpenSSH keepalive request. Default 5s.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout is how long a keepalive may go unanswered before the
	// connection is declared dead and closed. Default 3s.
	KeepaliveTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed connection
	// attempts; it doubles per failure. Defaults 250ms and 10s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.KeepaliveInterval <= 0 {
		o.KeepaliveInterval = 5 * time.Second
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = 3 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 10 * time.Second
	}
	return o
}

// Conn is the console's SSH connection to one node. It connects lazily,
// checks liveness with keepalives, and reconnects with backoff after a
// failure. It is safe for concurrent use; no method blocks longer than its
// context allows, so a dead or slow node never holds up its caller.
type Conn struct {
	target *Target
	opts   Options

	mu      sync.Mutex
	client  *ssh.Client
	state   ConnState
	lastErr error
	nextTry time.Time
	backoff time.Duration
	dialing chan struct{} // non-nil while a dial runs; closed when it ends
	closed  bool

	// answered is when the node last finished a command (unix
	// nanoseconds): a connection polled every few seconds proves itself
	// alive, and its keepalives are skipped (measured on 100 nodes polled
	// every 2 s, they were 8 % of the console's CPU).
	answered atomic.Int64
}

// ErrClosed is returned by a Conn after Close.
var ErrClosed = errors.New("connection closed")

// NewConn returns an unconnected Conn to target; the first call that needs
// the connection dials it.
func NewConn(target *Target, opts Options) *Conn {
	return &Conn{target: target, opts: opts.withDefaults(), state: ConnConnecting}
}

// DialNode resolves node's SSH settings and returns its Conn, not yet
// connected. It fails only on configuration errors.
func DialNode(node *config.Node, opts Options) (*Conn, error) {
	t, err := ResolveTarget(node)
	if err != nil {
		return nil, err
	}
	return NewConn(t, opts), nil
}

// Target is where this Conn connects.
func (c *Conn) Target() *Target { return c.target }

// State reports the connection state and, unless connected, why.
func (c *Conn) State() (ConnState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return ConnConnected, nil
	}
	return c.state, c.lastErr
}

// Close ends the connection; later calls fail with ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.client != nil {
		err := c.client.Close()
		c.client = nil
		return err
	}
	return nil
}

// Client returns the live SSH client, connecting if needed. While a failed
// node is in its backoff window it returns the last error at once instead
// of dialing again.
func (c *Conn) Client(ctx context.Context) (*ssh.Client, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return nil, ErrClosed
		case c.client != nil:
			cl := c.client
			c.mu.Unlock()
			return cl, nil
		case c.dialing == nil && time.Now().Before(c.nextTry):
			err := &RetryError{Err: c.lastErr, State: c.state, Next: c.nextTry}
			c.mu.Unlock()
			return nil, err
		case c.dialing == nil:
			c.dialing = make(chan struct{})
			// The dial outlives the caller's context on purpose: a short
			// poll timeout must not abort a handshake another caller (or
			// the next poll) will use.
			go c.dial()
		}
		wait := c.dialing
		c.mu.Unlock()
		select {
		case <-wait:
			c.mu.Lock()
			cl, err, st := c.client, c.lastErr, c.state
			c.mu.Unlock()
			if cl != nil {
				return cl, nil
			}
			if err == nil {
				err = ErrClosed
			}
			return nil, &ConnError{State: st, Err: err}
		case <-ctx.Done():
			return nil, fmt.Errorf("ssh %s: %w", c.target, ctx.Err())
		}
	}
}

// dial runs one connection attempt and records its outcome.
func (c *Conn) dial() {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.DialTimeout*time.Duration(1+hops(c.target)))
	defer cancel()
	cl, err := dialTarget(ctx, c.target, c.opts.DialTimeout)

	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.dialing)
	c.dialing = nil
	if err != nil {
		c.lastErr = err
		c.state = classify(err)
		if c.backoff == 0 {
			c.backoff = c.opts.MinBackoff
		} else {
			c.backoff = min(2*c.backoff, c.opts.MaxBackoff)
		}
		c.nextTry = time.Now().Add(c.backoff)
		return
	}
	if c.closed {
		cl.Close()
		return
	}
	c.client, c.state, c.lastErr, c.backoff = cl, ConnConnected, nil, 0
	go c.watch(cl)
}

// watch keeps cl alive with keepalives and forgets it once it dies, so the
// next call reconnects at once.
func (c *Conn) watch(cl *ssh.Client) {
	done := make(chan error, 1)
	go func() { done <- cl.Wait() }()
	tick := time.NewTicker(c.opts.KeepaliveInterval)
	defer tick.Stop()
	var cause error
loop:
	for {
		select {
		case err := <-done:
			cause = err
			break loop
		case <-tick.C:
			if time.Since(time.Unix(0, c.answered.Load())) < c.opts.KeepaliveInterval {
				continue
			}
			if err := keepalive(cl, c.opts.KeepaliveTimeout); err != nil {
				cause = err
				cl.Close()
				<-done
				break loop
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != cl {
		return
	}
	c.client = nil
	c.state = ConnReconnecting
	if cause == nil || errors.Is(cause, io.EOF) {
		cause = errors.New("connection lost")
	}
	c.lastErr = fmt.Errorf("ssh %s: %w", c.target, cause)
	c.nextTry = time.Time{}
}

// keepalive sends one OpenSSH keepalive and waits at most timeout for the
// reply; a silent peer (cable pulled, host frozen) never answers, and TCP
// alone would take minutes to notice.
func keepalive(cl *ssh.Client, timeout time.Duration) error {
	res := make(chan error, 1)
	go func() {
		_, _, err := cl.SendRequest("keepalive@openssh.com", true, nil)
		res <- err
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-res:
		return err
	case <-t.C:
		return fmt.Errorf("keepalive unanswered for %s", timeout)
	}
}

func hops(t *Target) int {
	n := 0
	for j := t.Jump; j != nil; j = j.Jump {
		n++
	}
	return n
}

// dialTarget connects to t, through its jump hosts if any. Every hop is
// checked against known_hosts and bounded by timeout and ctx.
func dialTarget(ctx context.Context, t *Target, timeout time.Duration) (*ssh.Client, error) {
	var raw net.Conn
	var jump *ssh.Client
	if t.Jump != nil {
		j, err := dialTarget(ctx, t.Jump, timeout)
		if err != nil {
			return nil, fmt.Errorf("jump host: %w", err)
		}
		hctx, cancel := context.WithTimeout(ctx, timeout)
		raw, err = j.DialContext(hctx, "tcp", t.Addr())
		cancel()
		if err != nil {
			j.Close()
			return nil, fmt.Errorf("ssh %s: jump host cannot reach %s: %w", t, t.Addr(), err)
		}
		jump = j
	} else {
		d := net.Dialer{Timeout: timeout}
		var err error
		raw, err = d.DialContext(ctx, "tcp", t.Addr())
		if err != nil {
			return nil, fmt.Errorf("ssh %s: %w", t, err)
		}
	}
	cl, err := handshake(ctx, raw, t, timeout)
	if err != nil {
		raw.Close()
		if jump != nil {
			jump.Close()
		}
		return nil, err
	}
	if jump != nil {
		// The jump connection lives exactly as long as the one through it.
		go func() { cl.Wait(); jump.Close() }()
	}
	return cl, nil
}

// handshake runs the SSH handshake over raw within timeout.
func handshake(ctx context.Context, raw net.Conn, t *Target, timeout time.Duration) (*ssh.Client, error) {
	hostKey, algos, khFiles, err := hostKeyCheck(t)
	if err != nil {
		return nil, &ConnError{State: ConnHostKeyRefused, Err: fmt.Errorf("ssh %s: %w", t, err)}
	}
	methods, notes, closeAgent := authMethods(t)
	defer closeAgent()
	if len(methods) == 0 {
		msg := "no usable SSH key: no ssh-agent ($SSH_AUTH_SOCK) and no readable identity file (" + strings.Join(t.IdentityFiles, ", ") + ")"
		if len(notes) > 0 {
			msg = strings.Join(notes, "; ")
		}
		return nil, &ConnError{State: ConnAuthFailed, Err: fmt.Errorf("ssh %s: %s", t, msg)}
	}
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              methods,
		HostKeyCallback:   hostKey,
		HostKeyAlgorithms: algos,
		Timeout:           timeout,
	}

	// The ssh package has no context for the handshake: a deadline on the
	// socket bounds it, and cancelling ctx closes the socket.
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = raw.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(raw, t.Addr(), cfg)
	if err != nil {
		var he *HostKeyError
		if errors.As(err, &he) {
			return nil, &ConnError{State: ConnHostKeyRefused, Err: he}
		}
		// Asked only for the key types known_hosts has for the host, a
		// node offering none of them fails here, before any key is seen.
		var ane *ssh.AlgorithmNegotiationError
		if errors.As(err, &ane) && ane.What == "host key" && len(algos) > 0 {
			return nil, &ConnError{State: ConnHostKeyRefused, Err: &HostKeyError{Addr: t.Addr(), KnownHosts: khFiles,
				KnownAlgos: ane.SupportedAlgorithms, OfferedAlgos: ane.RequestedAlgorithms, Err: err}}
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			msg := fmt.Sprintf("ssh %s: authentication failed as %s", t, t.User)
			if len(notes) > 0 {
				msg += " (" + strings.Join(notes, "; ") + ")"
			}
			return nil, &ConnError{State: ConnAuthFailed, Err: fmt.Errorf("%s: %w", msg, err)}
		}
		return nil, fmt.Errorf("ssh %s: %w", t, err)
	}
	_ = raw.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// ConnError is a failed connection attempt with its classified state.
type ConnError struct {
	State ConnState
	Err   error
}

func (e *ConnError) Error() string { return e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// RetryError is returned while a node is in its reconnect backoff: the last
// attempt's error and when the next attempt may run.
type RetryError struct {
	Err   error
	State ConnState
	Next  time.Time
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (next attempt in %s)", e.Err, time.Until(e.Next).Round(10*time.Millisecond))
}
func (e *RetryError) Unwrap() error { return e.Err }

// classify maps a connection error to the state shown to the operator.
func classify(err error) ConnState {
	var ce *ConnError
	if errors.As(err, &ce) {
		return ce.State
	}
	var he *HostKeyError
	if errors.As(err, &he) {
		return ConnHostKeyRefused
	}
	return ConnUnreachable
}

// StateOf returns the connection state an error from a Conn stands for.
func StateOf(err error) ConnState {
	var re *RetryError
	if errors.As(err, &re) {
		return re.State
	}
	return classify(err)
}

// openSession opens a session channel within ctx. The ssh package's
// NewSession waits for the server's reply without a timeout; a hung server
// is left to the keepalive, and the caller returns when ctx ends.
func openSession(ctx context.Context, cl *ssh.Client) (*ssh.Session, error) {
	type res struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := cl.NewSession()
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.s != nil {
				r.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// startSession starts cmd within ctx. Session.Start waits for the server's
// reply to the exec request without a timeout; on a node that froze after
// opening the channel the caller returns when ctx ends, and the keepalive
// later tears the connection down.
func startSession(ctx context.Context, s *ssh.Session, cmd string) error {
	done := make(chan error, 1)
	go func() { done <- s.Start(cmd) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// maxRunOutput bounds what Run keeps of a command's stdout; the console's
// remote commands print a few kilobytes.
const maxRunOutput = 8 << 20

// Run runs cmd on the node through the shell of the SSH user and returns its
// stdout. A non-zero exit is an error carrying the end of stderr. When ctx
// ends the remote command is sent SIGTERM and the session closed.
func (c *Conn) Run(ctx context.Context, cmd string) ([]byte, error) {
	return c.RunInput(ctx, cmd, nil)
}

// RunInput is Run with in as the command's stdin (nil: none), for
// uploading a file through the command (deploy).
func (c *Conn) RunInput(ctx context.Context, cmd string, in io.Reader) ([]byte, error) {
	cl, err := c.Client(ctx)
	if err != nil {
		return nil, err
	}
	s, err := openSession(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: open session: %w", c.target, err)
	}
	defer s.Close()
	var stdout limitedBuffer
	stdout.max = maxRunOutput
	var stderr tailBuffer
	s.Stdout, s.Stderr = &stdout, &stderr
	if in != nil {
		s.Stdin = in
	}
	if err := startSession(ctx, s, cmd); err != nil {
		return nil, fmt.Errorf("ssh %s: start %s: %w", c.target, quoteCmd(cmd), err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		c.answered.Store(time.Now().UnixNano())
		if err != nil {
			return stdout.Bytes(), commandError(c.target, cmd, err, stderr.String())
		}
		if stdout.over {
			return stdout.Bytes(), fmt.Errorf("ssh %s: %s printed more than %d bytes", c.target, quoteCmd(cmd), maxRunOutput)
		}
		return stdout.Bytes(), nil
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGTERM)
		// The session may still be writing into stdout: return nothing.
		return nil, fmt.Errorf("ssh %s: %s: %w", c.target, quoteCmd(cmd), ctx.Err())
	}
}

func commandError(t *Target, cmd string, err error, stderr string) error {
	stderr = strings.TrimSpace(stderr)
	if stderr != "" {
		return fmt.Errorf("ssh %s: %s: %w: %s", t, quoteCmd(cmd), err, stderr)
	}
	return fmt.Errorf("ssh %s: %s: %w", t, quoteCmd(cmd), err)
}

// quoteCmd names a command in a message: its first line, shortened, so a
// multi-line script does not drown the cause.
func quoteCmd(cmd string) string {
	const max = 60
	short := cmd
	if i := strings.IndexByte(short, '\n'); i >= 0 {
		short = short[:i] + " ..."
	}
	if len(short) > max {
		short = short[:max] + "..."
	}
	return strconv.Quote(short)
}

// Stream starts cmd on the node and returns its stdout as it is written.
// Closing the reader or cancelling ctx ends the remote command and the
// session. When the command exits non-zero, Read returns an error with the
// end of its stderr instead of io.EOF.
func (c *Conn) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	cl, err := c.Client(ctx)
	if err != nil {
		return nil, err
	}
	s, err := openSession(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: open session: %w", c.target, err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ssh %s: %w", c.target, err)
	}
	// stdin stays open for the stream's life: its EOF is the remote
	// command's signal to stop (see streamWrapper).
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("ssh %s: %w", c.target, err)
	}
	pr, pw := io.Pipe()
	st := &stream{s: s, pr: pr, in: in}
	s.Stderr = &st.stderr
	if err := startSession(ctx, s, streamWrapper(cmd)); err != nil {
		s.Close()
		return nil, fmt.Errorf("ssh %s: start %s: %w", c.target, quoteCmd(cmd), err)
	}
	// The copy decouples Read from the channel: a channel only ends when
	// the node confirms, and a dead node never does, so Close must not wait
	// for it.
	go func() {
		_, err := io.Copy(pw, out)
		if err == nil {
			if werr := s.Wait(); werr != nil {
				err = commandError(c.target, cmd, werr, st.stderr.String())
			}
		}
		pw.CloseWithError(err)
	}()
	st.stop = context.AfterFunc(ctx, func() { st.Close() })
	return st, nil
}

// streamWrapper runs cmd in a session of its own (setsid) and kills that
// process group when the session's stdin reaches EOF, which happens when the
// console closes the channel or the connection dies. Without a pty nothing
// else stops a quiet `tail -F` on the node: sshd refuses "signal" requests
// for root logins (no privilege separation after auth), and SIGPIPE only
// comes with the next write, which may be hours away. The command's own
// stdin is /dev/null, as with `ssh -n`.
func streamWrapper(cmd string) string {
	script := `exec 3<&0 </dev/null
setsid sh -c ` + shell.Quote(cmd) + ` 3<&- &
p=$!
{ cat >/dev/null; kill -TERM -$p $p; } <&3 >/dev/null 2>&1 &
exec 3<&-
wait $p`
	return "sh -c " + shell.Quote(script)
}

type stream struct {
	s      *ssh.Session
	pr     *io.PipeReader
	in     io.Closer
	stderr tailBuffer
	stop   func() bool

	once   sync.Once
	closed atomic.Bool
}

func (st *stream) Read(p []byte) (int, error) {
	n, err := st.pr.Read(p)
	if err != nil && st.closed.Load() {
		return n, io.EOF
	}
	return n, err
}

// Close ends the stream without waiting for the node: reads return io.EOF
// at once, and the remote command stops when its stdin closes.
func (st *stream) Close() error {
	st.once.Do(func() {
		st.closed.Store(true)
		if st.stop != nil {
			st.stop()
		}
		st.pr.Close()
		st.in.Close()
		st.s.Close()
	})
	return nil
}

// DialContext opens a TCP connection from the node to addr (a direct-tcpip
// channel), as seen from the node: "127.0.0.1:6379" is the node's own
// loopback. The returned conn supports deadlines, which SSH channels lack.
func (c *Conn) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	cl, err := c.Client(ctx)
	if err != nil {
		return nil, err
	}
	nc, err := cl.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: connect to %s from the node: %w", c.target, addr, err)
	}
	return newDeadlineConn(nc), nil
}

// limitedBuffer keeps the first max bytes written and notes an overflow.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// tailBuffer keeps the last 4 KiB written: enough for an error message.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > tailMax {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
