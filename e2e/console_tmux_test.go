package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labtest"
	"github.com/redkeep/redkeep/lab"
)

// TestConsoleInTmuxOnLab runs the real console in tmux against a real lab,
// reads the screen with capture-pane, breaks the master's Redis and waits to
// see the new master on screen; then heals the pair and switches back from
// the keyboard. It needs root (network namespaces), the lab's packages and
// tmux.
func TestConsoleInTmuxOnLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	labtest.Require(t, lab.Requirements)
	labtest.Lock(t, "rktui")
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("needs tmux (apt-get install tmux)")
	}

	bin := redkeepBin
	// Own directory, prefix and subnet, so the lab package's end-to-end
	// tests can run a lab at the same time.
	dir := fmt.Sprintf("/run/redkeep-tui-e2e-%d", os.Getpid())
	labFlags := []string{"--dir", dir, "--prefix", "rktui"}
	redkeep := func(timeout time.Duration, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return exec.CommandContext(ctx, bin, args...).CombinedOutput()
	}
	labCmd := func(timeout time.Duration, args ...string) {
		t.Helper()
		args = append(append([]string{"lab"}, args...), labFlags...)
		if out, err := redkeep(timeout, args...); err != nil {
			t.Fatalf("redkeep %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := redkeep(time.Minute, append([]string{"lab", "down"}, labFlags...)...); err != nil {
			t.Errorf("redkeep lab down: %v\n%s", err, out)
		}
	})
	// `lab up` refuses a subnet the machine already uses (another lab's,
	// say); try the next one then.
	var up []byte
	for _, subnet := range []string{"198.18.78.0/24", "198.18.79.0/24", "198.51.100.0/24"} {
		out, err := redkeep(3*time.Minute, append([]string{"lab", "up", "--subnet", subnet}, labFlags...)...)
		if err == nil {
			up = nil
			break
		}
		up = out
		if !strings.Contains(string(out), "--subnet") {
			break
		}
	}
	if up != nil {
		t.Fatalf("redkeep lab up:\n%s", up)
	}
	config := filepath.Join(dir, "config.yaml")

	session := fmt.Sprintf("redkeep-tui-%d", os.Getpid())
	tmux(t, "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
		bin, "--config", config)
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", session).Run() })

	waitScreen(t, session, "● healthy", time.Minute)
	waitScreen(t, session, "master a", 10*time.Second)

	start := time.Now()
	labCmd(time.Minute, "fail", "redis-down", "--node", "a")
	waitScreen(t, session, "master b", 30*time.Second)
	t.Logf("new master b on screen %v after `lab fail redis-down` returned", time.Since(start).Round(10*time.Millisecond))

	// b is the lab's journal-only node: no syslog file, so its pane (on
	// the right) follows the journal, where its hook logged the promotion.
	tmux(t, "send-keys", "-t", session, "Tab")
	waitScreenRE(t, session, regexp.MustCompile(`│jnl .* redkeep: promoted: local Redis is master`), 10*time.Second)
	tmux(t, "send-keys", "-t", session, "Tab", "Tab")

	labCmd(3*time.Minute, "heal")
	waitScreen(t, session, "● healthy", time.Minute)

	tmux(t, "send-keys", "-t", session, "s")
	waitScreen(t, session, "and press enter to switch over", 30*time.Second)
	tmux(t, "send-keys", "-t", session, "a", "Enter")
	waitScreen(t, session, "a is the master", time.Minute)
	waitScreen(t, session, "master a", 10*time.Second)
	tmux(t, "send-keys", "-t", session, "Escape", "q")
}

func tmux(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitScreen polls the pane until it shows want.
func waitScreen(t *testing.T, session, want string, timeout time.Duration) {
	t.Helper()
	waitScreenRE(t, session, regexp.MustCompile(regexp.QuoteMeta(want)), timeout)
}

// waitScreenRE polls the pane until a line of it matches want.
func waitScreenRE(t *testing.T, session string, want *regexp.Regexp, timeout time.Duration) {
	t.Helper()
	var screen []byte
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		screen, err = exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		if err != nil {
			t.Fatalf("tmux capture-pane: %v", err)
		}
		if want.Match(screen) {
			return
		}
	}
	t.Fatalf("screen did not show %q within %v; last screen:\n%s", want, timeout, screen)
}
