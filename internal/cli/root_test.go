package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// Main builds only the subcommand its arguments name, so each entry of
// commands must build the command of that name, and the whole tree must
// hold exactly those.
func TestCommandsNamed(t *testing.T) {
	var names []string
	for _, c := range commands() {
		if got := c.build(&globalFlags{}).Name(); got != c.name {
			t.Errorf("commands(): %q builds %q", c.name, got)
		}
		names = append(names, c.name)
		if got := commandNamed([]string{c.name, "--help"}); got != c.name {
			t.Errorf("commandNamed(%q ...) = %q", c.name, got)
		}
	}
	var tree []string
	for _, c := range newRootCmd(Streams{}, "").Commands() {
		if n := c.Name(); n != "help" && n != "completion" {
			tree = append(tree, n)
		}
	}
	slices.Sort(names)
	slices.Sort(tree)
	if !slices.Equal(names, tree) {
		t.Errorf("whole tree %v, commands() %v", tree, names)
	}
	for _, args := range [][]string{nil, {"--config", "x", "status"}, {"help"}, {"statu"}, {"-c", "hook"}} {
		if got := commandNamed(args); got != "" {
			t.Errorf("commandNamed(%q) = %q, want the whole tree", args, got)
		}
	}
}

// A subcommand run from the lazily built tree behaves as from the whole
// one: same output, same exit code.
func TestLazyTreeSameAsWhole(t *testing.T) {
	for _, args := range [][]string{
		{"hook", "check", "--help"},
		{"hook", "check", "--bogus"},
		{"hook", "check", "extra"},
		{"status", "--config", "/nonexistent/redkeep.yaml"},
		{"keepalived-conf", "--help"},
	} {
		run := func(only string) (string, int) {
			var out bytes.Buffer
			root := newRootCmd(Streams{In: strings.NewReader(""), Out: &out, Err: &out}, only)
			root.SetArgs(args)
			err := root.Execute()
			code := exitOK
			if err != nil {
				code = exitCode(err)
				printError(&out, err)
			}
			return out.String(), code
		}
		lazyOut, lazyCode := run(commandNamed(args))
		wholeOut, wholeCode := run("")
		if lazyOut != wholeOut || lazyCode != wholeCode {
			t.Errorf("%q: lazily built tree: exit %d\n%s\nwhole tree: exit %d\n%s", args, lazyCode, lazyOut, wholeCode, wholeOut)
		}
	}
}
