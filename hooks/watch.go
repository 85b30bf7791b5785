package hooks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/nodefile"
)

// The watcher (`redkeep hook watch`) closes the gap the check leaves:
// keepalived runs the check once a second at best, so a Redis that dies
// just after a check is noticed up to a second later. The watcher holds
// an idle connection to the local Redis with a read pending on it; when
// the process dies the kernel closes the socket and the read returns at
// once. A fresh connection then confirms it (refused at once for a dead
// process), so one dropped connection (CLIENT KILL, a timeout) is not a
// failover. PINGs every 200 ms catch a hung Redis, no sooner than the
// check would (check.HangTimeout), and again only when a fresh connection
// gets no answer either. A confirmed death writes 1 to
// keepalived.watch.health_file,
// which keepalived.conf tracks with weight 0: keepalived sees it through
// inotify, goes FAULT and sends a priority-0 advert.
//
// The watcher only ever sets the file; the check clears it when Redis
// answers again (ClearHealth). So a watcher that dies, hangs or never
// starts cannot hold the node in FAULT, and cannot hide a failure either:
// the check still runs every second and fails on its own, so detection
// falls back to the check's 1 s interval. The check also starts the
// watcher when none holds its lock (StartWatcher).

// Watcher timings. PINGs on the held connection notice a hung Redis; a
// dead one is noticed by the pending read, not by them.
const (
	watchPingEvery = 200 * time.Millisecond
	// watchRetry paces reconnecting while Redis does not answer.
	watchRetry = 200 * time.Millisecond
	// watchStampEvery paces the check for a changed config or binary.
	watchStampEvery = time.Second
	// watchMaxLine bounds one reply line read from Redis.
	watchMaxLine = 4096
	// watchClientName names the watcher's connection in CLIENT LIST.
	watchClientName = "redkeep-watch"
)

// ErrWatcherRunning is returned by Watch when another watcher holds the
// node's watch lock.
var ErrWatcherRunning = errors.New("a watcher already runs on this node")

// WatchLockPath is the lock a running watcher holds for its whole life:
// at most one per node, and the check starts one when it is free.
func WatchLockPath(cfg *config.Config) string { return cfg.Hooks.LockFile + ".watch" }

// Watch watches the local Redis until ctx is done, or until the config
// file or the redkeep binary changes (a deploy; the next check starts the
// new one), or the config turns the watcher off. It returns
// ErrWatcherRunning at once when another watcher runs.
func Watch(ctx context.Context, cfg *config.Config, self *config.Node, log *Logger) error {
	if !cfg.Keepalived.Watch.On() {
		return fmt.Errorf("keepalived.watch.enabled is false in %s", cfg.Path)
	}
	lock, err := tryLock(WatchLockPath(cfg))
	if errors.Is(err, errLockBusy) {
		return ErrWatcherRunning
	}
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer lock.Unlock()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	w := &watcher{cfg: cfg, self: self, log: log, hang: cfg.Keepalived.Check.HangTimeout(),
		timeout: cfg.Hooks.RedisTimeout, files: []string{cfg.Path, exe}}
	if w.timeout <= 0 {
		w.timeout = config.DefaultRedisTimeout
	}
	w.stamps = stampFiles(w.files)
	w.logf(Info, "watching local Redis %s (PING every %s, hung after %s unanswered); health file %s",
		self.Redis.Addr, watchPingEvery, w.hang, cfg.Keepalived.Watch.HealthFile)
	err = w.run(ctx)
	w.logf(Info, "watcher stops: %v", err)
	if errors.Is(err, context.Canceled) || errors.Is(err, errStampChanged) {
		return nil
	}
	return err
}

// errStampChanged ends a watcher whose config or binary was replaced.
var errStampChanged = errors.New("config or binary changed")

type watcher struct {
	cfg     *config.Config
	self    *config.Node
	log     *Logger
	hang    time.Duration
	timeout time.Duration

	files     []string
	stamps    []string
	lastStamp time.Time
}

