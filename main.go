// Command redkeep runs a two-node Redis + keepalived pair: the operator console,
// keepalived's hooks on each node, planned switchovers and a lab to try them in.
//
// main only wires cobra commands to the packages and decides exit codes; the
// logic lives in the packages.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"

	"github.com/redkeep/redkeep/internal/termsafe"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code != exitOK && !errors.Is(err, errSilent) {
		printError(os.Stderr, err)
	}
	return code
}

// printError prints a command's error. Errors quote what nodes sent (a
// switchover's refusal quotes INFO fields, a failure the node's stderr),
// so the text is cleaned for the terminal; joined errors keep their lines.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "redkeep:", termsafe.CleanLines(err.Error()))
}

// Exit codes, decided here and nowhere else.
const (
	exitOK          = 0
	exitUnhealthy   = 1 // check failed, pair not healthy, operation failed
	exitUsage       = 2 // bad flags, bad config
	exitRefused     = 3 // an operation refused by its safety checks; nothing changed
	exitInterrupted = 130
)

// codedError carries an exit code chosen by the command that failed.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// errSilent marks an error whose message the command already printed.
var errSilent = errors.New("")

func exitCode(err error) int {
	var ce *codedError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.Is(err, tea.ErrInterrupted):
		return exitInterrupted
	default:
		// cobra's own flag and argument errors, and config errors.
		return exitUsage
	}
}
