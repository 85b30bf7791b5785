package redistest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a server that forwards at
// most a given number of bytes per second in each direction and per
// connection: a slow replication link, so a replica really lags.
type Proxy struct {
	l      net.Listener
	target string
	rate   int // bytes per second

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// Throttle starts a proxy to target forwarding bytesPerSec per direction;
// it is closed in t.Cleanup.
func Throttle(t testing.TB, target string, bytesPerSec int) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: proxy listen: %v", err)
	}
	p := &Proxy{l: l, target: target, rate: bytesPerSec}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.l.Addr().String() }

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst in small chunks, sleeping so the average stays
// under the rate.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	const chunk = 1024
	buf := make([]byte, chunk)
	start := time.Now()
	var sent int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
			due := start.Add(time.Duration(sent) * time.Second / time.Duration(p.rate))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		if err != nil {
			return // EOF or a closed connection: closing dst passes it on
		}
	}
}

// Close stops the proxy and cuts every connection through it.
func (p *Proxy) Close() {
	_ = p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// Blackhole returns the address of a socket on 127.0.0.1 that accepts TCP
// connections (the kernel completes the handshake) but never reads or
// answers: a peer whose network swallows everything. Closed in t.Cleanup.
func Blackhole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: blackhole listen: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().String()
}