func (w *watcher) logf(level Level, format string, args ...any) {
	w.log.Logf(level, "watch", format, args...)
}

// run alternates between holding a connection and waiting for Redis to
// answer again after it went away.
func (w *watcher) run(ctx context.Context) error {
	quiet := true // nothing to say while Redis was never reached
	for {
		c, err := w.waitUp(ctx, quiet)
		if err != nil {
			return err
		}
		quiet = false
		if err := w.hold(ctx, c); err != nil {
			return err
		}
	}
}

// waitUp connects until local Redis answers.
func (w *watcher) waitUp(ctx context.Context, quiet bool) (*redisConn, error) {
	for {
		if err := w.stampCheck(); err != nil {
			return nil, err
		}
		c, err := w.probe(ctx)
		if err == nil {
			if !quiet {
				w.logf(Info, "local Redis %s answers again: watching it", w.self.Redis.Addr)
			}
			return c, nil
		}
		if err := sleepCtx(ctx, watchRetry); err != nil {
			return nil, err
		}
	}
}

// hold watches one connection until Redis is gone or hung (then it has
// written the health file) or the connection alone was dropped (then it
// carries on with a new one).
func (w *watcher) hold(ctx context.Context, c *redisConn) error {
	for {
		next, err := w.holdOne(ctx, c)
		if err != nil || next == nil {
			return err
		}
		c = next
	}
}

// holdOne returns the connection to carry on with, or nil when Redis is
// to be waited for.
func (w *watcher) holdOne(ctx context.Context, c *redisConn) (*redisConn, error) {
	defer c.Close()
	replies := c.readReplies()
	tick := time.NewTicker(watchPingEvery)
	defer tick.Stop()
	var pending time.Time // when the unanswered PING went out
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-replies:
			if err == nil {
				pending = time.Time{}
				continue
			}
			return w.lost(ctx, err)
		case now := <-tick.C:
			if err := w.stampCheck(); err != nil {
				return nil, err
			}
			if pending.IsZero() {
				if err := c.send(w.timeout, "PING"); err != nil {
					return w.lost(ctx, err)
				}
				pending = now
				continue
			}
			if now.Sub(pending) < w.hang {
				continue
			}
			// A starved watcher may only now see a reply that came in time.
			select {
			case err := <-replies:
				if err == nil {
					pending = time.Time{}
					continue
				}
				return w.lost(ctx, err)
			default:
			}
			return w.hung(ctx, now.Sub(pending))
		}
	}
}

