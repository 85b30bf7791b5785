package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// DialIn returns a dialer whose connections start inside node n's network
// namespace: a client on that node's side of a partition, which reaches
// the node's own Redis while the node's link is down. Each connection is
// made on an OS thread of its own that enters the namespace and is thrown
// away afterwards, so no other goroutine ever runs in it.
func (l *Lab) DialIn(n string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := "/run/netns/" + l.S.Namespace(n)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			// Never unlocked: the thread ends with this goroutine, and its
			// namespace with it.
			runtime.LockOSThread()
			ns, err := os.Open(path)
			if err != nil {
				ch <- result{err: fmt.Errorf("node %s's network namespace: %w", n, err)}
				return
			}
			err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
			ns.Close()
			if err != nil {
				ch <- result{err: fmt.Errorf("enter node %s's network namespace: %w", n, err)}
				return
			}
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		select {
		case r := <-ch:
			return r.c, r.err
		case <-ctx.Done():
			go func() {
				if r := <-ch; r.c != nil {
					r.c.Close()
				}
			}()
			return nil, ctx.Err()
		}
	}
}
