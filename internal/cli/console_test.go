package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestConsoleNeedsTerminal: without a terminal (a script, a pipe, CI) the
// console refuses with a usage error instead of drawing into a pipe.
func TestConsoleNeedsTerminal(t *testing.T) {
	for _, args := range [][]string{
		{"--config", "../../config.yaml", "console"},
		{"--config", "../../config.yaml"}, // the root command runs the console too
	} {
		var out, errOut bytes.Buffer
		code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut, Terminal: false})
		if code != exitUsage || !strings.Contains(errOut.String(), "needs a terminal") {
			t.Errorf("redkeep %s without a terminal: exit %d, want %d and the reason; stderr:\n%s", strings.Join(args, " "), code, exitUsage, errOut.String())
		}
		if out.Len() != 0 {
			t.Errorf("redkeep %s without a terminal drew %q", strings.Join(args, " "), out.String())
		}
	}
}
