// Package labtest decides whether a test that needs the lab (root, network
// namespaces, keepalived, redis-server, sshd) can run here.
package labtest

import (
	"os"
	"testing"
)

// Require skips t unless the lab can run here: root, and requirements (the
// lab's own check for its packages) passing. Under CI ($CI set) it fails
// instead: CI runs as root and installs the packages, so a skip there would
// hide that the end-to-end tests never ran.
func Require(t testing.TB, requirements func() error) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "lab tests need root (network namespaces, keepalived); run as root, as CI does"
	} else if err := requirements(); err != nil {
		why = "lab tests: " + err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why + " ($CI is set: this must run in CI)")
	}
	t.Skip(why)
}
