// Package labenv starts a lab of a test's own, for tests outside lab/: this
// build of redkeep, its own directory and name prefix, and the first free
// subnet of the caller's candidates, so labs of tests that go test runs in
// parallel (one per package) never collide. The lab is removed when the
// test ends, passed or not.
package labenv

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/internal/labtest"
	"github.com/redkeep/redkeep/lab"
)

// Up skips tb unless the lab can run here (labtest.Require), builds redkeep,
// and starts a healthy lab named by prefix (a few lowercase letters, unique
// per test package) on the first of subnets that the machine does not use.
func Up(tb testing.TB, prefix string, subnets ...string) (*lab.Lab, *lab.Status) {
	tb.Helper()
	return up(tb, prefix, false, nil, subnets)
}

// UpBaseline is Up with the origin document's scripts instead of redkeep's
// hooks (lab up --baseline): a pair that does not run redkeep.
func UpBaseline(tb testing.TB, prefix string, subnets ...string) (*lab.Lab, *lab.Status) {
	tb.Helper()
	return up(tb, prefix, true, nil, subnets)
}

// UpBaselineWith is UpBaseline with the lab's settings changed by edit
// before it starts (which node keeps its logs in the journal, say).
func UpBaselineWith(tb testing.TB, prefix string, edit func(*lab.Settings), subnets ...string) (*lab.Lab, *lab.Status) {
	tb.Helper()
	return up(tb, prefix, true, edit, subnets)
}

func up(tb testing.TB, prefix string, baseline bool, edit func(*lab.Settings), subnets []string) (*lab.Lab, *lab.Status) {
	tb.Helper()
	labtest.Require(tb, lab.Requirements)
	labtest.Lock(tb, prefix)
	bin := filepath.Join(tb.TempDir(), "redkeep")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/redkeep/redkeep").CombinedOutput(); err != nil {
		tb.Fatalf("build redkeep: %v\n%s", err, out)
	}
	s := lab.DefaultSettings()
	s.Dir = fmt.Sprintf("/run/redkeep-%s-%d", prefix, os.Getpid())
	s.Prefix = prefix
	s.Redkeep = bin
	s.Baseline = baseline
	if edit != nil {
		edit(&s)
	}
	ctx := context.Background()
	for _, subnet := range subnets {
		s.Subnet = netip.MustParsePrefix(subnet)
		l, err := lab.New(s)
		if err != nil {
			tb.Fatal(err)
		}
		l.Log = logWriter{tb}
		st, _, err := l.Up(ctx)
		if err == nil {
			tb.Cleanup(func() {
				if tb.Failed() {
					tb.Logf("the lab's syslogs at the failure:%s", l.SyslogTails(syslogLinesOnFailure))
				}
				if err := l.Down(context.Background()); err != nil {
					tb.Errorf("lab down: %v", err)
				}
			})
			return l, st
		}
		// A used subnet is refused before anything exists; anything else
		// may have left parts behind.
		if derr := l.Down(ctx); derr != nil {
			tb.Logf("lab down after a failed up: %v", derr)
		}
		if !errors.Is(err, lab.ErrRefused) {
			tb.Fatalf("lab up on %s: %v", subnet, err)
		}
	}
	tb.Fatalf("no free subnet for the lab among %s", strings.Join(subnets, ", "))
	return nil, nil
}

// syslogLinesOnFailure is how much of each node's syslog a failed test
// shows: enough for the hooks' decisions around the last fault.
const syslogLinesOnFailure = 200

// logWriter sends the lab's progress lines to the test log (shown on failure
// or with -v).
type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
