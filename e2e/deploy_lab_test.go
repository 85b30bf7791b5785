package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/internal/loadcheck"
	"github.com/redkeep/redkeep/lab"
)

// TestDeployMigratesBaseline is the migration from the origin document's
// scripts: a baseline lab under write load through the VIP (500/s, every
// acknowledged write read back), `redkeep deploy --yes`, and then the pair
// runs redkeep's hooks: no acknowledged write lost, the VIP where it was.
// A second deploy finds nothing to change. The console's SSH user deploys
// with the operator's bootstrap sudo; once that is removed, status, a
// switchover right after the deploy and a failover on a Redis crash work
// with the rights deploy granted (its sudoers drop-in and log groups) alone.
func TestDeployMigratesBaseline(t *testing.T) {
	// a, the VIP holder, keeps its logs in the journal only: keepalived
	// keeps its MASTER state through deploy's reload and runs no notify, so
	// deploy adopts that state from keepalived's last transition line,
	// found there.
	journalA := func(s *lab.Settings) { s.JournalNode = "a" }
	l, _ := labenv.UpBaselineWith(t, "rkmg", journalA, "198.18.95.0/24", "198.18.96.0/24", "198.19.95.0/24")
	cfg := l.S.ConfigPath()
	ctx := context.Background()
	before := statusUntil(t, cfg, "baseline healthy", func(s statusJSON) bool { return s.VIPHolder == "a" && s.Master == "a" })
	t.Logf("before deploy: %+v", before.Reasons)

	if code, out := redkeep(t, "deploy", "-c", cfg, "--dry-run"); code != exitOK || !strings.Contains(out, "dry run: nothing was changed") ||
		!strings.Contains(out, "+    notify \"'") || strings.Contains(out, "auth_pass redis") {
		t.Fatalf("deploy --dry-run: exit %d\n%s", code, out)
	}
	kaconf := filepath.Join(l.S.NodeDir("a"), "keepalived.conf")
	if b, err := os.ReadFile(kaconf); err != nil || !strings.Contains(string(b), "redis_master.sh") {
		t.Fatalf("the dry run changed %s: %v\n%s", kaconf, err, b)
	}

	loadcheck.QuietRedisLog()
	load := loadcheck.Start(ctx, loadcheck.Options{Addr: l.S.VIP().String() + ":6379", Prefix: "migrate:", Interval: 2 * time.Millisecond})
	defer load.Stop()
	if err := load.WaitAcked(ctx, 200, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out := redkeep(t, "deploy", "-c", cfg, "--yes")
	took := time.Since(start)
	t.Logf("deploy --yes (%s):\n%s", took.Round(time.Millisecond), out)
	if code != exitOK {
		t.Fatalf("deploy: exit %d", code)
	}
	// a kept the VIP through its reload: no transition, no notify; its
	// state comes from keepalived's log.
	if !strings.Contains(out, "node a: keepalived MASTER written to ") || !strings.Contains(out, "(from journal: ") {
		t.Errorf("deploy did not adopt a's keepalived state (MASTER)")
	}
	after := statusUntil(t, cfg, "healthy with redkeep's hooks", func(s statusJSON) bool { return s.Healthy })
	if after.VIPHolder != "a" || after.Master != "a" {
		t.Errorf("after deploy the VIP is on %q and the master %q; deploy must not move them from a", after.VIPHolder, after.Master)
	}
	// Writes go on for a while on the migrated pair before they are counted.
	werr := load.WaitAcked(ctx, 500, 10*time.Second)
	res := load.Stop()
	if werr != nil {
		for _, o := range res.Outages {
			t.Logf("outage from %s to %s: %d failed, first: %s", o.Start.Format("15:04:05.000"), o.End.Format("15:04:05.000"), o.Failed, o.FirstErr)
		}
		for _, n := range lab.NodeNames {
			b, _ := os.ReadFile(l.S.StateLog(n))
			t.Logf("node %s redis-state.log:\n%s", n, b)
		}
		t.Fatalf("%v: %s", werr, res.Summary())
	}
	if err := res.Verify(ctx, l.S.NodeAddr("a").String()+":6379"); err != nil {
		t.Fatal(err)
	}
	longest, unfinished := res.Longest()
	t.Logf("migration under load: %s; longest write outage %s (unfinished %v); deploy wall time %s",
		res.Summary(), longest.Duration().Round(time.Millisecond), unfinished, took.Round(time.Millisecond))
	if len(res.Lost) != 0 {
		t.Errorf("%d acknowledged writes lost during the migration", len(res.Lost))
	}
	for _, n := range lab.NodeNames {
		b, err := os.ReadFile(filepath.Join(l.S.NodeDir(n), "keepalived.conf"))
		if err != nil || !strings.Contains(string(b), " hook check ") {
			t.Fatalf("node %s: keepalived.conf does not run redkeep's check: %v\n%s", n, err, b)
		}
		backups, _ := filepath.Glob(filepath.Join(l.S.NodeDir(n), "keepalived.conf.redkeep-backup-*"))
		if len(backups) != 1 {
			t.Errorf("node %s: backups of keepalived.conf: %v, want one", n, backups)
		}
	}

	if code, out := redkeep(t, "deploy", "-c", cfg, "--yes"); code != exitOK || !strings.Contains(out, "nothing to change") || strings.Contains(out, "deployed:") {
		t.Fatalf("second deploy: exit %d, want nothing to change\n%s", code, out)
	}

	// From here on the console's user has deploy's rights only: the
	// operator's bootstrap sudo is gone, as it may be on real hosts.
	for _, n := range lab.NodeNames {
		if err := os.Remove(l.S.AdminSudoers(n)); err != nil {
			t.Fatal(err)
		}
	}
	statusUntil(t, cfg, "healthy with deploy's rights only", func(s statusJSON) bool { return s.Healthy && s.VIPHolder == "a" })

	// A switchover right after deploy: keepalived kept its states through
	// the reloads and ran no notify for them, so deploy adopted them from
	// keepalived's log (`hook adopt`); without that the nodes' keepalived
	// states would be unknown and the switchover refused.
	if code, out := redkeep(t, "switchover", "-c", cfg, "--yes"); code != exitOK {
		t.Fatalf("switchover right after deploy, with deploy's rights only: exit %d\n%s", code, out)
	}
	statusUntil(t, cfg, "b serving after the switchover", func(s statusJSON) bool { return s.Healthy && s.VIPHolder == "b" && s.Master == "b" })

	// The origin's scripts could not fail over on a dead Redis (negative
	// weight with nopreempt); redkeep's hooks do.
	if _, err := l.Fail(ctx, lab.RedisDown, "b"); err != nil {
		t.Fatal(err)
	}
	statusUntil(t, cfg, "a serving after b's Redis died", func(s statusJSON) bool { return s.VIPHolder == "a" && s.Master == "a" })
	if _, err := l.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	statusUntil(t, cfg, "healthy after b's Redis is back", func(s statusJSON) bool { return s.Healthy && s.VIPHolder == "a" })
}

// TestDeployRestoresOnFailure: when the pair is not healthy after the
// switch (here b's Redis is down, so redkeep's check puts b in FAULT),
// deploy restores every node's old keepalived.conf, reloads keepalived,
// says where it stopped and exits 1; the VIP and the master stay on a.
func TestDeployRestoresOnFailure(t *testing.T) {
	l, _ := labenv.UpBaseline(t, "rkmr", "198.18.97.0/24", "198.18.98.0/24", "198.19.97.0/24")
	cfg := l.S.ConfigPath()
	ctx := context.Background()
	statusUntil(t, cfg, "baseline serving on a", func(s statusJSON) bool { return s.VIPHolder == "a" && s.Master == "a" })
	before := map[string][]byte{}
	for _, n := range lab.NodeNames {
		b, err := os.ReadFile(filepath.Join(l.S.NodeDir(n), "keepalived.conf"))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = b
	}
	if _, err := l.Fail(ctx, lab.RedisDown, "b"); err != nil {
		t.Fatal(err)
	}
	code, out := redkeep(t, "deploy", "-c", cfg, "--yes", "--timeout", "5s")
	t.Logf("deploy --yes with b's Redis down:\n%s", out)
	if code != exitUnhealthy || !strings.Contains(out, "verification failed") || !strings.Contains(out, "restored and reloaded on b, a") {
		t.Fatalf("deploy: exit %d, want %d with the backups restored on b and a", code, exitUnhealthy)
	}
	for _, n := range lab.NodeNames {
		b, err := os.ReadFile(filepath.Join(l.S.NodeDir(n), "keepalived.conf"))
		if err != nil || string(b) != string(before[n]) {
			t.Errorf("node %s: keepalived.conf is not the one before deploy (%v):\n%s", n, err, b)
		}
		if left, _ := filepath.Glob(filepath.Join(l.S.NodeDir(n), "keepalived.conf.redkeep-new*")); len(left) != 0 {
			t.Errorf("node %s: staged files left: %v", n, left)
		}
	}
	statusUntil(t, cfg, "a still serving", func(s statusJSON) bool { return s.VIPHolder == "a" && s.Master == "a" })
}
