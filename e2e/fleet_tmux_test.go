package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labtest"
	"github.com/redkeep/redkeep/lab"
)

// TestFleetConsoleInTmuxOnThreeLabs runs the real console in tmux on a
// directory of three pair files, each a real lab of its own (prefix,
// subnet, directory), breaks the Redis master of the pair whose name
// sorts last and waits to see that pair rise to the top of the fleet
// view; then opens it (its view shows the new master) and goes to another
// pair with ":". It needs root, the lab's packages and tmux.
func TestFleetConsoleInTmuxOnThreeLabs(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	labtest.Require(t, lab.Requirements)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("needs tmux (apt-get install tmux)")
	}
	run := func(timeout time.Duration, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return exec.CommandContext(ctx, redkeepBin, args...).CombinedOutput()
	}
	fleetDir := t.TempDir()
	labs := []struct {
		pair, prefix string
		subnets      []string
	}{
		{"p1", "rkfleeta", []string{"198.18.91.0/24", "198.19.91.0/24"}},
		{"p2", "rkfleetb", []string{"198.18.92.0/24", "198.19.92.0/24"}},
		{"p3", "rkfleetc", []string{"198.18.93.0/24", "198.19.93.0/24"}},
	}
	flags := map[string][]string{}
	vips := map[string]string{}
	for _, l := range labs {
		labtest.Lock(t, l.prefix)
		dir := fmt.Sprintf("/run/redkeep-fleet-e2e-%d-%s", os.Getpid(), l.pair)
		flags[l.pair] = []string{"--dir", dir, "--prefix", l.prefix}
		// Registered before up: a lab half up is taken down too.
		t.Cleanup(func() {
			if out, err := run(time.Minute, append([]string{"lab", "down"}, flags[l.pair]...)...); err != nil {
				t.Errorf("redkeep lab down (%s): %v\n%s", l.pair, err, out)
			}
		})
		// `lab up` refuses a subnet the machine already uses; try the next.
		var failed []byte
		for _, subnet := range l.subnets {
			out, err := run(3*time.Minute, append([]string{"lab", "up", "--subnet", subnet}, flags[l.pair]...)...)
			if err == nil {
				failed = nil
				vips[l.pair] = strings.TrimSuffix(subnet, "0/24") + "100"
				break
			}
			failed = out
			if !strings.Contains(string(out), "--subnet") {
				break
			}
		}
		if failed != nil {
			t.Fatalf("redkeep lab up (%s):\n%s", l.pair, failed)
		}
		// A link, as an operator would make: the pair's view then offers
		// the lab's failure cases too.
		if err := os.Symlink(filepath.Join(dir, "config.yaml"), filepath.Join(fleetDir, l.pair+".yaml")); err != nil {
			t.Fatal(err)
		}
	}

	session := fmt.Sprintf("redkeep-fleet-%d", os.Getpid())
	tmux(t, "new-session", "-d", "-s", session, "-x", "120", "-y", "30", redkeepBin, "--config", fleetDir)
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", session).Run() })

	waitScreen(t, session, "● 3 healthy", 2*time.Minute)
	waitRows(t, session, []string{"p1", "p2", "p3"}, 10*time.Second)

	start := time.Now()
	if out, err := run(time.Minute, append([]string{"lab", "fail", "redis-down", "--node", "a"}, flags["p3"]...)...); err != nil {
		t.Fatalf("redkeep lab fail: %v\n%s", err, out)
	}
	waitScreen(t, session, "✖ 1 not healthy", time.Minute)
	waitRows(t, session, []string{"p3", "p1", "p2"}, 10*time.Second)
	t.Logf("p3 at the top of the fleet %v after `lab fail redis-down` returned", time.Since(start).Round(10*time.Millisecond))

	// Its own view: the pair view as the single-pair console shows it.
	tmux(t, "send-keys", "-t", session, "g", "Enter")
	waitScreen(t, session, "VIP "+vips["p3"], 30*time.Second)
	waitScreen(t, session, "master b", time.Minute)
	waitScreen(t, session, "L lab: fail/heal", 10*time.Second)
	tmux(t, "send-keys", "-t", session, "Escape")
	waitScreen(t, session, "redkeep fleet", 30*time.Second)

	// ":" goes to a pair by name.
	tmux(t, "send-keys", "-t", session, ":", "p2", "Enter")
	waitScreen(t, session, "VIP "+vips["p2"], 30*time.Second)
	waitScreen(t, session, "● healthy", 30*time.Second)
	tmux(t, "send-keys", "-t", session, "Escape", "q")
}

// waitRows polls the pane until the fleet table's rows are the pairs in
// order.
func waitRows(t *testing.T, session string, want []string, timeout time.Duration) {
	t.Helper()
	var screen []byte
	var got []string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		screen, err = exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		if err != nil {
			t.Fatalf("tmux capture-pane: %v", err)
		}
		got = fleetRows(string(screen))
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return
		}
	}
	t.Fatalf("fleet rows %v, want %v within %v; last screen:\n%s", got, want, timeout, screen)
}

// fleetRows reads the pairs' names from the fleet table, top to bottom.
func fleetRows(screen string) []string {
	var rows []string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "▶"))
		switch {
		case len(f) > 1 && f[0] == "PAIR" && f[1] == "VERDICT":
			in = true
		case in && len(f) > 0 && strings.HasPrefix(f[0], "p") && len(f[0]) == 2:
			rows = append(rows, f[0])
		case in:
			return rows
		}
	}
	return rows
}