// hung handles a PING unanswered for waited on the held connection. A
// new connection confirms it: the watcher itself may have been stopped
// or starved that long while Redis answered.
func (w *watcher) hung(ctx context.Context, waited time.Duration) (*redisConn, error) {
	c, err := w.probe(ctx)
	switch {
	case err == nil:
		w.logf(Warn, "no answer to PING on the held connection for %s, but local Redis %s answers a new one: no failure", waited.Round(time.Millisecond), w.self.Redis.Addr)
		return c, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	w.fail(fmt.Sprintf("local Redis %s is hung: no answer to PING for %s, nor on a new connection (%v)", w.self.Redis.Addr, waited.Round(time.Millisecond), err))
	return nil, nil
}

// lost handles the held connection's end: Redis died, or only this
// connection was dropped. A fresh connection tells them apart.
func (w *watcher) lost(ctx context.Context, cause error) (*redisConn, error) {
	c, err := w.probe(ctx)
	switch {
	case err == nil:
		w.logf(Warn, "connection to local Redis %s ended (%v), but Redis answers on a new one: no failure", w.self.Redis.Addr, cause)
		return c, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case refused(err):
		w.fail(fmt.Sprintf("local Redis %s went away (%v) and a new connection failed: %v", w.self.Redis.Addr, cause, err))
	default:
		// Neither alive nor surely dead (a timeout): the check decides.
		w.logf(Warn, "connection to local Redis %s ended (%v) and a new one got no answer (%v): leaving it to the check", w.self.Redis.Addr, cause, err)
	}
	return nil, nil
}

// refused reports whether err says nothing listens or the server closed
// the connection: what a dead or dying process leaves.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

// fail writes 1 to the health file, unless maintenance is on or the
// watcher's config is gone.
func (w *watcher) fail(why string) {
	w.lastStamp = time.Time{} // look now: a removed config must not be failed for
	if err := w.stampCheck(); err != nil {
		w.logf(Warn, "%s; not failing: %v", why, err)
		return
	}
	if m, active, err := ReadMaintenance(w.cfg, time.Now()); err == nil && active {
		w.logf(Warn, "%s; maintenance is on (by %s): not failing", why, m.By)
		return
	}
	path := w.cfg.Keepalived.Watch.HealthFile
	if err := nodefile.WriteAtomic(path, []byte("1\n")); err != nil {
		w.logf(Error, "%s; writing the health file failed, the check will fail within %s instead: %v", why, w.cfg.Keepalived.Check.Interval, err)
		return
	}
	w.logf(Error, "%s: health file %s = 1 (keepalived FAULT)", why, path)
}

// stampCheck returns errStampChanged once the config or the binary is
// not the file the watcher started from (or is gone), and whenever the
// config turns the watcher off it is changed too. Checked at most once
// a watchStampEvery.
func (w *watcher) stampCheck() error {
	now := time.Now()
	if now.Sub(w.lastStamp) < watchStampEvery {
		return nil
	}
	w.lastStamp = now
	if cur := stampFiles(w.files); !equalStrings(cur, w.stamps) {
		return fmt.Errorf("%w: %s", errStampChanged, strings.Join(w.files, ", "))
	}
	return nil
}

// stampFiles identifies each file by device, inode, size and mtime.
func stampFiles(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			out[i] = "missing"
			continue
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st == nil {
			out[i] = fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
			continue
		}
		out[i] = fmt.Sprintf("%d/%d/%d/%d", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// probe opens a connection to local Redis and has it answer: AUTH when a
// password is configured, CLIENT SETNAME and PING, all within the hooks'
// redis_timeout. Any reply counts as an answer (an error reply too: a
// Redis refusing a command is alive). The connection is left idle.
func (w *watcher) probe(ctx context.Context) (*redisConn, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	d := net.Dialer{}
	nc, err := d.DialContext(ctx, "tcp", w.self.Redis.Addr)
	if err != nil {
		return nil, err
	}
	c := newRedisConn(nc)
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	var cmds [][]string
	pw, err := w.cfg.RedisPassword()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("redis password: %w", err)
	}
	switch {
	case pw != "" && w.cfg.Redis.Username != "":
		cmds = append(cmds, []string{"AUTH", w.cfg.Redis.Username, pw})
	case pw != "":
		cmds = append(cmds, []string{"AUTH", pw})
	}
	cmds = append(cmds, []string{"CLIENT", "SETNAME", watchClientName}, []string{"PING"})
	var buf bytes.Buffer
	for _, cmd := range cmds {
		writeCommand(&buf, cmd...)
	}
	if _, err := nc.Write(buf.Bytes()); err != nil {
		c.Close()
		return nil, err
	}
	for range cmds {
		if _, err := c.readLine(); err != nil {
			c.Close()
			return nil, err
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// redisConn is a raw RESP connection: the watcher needs a read pending on
// an idle connection, which a pooled client does not give.
type redisConn struct {
	c    net.Conn
	r    *bufio.Reader
	done chan struct{}
}

func newRedisConn(nc net.Conn) *redisConn {
	return &redisConn{c: nc, r: bufio.NewReaderSize(nc, watchMaxLine), done: make(chan struct{})}
}

// Close closes the connection and ends its reader (readReplies).
func (c *redisConn) Close() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	_ = c.c.Close()
}

// send writes one command within timeout.
func (c *redisConn) send(timeout time.Duration, args ...string) error {
	var buf bytes.Buffer
	writeCommand(&buf, args...)
	_ = c.c.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.c.Write(buf.Bytes())
	return err
}

// readLine reads one simple-string or error reply ("+PONG", "-ERR ...").
func (c *redisConn) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("a reply line longer than %d bytes: not Redis", watchMaxLine)
	}
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(line), "\r\n")
	if s == "" || (s[0] != '+' && s[0] != '-') {
		return "", fmt.Errorf("unexpected reply %.40q: not Redis", s)
	}
	return s, nil
}

// readReplies reads replies until the connection ends: nil for each, then
// the error that ended it. The goroutine ends with the connection (Close).
func (c *redisConn) readReplies() <-chan error {
	ch := make(chan error)
	go func() {
		for {
			_, err := c.readLine()
			select {
			case ch <- err:
			case <-c.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// writeCommand encodes args as a RESP array of bulk strings.
func writeCommand(b *bytes.Buffer, args ...string) {
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
}

// StartWatcher starts `redkeep hook watch` in a session of its own when
// the watcher is enabled and none holds the watch lock, and does not wait
// for it. The check calls it every run: a watcher that died is back
// within one check interval. exe is the redkeep binary to start.
// It reports whether it started one.
func StartWatcher(cfg *config.Config, self *config.Node, exe string) (bool, error) {
	if !cfg.Keepalived.Watch.On() {
		return false, nil
	}
	lock, err := tryLock(WatchLockPath(cfg))
	if errors.Is(err, errLockBusy) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Released before the watcher takes it: two checks racing here start
	// two watchers, and the second exits at once (ErrWatcherRunning).
	lock.Unlock()
	args := []string{"hook", "watch", "--node", self.Name}
	if cfg.Path != "" {
		args = append(args, "--config", cfg.Path)
	}
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s hook watch: %w", exe, err)
	}
	// Reaped if this process outlives it (tests).
	go func() { _ = cmd.Wait() }()
	return true, nil
}

// ClearHealth is the check's side of the health file: once local Redis
// has answered a PING sent at sentAt, a failure the watcher wrote
// before then is over, and the file goes back to 0. A failure written
// after the PING went out (or within healthClockSlack of it: file times
// come from the kernel's coarse clock) stays for the next check. It
// reports whether it cleared the file.
func ClearHealth(cfg *config.Config, sentAt time.Time) (bool, error) {
	path := cfg.Keepalived.Watch.HealthFile
	f, err := nodefile.Open(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, fmt.Errorf("health file: %w", err)
	}
	data, err := nodefile.ReadCapped(f, path)
	f.Close()
	if err != nil {
		return false, err
	}
	v := string(bytes.TrimSpace(data))
	if v == "" || v == "0" || !fi.ModTime().Before(sentAt.Add(-healthClockSlack)) {
		return false, nil
	}
	if err := nodefile.WriteAtomic(path, []byte("0\n")); err != nil {
		return false, fmt.Errorf("health file: %w", err)
	}
	return true, nil
}

// healthClockSlack covers the coarse clock of file times (a kernel tick,
// at most 10 ms at HZ=100) against time.Now.
const healthClockSlack = 20 * time.Millisecond

// NoteOnce logs msg (a warning) to log unless the note file at path holds
// it already, and keeps it there; an empty msg forgets the note, so the
// next problem is logged again. For messages a hook would otherwise
// repeat every second.
func NoteOnce(log *Logger, path, role, msg string) {
	if msg == "" {
		_ = os.Remove(path)
		return
	}
	if prev, err := nodefile.Read(path); err == nil && string(prev) == msg {
		return
	}
	log.Logf(Warn, role, "%s", msg)
	_ = nodefile.WriteAtomic(path, []byte(msg))
}
