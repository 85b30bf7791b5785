// Package cli is redkeep's command line: cobra commands wired to the
// packages that do the work, and the exit codes, decided here and nowhere
// else. Each command reads and writes through the Streams it is given, so
// tests run commands in-process with buffers.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"github.com/redkeep/redkeep/internal/termsafe"
)

// Streams are a command's standard streams, and whether they are a
// terminal (the console needs one for both).
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Terminal reports whether In and Out are both a terminal.
	Terminal bool
}

// StdStreams are the process's own streams.
func StdStreams() Streams {
	return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		Terminal: term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())}
}

// Main runs redkeep with args (without the program name) and returns the
// exit code.
func Main(args []string, s Streams) int {
	root := newRootCmd(s, commandNamed(args))
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code != exitOK && !errors.Is(err, errSilent) {
		printError(s.Err, err)
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
	exitMaintenance = 4 // status: healthy, but a node is in maintenance (no failover)
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
