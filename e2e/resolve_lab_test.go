package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/loadcheck"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/lab"
	"github.com/redkeep/redkeep/nodes"
)

// splitBrainAndResolve is a real split brain in the lab: the master is cut
// off while a client on its side of the partition keeps writing to it, and
// clients through the VIP write to the peer that took over. After the link
// returns, the hooks keep both (status names the split with each side's
// writes); `redkeep resolve --keep PEER` saves the cut-off side's data set
// on its node, and that RDB holds every write acknowledged on that side,
// while every write acknowledged through the VIP is on the kept master.
func splitBrainAndResolve(t *testing.T, l *lab.Lab, cfg string) {
	ctx := context.Background()
	s := statusUntil(t, cfg, "healthy", func(s statusJSON) bool { return s.Healthy })
	cut, keep := s.Master, "a"
	if cut == "a" {
		keep = "b"
	}
	loadcheck.QuietRedisLog()
	viaVIP := loadcheck.Start(ctx, loadcheck.Options{Addr: l.S.VIP().String() + ":6379", Prefix: "vip:"})
	defer viaVIP.Stop()
	onCutSide := loadcheck.Start(ctx, loadcheck.Options{Addr: l.S.NodeAddr(cut).String() + ":6379", Prefix: "cut-side:", Dialer: l.DialIn(cut)})
	defer onCutSide.Stop()
	for _, r := range []*loadcheck.Run{viaVIP, onCutSide} {
		if err := r.WaitAcked(ctx, 50, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Fail(ctx, lab.Partition, cut); err != nil {
		t.Fatal(err)
	}
	statusUntil(t, cfg, keep+" serving", func(s statusJSON) bool { return s.VIPHolder == keep && s.Master == keep })
	for _, r := range []*loadcheck.Run{viaVIP, onCutSide} {
		if err := r.WaitAcked(ctx, 200, 20*time.Second); err != nil {
			t.Fatalf("writes on both sides of the partition: %v", err)
		}
	}
	cutSide := onCutSide.Stop()
	if err := l.Reconnect(ctx, cut); err != nil {
		t.Fatal(err)
	}
	split := statusUntil(t, cfg, "split-brain", func(s statusJSON) bool {
		return slices.ContainsFunc(s.Reasons, func(r reasonJSON) bool {
			return r.Code == nodes.ReasonSplitBrain && strings.Count(r.Text, " writes (") == 2
		})
	})
	t.Logf("after the partition: %+v", split.Reasons)
	// The hooks leave both sides alone: a few seconds later still split.
	time.Sleep(3 * time.Second)
	statusUntil(t, cfg, "still split", func(s statusJSON) bool {
		return slices.ContainsFunc(s.Reasons, func(r reasonJSON) bool { return r.Code == nodes.ReasonSplitBrain })
	})

	if code, out := redkeep(t, "resolve", "-c", cfg, "--keep", cut, "--dry-run"); code != exitOK || !strings.Contains(out, "ok  split brain") {
		t.Fatalf("resolve --dry-run: exit %d\n%s", code, out)
	}
	code, out := redkeep(t, "resolve", "-c", cfg, "--keep", keep, "--yes")
	t.Logf("resolve --keep %s:\n%s", keep, out)
	if code != exitOK {
		t.Fatalf("resolve: exit %d", code)
	}
	m := regexp.MustCompile(`saved on \S+ in (\S+\.rdb)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("resolve did not print the saved file")
	}
	statusUntil(t, cfg, "healthy after resolve", func(s statusJSON) bool { return s.Healthy && s.Master == keep })
	if code, out := redkeep(t, "resolve", "-c", cfg, "--keep", keep, "--yes"); code != exitRefused {
		t.Fatalf("resolve on a healthy pair: exit %d, want %d (refused)\n%s", code, exitRefused, out)
	}

	// Every write acknowledged through the VIP is on the kept master.
	vip := viaVIP.Stop()
	if err := vip.Verify(ctx, l.S.NodeAddr(keep).String()+":6379"); err != nil {
		t.Fatal(err)
	}
	if len(vip.Lost) != 0 {
		t.Errorf("%d writes acknowledged through the VIP were lost: %s", len(vip.Lost), vip.Summary())
	}
	// Every write acknowledged on the cut-off side is in its saved data set.
	saved := redistest.Start(t, redistest.WithRDB(l.HostPath(cut, m[1])))
	if err := cutSide.Verify(ctx, saved.Addr()); err != nil {
		t.Fatal(err)
	}
	if len(cutSide.Lost) != 0 || len(cutSide.Acked) == 0 {
		t.Errorf("the saved RDB of %s misses %d of %d writes acknowledged on its side", cut, len(cutSide.Lost), len(cutSide.Acked))
	}
	t.Logf("cut-off side: %s; saved in %s", fmt.Sprint(cutSide.Summary()), m[1])
}
