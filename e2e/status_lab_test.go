package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/lab"
)

// TestStatusInLab runs `redkeep status` against a real lab and provokes the
// degraded verdicts the lab's failure cases can cause, healing in between.
// It needs root (network namespaces) and the lab's packages.
func TestStatusInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	l, cfg := statusLab(t)
	ctx := context.Background()

	if s := statusUntil(t, cfg, "healthy", func(s statusJSON) bool { return s.Healthy }); s.VIPHolder != "a" || s.Master != "a" {
		t.Fatalf("after lab up: %+v", s)
	}
	cases := []struct {
		kase, node string
		want       []string // each of these reason codes must show
	}{
		// node "" is the current master: heal keeps whichever node took
		// over, so the master moves between cases.
		{lab.RedisDown, "", []string{"redis-down"}},
		// SIGKILL leaves the VIP behind on the master, and the peer takes
		// it too.
		{lab.KeepalivedKill, "", []string{"vip-both", "keepalived-down"}},
		{lab.KeepalivedStop, "", []string{"keepalived-down"}},
		{lab.Partition, "b", []string{"unreachable"}},
		{lab.NodeDown, "b", []string{"unreachable"}},
	}
	for _, c := range cases {
		t.Run(c.kase, func(t *testing.T) {
			// Heal even when the case fails, so one failure does not
			// cascade into the next case.
			healed := false
			defer func() {
				if !healed {
					_, _ = l.Heal(ctx)
				}
			}()
			node, err := l.Fail(ctx, c.kase, c.node)
			if err != nil {
				t.Fatalf("lab fail %s --node %q: %v", c.kase, c.node, err)
			}
			s := statusUntil(t, cfg, strings.Join(c.want, "+"), func(s statusJSON) bool {
				for _, w := range c.want {
					if !slices.ContainsFunc(s.Reasons, func(r reasonJSON) bool { return r.Code == w }) {
						return false
					}
				}
				return !s.Healthy
			})
			t.Logf("%s on %s: %+v", c.kase, node, s.Reasons)
			healed = true
			if _, err := l.Heal(ctx); err != nil {
				t.Fatalf("lab heal: %v", err)
			}
			statusUntil(t, cfg, "healthy after heal", func(s statusJSON) bool { return s.Healthy })
		})
	}
	t.Run("split-brain-resolve", func(t *testing.T) {
		defer func() { _, _ = l.Heal(ctx) }()
		splitBrainAndResolve(t, l, cfg)
	})
}

// statusUntil runs `redkeep status --json` until ok holds for its output,
// checking the exit code matches the verdict each time.
func statusUntil(t *testing.T, cfg, what string, ok func(statusJSON) bool) statusJSON {
	t.Helper()
	var s statusJSON
	var out string
	for range 60 {
		var code int
		code, out = redkeep(t, "status", "--json", "-c", cfg)
		s = statusJSON{}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		want := map[bool]int{true: exitOK, false: exitUnhealthy}[s.Healthy]
		if s.Healthy && s.Maintenance.Active {
			want = exitMaintenance
		}
		if code != want {
			t.Fatalf("status exit %d with healthy=%v\n%s", code, s.Healthy, out)
		}
		if ok(s) {
			return s
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("status never showed %s; last:\n%s", what, out)
	return s
}

// statusLab starts a lab of the test's own, removed when the test ends.
func statusLab(t *testing.T) (*lab.Lab, string) {
	t.Helper()
	l, st := labenv.Up(t, "rkst", "198.18.83.0/24", "198.18.84.0/24", "198.19.83.0/24")
	return l, st.Config
}
