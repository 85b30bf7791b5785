package nodes

import (
	"net"
	"os"
	"sync"
	"time"
)

// deadlineConn adds deadlines to a connection that lacks them (an SSH
// direct-tcpip channel). go-redis bounds every command with read and write
// deadlines; here a passed deadline closes the channel, so a blocked Read or
// Write returns a timeout. The connection is then unusable, which is fine:
// go-redis discards a connection after a timeout anyway.
type deadlineConn struct {
	net.Conn

	mu       sync.Mutex
	read     time.Time
	write    time.Time
	timedOut bool
}

func newDeadlineConn(c net.Conn) *deadlineConn { return &deadlineConn{Conn: c} }

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.read, c.write = t, t
	c.mu.Unlock()
	return nil
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.read = t
	c.mu.Unlock()
	return nil
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.write = t
	c.mu.Unlock()
	return nil
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	return c.do(true, func() (int, error) { return c.Conn.Read(p) })
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	return c.do(false, func() (int, error) { return c.Conn.Write(p) })
}

func (c *deadlineConn) do(read bool, op func() (int, error)) (int, error) {
	c.mu.Lock()
	d := c.write
	if read {
		d = c.read
	}
	timedOut := c.timedOut
	c.mu.Unlock()
	if timedOut {
		return 0, os.ErrDeadlineExceeded
	}
	if d.IsZero() {
		return op()
	}
	wait := time.Until(d)
	if wait <= 0 {
		return 0, os.ErrDeadlineExceeded
	}
	t := time.AfterFunc(wait, func() {
		c.mu.Lock()
		c.timedOut = true
		c.mu.Unlock()
		c.Conn.Close()
	})
	n, err := op()
	if !t.Stop() {
		c.mu.Lock()
		fired := c.timedOut
		c.mu.Unlock()
		if fired && err != nil {
			return n, os.ErrDeadlineExceeded
		}
	}
	return n, err
}
