package actions

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/wire"
)

// refusingNode is a pair whose node-side run refuses at its own check (the
// facts changed after the preflight). It records whether a switchover lock
// was held whenever the console looked at the pair after the run.
type refusingNode struct {
	mu        sync.Mutex
	held      map[string]bool
	ran       bool
	heldAfter []bool
}

func (f *refusingNode) Snapshots(context.Context) []nodes.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ran {
		f.heldAfter = append(f.heldAfter, f.held["a"] || f.held["b"])
	}
	return healthy().Snapshots
}

func (f *refusingNode) Redkeep(_ context.Context, node string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(args) < 3 || args[1] != "switchover-lock" {
		return nil, errors.New("unexpected verb " + strings.Join(args, " "))
	}
	switch args[2] {
	case wire.LockAcquire:
		f.held[node] = true
	case wire.LockRelease:
		f.held[node] = false
	}
	return json.Marshal(wire.LockReply{Node: node, OK: true})
}

func (f *refusingNode) RedkeepStream(_ context.Context, node string, args ...string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = true
	line, _ := json.Marshal(wire.SwitchoverStep{Step: wire.StepCheck, State: wire.StateFailed, Detail: "local Redis is replica, not master", PairState: "unchanged", Time: time.Now()})
	// The node reports its end, then exits 3, which the SSH stream reads
	// as an error after the last line.
	return io.NopCloser(io.MultiReader(strings.NewReader(string(line)+"\n"), errReader{errors.New("Process exited with status 3")})), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestSwitchoverReleasesBeforeConfirming: once the node's run has ended,
// the console lets go of the switchover lock before it looks at the pair.
// The nodes' checks leave a locked pair alone, so a pair the run left
// broken waited out the whole confirmation (16 s without writes in the
// chaos soak) before they could mend it.
func TestSwitchoverReleasesBeforeConfirming(t *testing.T) {
	f := &refusingNode{held: map[string]bool{}}
	_, err := Run(context.Background(), testConfig(t), f, Options{Owner: "me"}, nil)
	// The node exited 3 after reporting its check refused, pair unchanged:
	// a refusal (exit 3), not a failure.
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("Run = %v, want refused by the node's check", err)
	}
	if len(f.heldAfter) == 0 {
		t.Fatal("the console never looked at the pair after the run")
	}
	if f.heldAfter[0] {
		t.Error("the switchover lock was still held when the console confirmed the pair")
	}
	if f.held["a"] || f.held["b"] {
		t.Errorf("locks left held: %v", f.held)
	}
}
