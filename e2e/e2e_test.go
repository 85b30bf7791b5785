package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// redkeepBin is this build of redkeep, built once in TestMain: the tests
// run it as an operator would.
var redkeepBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "redkeep-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	redkeepBin = filepath.Join(dir, "redkeep")
	if out, err := exec.Command("go", "build", "-o", redkeepBin, "github.com/redkeep/redkeep").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build -o %s github.com/redkeep/redkeep: %v\n%s", redkeepBin, err, out)
		return 1
	}
	return m.Run()
}

// The exit codes redkeep documents.
const (
	exitOK          = 0
	exitUnhealthy   = 1
	exitRefused     = 3
	exitMaintenance = 4 // status: healthy, in maintenance
)

// redkeep runs the binary with args and returns its exit code and its
// stdout and stderr together.
func redkeep(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(redkeepBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("run redkeep %v: %v", args, err)
	return 0, ""
}

// statusJSON is what these tests read of `redkeep status --json`.
type statusJSON struct {
	Healthy     bool         `json:"healthy"`
	VIPHolder   string       `json:"vip_holder"`
	Master      string       `json:"master"`
	Reasons     []reasonJSON `json:"reasons"`
	Maintenance struct {
		Active bool     `json:"active"`
		Nodes  []string `json:"nodes"`
	} `json:"maintenance"`
}

type reasonJSON struct {
	Code string `json:"code"`
	Text string `json:"text"`
}
