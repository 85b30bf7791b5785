package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/nodes"
)

// fakeConns stands in for the SSH connections: Snapshots returns snaps,
// and every redkeep verb run on a node is recorded and refused.
type fakeConns struct {
	snaps  []nodes.Snapshot
	mu     sync.Mutex
	verbs  []string
	closed bool
}

func (f *fakeConns) Snapshots(context.Context) []nodes.Snapshot { return f.snaps }

func (f *fakeConns) Redkeep(_ context.Context, node string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verbs = append(f.verbs, node+": "+strings.Join(args, " "))
	return nil, errors.New("fake: no node here")
}

func (f *fakeConns) RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error) {
	_, err := f.Redkeep(ctx, node, args...)
	return nil, err
}

func (f *fakeConns) Close() error { f.closed = true; return nil }

// mutating lists the recorded verbs that would change a node (anything but
// reading the switchover lock).
func (f *fakeConns) mutating() []string {
	var out []string
	for _, v := range f.verbs {
		if !strings.HasSuffix(v, "switchover-lock status") {
			out = append(out, v)
		}
	}
	return out
}

// TestRunSwitchoverRefusesWithFakes: with the target's Redis down, the
// preflight refuses (exit 3), prints why, runs nothing on the nodes and
// closes the connections.
func TestRunSwitchoverRefusesWithFakes(t *testing.T) {
	cfg := fakeConfig(t)
	snaps := fakePair()
	snaps[1].Redis = nodes.Redis{Err: "dial tcp: connection refused"}
	conns := &fakeConns{snaps: snaps}
	var out bytes.Buffer
	o := &switchoverOptions{method: "auto", yes: true, in: strings.NewReader(""), out: &out,
		connect: func(*config.Config) (pairConns, error) { return conns, nil }}
	err := runSwitchover(context.Background(), cfg, o)
	if codeOf(err) != exitRefused || !strings.Contains(out.String(), "preflight") {
		t.Fatalf("exit %d (%v), want %d with the preflight printed:\n%s", codeOf(err), err, exitRefused, out.String())
	}
	if m := conns.mutating(); len(m) > 0 {
		t.Errorf("a refused switchover ran %q on the nodes", m)
	}
	if !conns.closed {
		t.Error("the connections were left open")
	}
}

// TestRunSwitchoverUsageWithFakes: bad flags are usage errors found before
// any connection is made.
func TestRunSwitchoverUsageWithFakes(t *testing.T) {
	cfg := fakeConfig(t)
	for _, o := range []*switchoverOptions{{method: "bogus"}, {method: "auto", to: "c"}, {method: "auto", maxLag: -1}} {
		o.connect = func(*config.Config) (pairConns, error) {
			t.Fatal("connected before the flags were checked")
			return nil, nil
		}
		if err := runSwitchover(context.Background(), cfg, o); codeOf(err) != exitUsage {
			t.Errorf("%+v: exit %d (%v), want %d", o, codeOf(err), err, exitUsage)
		}
	}
}

// TestRunResolveRefusesWithFakes: a healthy pair is not split, so resolve
// refuses (exit 3) and touches nothing.
func TestRunResolveRefusesWithFakes(t *testing.T) {
	cfg := fakeConfig(t)
	conns := &fakeConns{snaps: fakePair()}
	var out bytes.Buffer
	o := &resolveOptions{keep: "a", yes: true, timeout: time.Second, in: strings.NewReader(""), out: &out,
		connect: func(*config.Config) (pairConns, error) { return conns, nil }}
	err := runResolve(context.Background(), cfg, o)
	if codeOf(err) != exitRefused || !strings.Contains(out.String(), "split brain") {
		t.Fatalf("exit %d (%v), want %d naming the missing split brain:\n%s", codeOf(err), err, exitRefused, out.String())
	}
	if len(conns.verbs) > 0 {
		t.Errorf("a refused resolve ran %q on the nodes", conns.verbs)
	}
}
