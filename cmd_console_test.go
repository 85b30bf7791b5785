package main

import (
	"os"
	"strings"
	"testing"
)

// TestConsoleNeedsTerminal: without a terminal (a script, a pipe, CI) the
// console refuses with a usage error instead of drawing into a pipe.
func TestConsoleNeedsTerminal(t *testing.T) {
	// go test may hand a developer's terminal through; make sure it is not one.
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	stdin := os.Stdin
	os.Stdin = null
	t.Cleanup(func() { os.Stdin = stdin })
	for _, args := range [][]string{
		{"--config", "config.yaml", "console"},
		{"--config", "config.yaml"}, // the root command runs the console too
	} {
		if code := run(args); code != exitUsage {
			t.Errorf("redkeep %s without a terminal: exit %d, want %d", strings.Join(args, " "), code, exitUsage)
		}
	}
}
