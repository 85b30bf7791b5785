package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eLab builds this redkeep, starts a lab of the test's own (its own
// directory, prefix and a free subnet, so a developer's running lab is left
// alone) and removes it when the test ends, passed or not.
func e2eLab(t *testing.T) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("end-to-end lab tests need root (network namespaces, keepalived); CI runs them as root")
	}
	if err := Requirements(); err != nil {
		t.Skipf("end-to-end lab tests: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "redkeep")
	build := exec.Command("go", "build", "-o", bin, "github.com/redkeep/redkeep")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build redkeep: %v\n%s", err, out)
	}
	ctx := context.Background()
	uses, err := hostUses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSettings()
	s.Dir = fmt.Sprintf("/run/redkeep-e2e-%d", os.Getpid())
	s.Prefix = "rke2e"
	s.Redkeep = bin
	s.Subnet = netip.Prefix{}
	for _, c := range []string{"203.0.113.0/24", "198.51.100.0/24", "10.213.77.0/24"} {
		p := netip.MustParsePrefix(c)
		if checkSubnetFree(ctx, p, uses) == nil {
			s.Subnet = p
			break
		}
	}
	if !s.Subnet.IsValid() {
		t.Fatal("no free subnet for the lab among the candidates")
	}
	l, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	l.Log = testLog{t}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lab state at failure:%s", l.diagnostics())
			for _, n := range NodeNames {
				t.Logf("--- %s redis-state log\n%s", n, tail(s.StateLog(n), 30))
			}
		}
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("lab down: %v", err)
		}
		for _, n := range NodeNames {
			if netnsExists(s.Namespace(n)) || linkExists(s.HostVeth(n)) {
				t.Errorf("lab down left node %s's namespace or link behind", n)
			}
		}
		if _, err := os.Stat(s.Dir); err == nil {
			t.Errorf("lab down left %s behind", s.Dir)
		}
	})
	st, running, err := l.Up(ctx)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	if running || !st.Healthy || st.VIPHolder != "a" {
		t.Fatalf("after up: running=%v healthy=%v holder=%q problems=%v", running, st.Healthy, st.VIPHolder, st.Problems)
	}
	return l
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// checkCase asserts what every failure case must end with: a healthy pair,
// never two masters after the transition, and no acknowledged write lost
// unless the case destroys the only copy.
func checkCase(t *testing.T, r *CaseResult) {
	t.Helper()
	t.Log(r.Summary())
	if r.Err != nil {
		t.Fatalf("%s from %s: %v", r.Case, r.From, r.Err)
	}
	if len(r.TwoMasters) > 0 {
		t.Errorf("two Redis masters after the transition: %v", r.TwoMasters)
	}
	if r.From == r.To {
		t.Errorf("%s on %s: the master did not move", r.Case, r.From)
	}
	if !LossExpected(r.Case) {
		if r.Lost() > 0 {
			t.Errorf("%d acknowledged writes lost (first: #%d acked %s)", r.Lost(), r.Load.Lost[0].Seq, r.Load.Lost[0].At.Format("15:04:05.000"))
		}
		return
	}
	// The old master died with its data: only writes it acknowledged before
	// the failure and had not yet shipped can be gone. Replication on the
	// lab bridge is sub-millisecond, so that is the last few writes.
	if r.LostAfterInjection > 0 {
		t.Errorf("%d writes acknowledged after the failure were lost", r.LostAfterInjection)
	}
	for _, w := range r.Load.Lost {
		if r.Injected.Sub(w.At) > time.Second {
			t.Errorf("lost write #%d was acknowledged %s before the failure: the replica should have had it", w.Seq, r.Injected.Sub(w.At))
		}
	}
}

// TestEndToEnd runs every failure case of the origin document in both
// directions under write load, then failovers back and forth, all in one lab
// healed between cases.
func TestEndToEnd(t *testing.T) {
	l := e2eLab(t)
	ctx := context.Background()
	for _, kase := range ScenarioCases {
		for dir := 0; dir < 2; dir++ {
			from, err := l.Master(ctx)
			if err != nil {
				// A previous case left the pair broken; heal so the rest
				// still say something.
				if _, err := l.Heal(ctx); err != nil {
					t.Fatalf("cannot heal the lab for %s: %v", kase, err)
				}
				from, _ = l.Master(ctx)
			}
			to := "b"
			if from == "b" {
				to = "a"
			}
			t.Run(fmt.Sprintf("%s/%s-to-%s", kase, from, to), func(t *testing.T) {
				checkCase(t, l.RunCase(ctx, kase, ScenarioOptions{Log: t.Logf}))
			})
		}
	}
	t.Run("failovers-back-and-forth", func(t *testing.T) {
		for i := 0; i < 4; i++ {
			r := l.RunCase(ctx, KeepalivedStop, ScenarioOptions{Log: t.Logf})
			checkCase(t, r)
		}
	})
}
