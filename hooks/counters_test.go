package hooks_test

import (
	"testing"

	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/internal/redistest"
)

// The hooks count their runs for the exporter (internal/hookstats): the
// check by health, the notify hooks by result, refusals apart.
func TestHooksCountRuns(t *testing.T) {
	ra, rb := redistest.Start(t), redistest.Start(t)
	rb.ReplicaOf(ra)
	p := newPair(t, ra, rb, pairOpts{})
	if r := p.notify(t, "a", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER on a: exit %d\n%s", r.code, r.stderr)
	}
	if r := p.notify(t, "b", "BACKUP"); r.code != 0 {
		t.Fatalf("BACKUP on b: exit %d\n%s", r.code, r.stderr)
	}
	// Not this pair's instance: refused, nothing done.
	if r := p.hook(t, "a", "notify", "INSTANCE", "VI_OTHER", "MASTER", "150"); r.code != 3 {
		t.Fatalf("notify of another instance: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check on a: exit %d\n%s", r.code, r.stderr)
	}
	rb.Stop()
	if r := p.hook(t, "b", "check"); r.code != 1 {
		t.Fatalf("check on b with its Redis stopped: exit %d, want 1\n%s", r.code, r.stderr)
	}
	want := map[string]map[hookstats.Key]uint64{
		"a": {{Kind: "master", Result: "ok"}: 1, {Kind: "master", Result: "refused"}: 1, {Kind: "check", Result: "ok"}: 1, {Kind: "check", Result: "failed"}: 0},
		"b": {{Kind: "backup", Result: "ok"}: 1, {Kind: "check", Result: "failed"}: 1, {Kind: "check", Result: "ok"}: 0, {Kind: "master", Result: "ok"}: 0},
	}
	for node, w := range want {
		c, err := hookstats.Read(hookstats.Path(p.stateFile[node]))
		if err != nil {
			t.Fatalf("%s: %v", node, err)
		}
		for k, v := range w {
			if c[k] != v {
				t.Errorf("%s: %s/%s = %d, want %d", node, k.Kind, k.Result, c[k], v)
			}
		}
	}
}
