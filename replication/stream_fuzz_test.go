package replication

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// scriptedConn answers whatever is sent with a fixed script: the replies
// and stream a server would send.
type scriptedConn struct{ r *bytes.Reader }

func (c scriptedConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (scriptedConn) Write(p []byte) (int, error)      { return len(p), nil }
func (scriptedConn) Close() error                     { return nil }
func (scriptedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (scriptedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (scriptedConn) SetDeadline(time.Time) error      { return nil }
func (scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadTail: whatever a server sends, ReadTail returns (no panic, no
// hang), and never counts more bytes than it was asked for as clean.
func FuzzReadTail(f *testing.F) {
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), int64(28))
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), int64(29))
	f.Add([]byte("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"), int64(52))
	f.Add([]byte("*99999999999\r\n"), int64(10))
	f.Add([]byte("*1\r\n$-5\r\n"), int64(10))
	f.Add([]byte("*1\r\n$999999999\r\nx"), int64(10))
	f.Fuzz(func(t *testing.T, stream []byte, want int64) {
		if want < 1 || want > 1<<20 {
			return
		}
		script := append([]byte("+OK\r\n+CONTINUE 8c1e5a3b7f2d4e6a9b0c1d2e3f4a5b6c7d8e9f00\r\n"), stream...)
		in := Info{Role: RoleMaster, RunID: "r", ReplID: "8c1e5a3b7f2d4e6a9b0c1d2e3f4a5b6c7d8e9f00", MasterReplOffset: 100 + want - 1,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 200 + want}
		d := Divergence{ReplID: in.ReplID, Fork: 100}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		tail, err := ReadTail(ctx, scriptedConn{bytes.NewReader(script)}, Auth{}, in, d)
		if err == nil && (tail.Bytes != want || tail.Writes > tail.Commands) {
			t.Fatalf("tail %+v accepted for %d bytes", tail, want)
		}
	})
}
