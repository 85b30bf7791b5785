package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labtest"
	"github.com/redkeep/redkeep/lab"
)

// TestStatusInLab runs `redkeep status` against a real lab and provokes the
// degraded verdicts the lab's failure cases can cause, healing in between.
// It needs root (network namespaces) and the lab's packages.
func TestStatusInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	labtest.Require(t, lab.Requirements)
	l, cfg := statusLab(t)
	ctx := context.Background()

	if s := statusUntil(t, cfg, "healthy", func(s statusJSON) bool { return s.Healthy }); s.VIPHolder != "a" || s.Master != "a" {
		t.Fatalf("after lab up: %+v", s)
	}
	cases := []struct {
		kase, node string
		want       []string // each of these reason codes must show
	}{
		{lab.RedisDown, "a", []string{"redis-down"}},
		// SIGKILL leaves the VIP behind on a, and b takes it too.
		{lab.KeepalivedKill, "a", []string{"vip-both", "keepalived-down"}},
		{lab.KeepalivedStop, "a", []string{"keepalived-down"}},
		{lab.Partition, "b", []string{"unreachable"}},
		{lab.NodeDown, "b", []string{"unreachable"}},
	}
	for _, c := range cases {
		t.Run(c.kase, func(t *testing.T) {
			if _, err := l.Fail(ctx, c.kase, c.node); err != nil {
				t.Fatalf("lab fail %s --node %s: %v", c.kase, c.node, err)
			}
			s := statusUntil(t, cfg, strings.Join(c.want, "+"), func(s statusJSON) bool {
				for _, w := range c.want {
					if !slices.ContainsFunc(s.Reasons, func(r reasonJSON) bool { return r.Code == w }) {
						return false
					}
				}
				return !s.Healthy
			})
			t.Logf("%s on %s: %+v", c.kase, c.node, s.Reasons)
			if _, err := l.Heal(ctx); err != nil {
				t.Fatalf("lab heal: %v", err)
			}
			statusUntil(t, cfg, "healthy after heal", func(s statusJSON) bool { return s.Healthy })
		})
	}
}

// statusUntil runs `redkeep status --json` until ok holds for its output,
// checking the exit code matches the verdict each time.
func statusUntil(t *testing.T, cfg, what string, ok func(statusJSON) bool) statusJSON {
	t.Helper()
	var s statusJSON
	var out string
	for range 60 {
		var code int
		code, out = execRoot("status", "--json", "-c", cfg)
		s = statusJSON{}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if want := map[bool]int{true: exitOK, false: exitUnhealthy}[s.Healthy]; code != want {
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

// statusLab builds redkeep and starts a lab of the test's own (directory,
// prefix, free subnet), removed when the test ends.
func statusLab(t *testing.T) (*lab.Lab, string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redkeep")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/redkeep/redkeep").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s := lab.DefaultSettings()
	s.Dir = fmt.Sprintf("/run/redkeep-status-e2e-%d", os.Getpid())
	s.Prefix = "rkst"
	s.Redkeep = bin
	var l *lab.Lab
	var err error
	for _, subnet := range []string{"198.18.83.0/24", "198.18.84.0/24", "198.19.83.0/24"} {
		s.Subnet = netip.MustParsePrefix(subnet)
		if l, err = lab.New(s); err != nil {
			t.Fatal(err)
		}
		this := l
		t.Cleanup(func() {
			if err := this.Down(context.Background()); err != nil {
				t.Errorf("lab down: %v", err)
			}
		})
		if _, _, err = l.Up(context.Background()); !errors.Is(err, lab.ErrRefused) {
			break
		}
	}
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return l, s.ConfigPath()
}
