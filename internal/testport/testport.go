// Package testport picks loopback TCP ports for tests' servers.
package testport

import (
	"net"
	"testing"
)

// Pick returns a loopback port that nothing listened on a moment ago. A
// server started on it may still lose a race for it: callers that start one
// retry with another.
func Pick() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Free is Pick for a test: it fails t when no port can be had. Nothing
// listens on the port it returns, so it also serves as a closed port.
func Free(t testing.TB) int {
	t.Helper()
	p, err := Pick()
	if err != nil {
		t.Fatalf("pick a loopback port: %v", err)
	}
	return p
}
