package switchover

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// TestSwitchoverRunRefusesInMaintenance: maintenance turned on after the
// console's preflight still stops the node's run, with the pair unchanged;
// an expired record does not.
func TestSwitchoverRunRefusesInMaintenance(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	cfg := loopbackConfig(t, a, b)
	takeLock(t, cfg, "me")
	now := time.Now().UTC()
	write := func(m wire.Maintenance) {
		t.Helper()
		data, _ := json.Marshal(m)
		if err := os.WriteFile(cfg.Hooks.MaintenanceFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade", Since: now, Until: now.Add(time.Hour)})
	s, _ := newTestSwitchover(t, cfg, &fakeVIP{held: true})
	err := s.Run(context.Background(), opts("me"))
	var f *Failure
	if !errors.As(err, &f) || f.Step != wire.StepCheck || f.PairState != "unchanged" || !strings.Contains(err.Error(), "in maintenance (by alice@laptop: upgrade") {
		t.Fatalf("Run in maintenance = %v, want a check failure naming the maintenance, pair unchanged", err)
	}
	if in := infoOf(t, a.Client()); in.Role != replication.RoleMaster {
		t.Fatalf("a is %s after a refused run", in.Role)
	}

	write(wire.Maintenance{On: true, By: "alice", Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)})
	if _, on, err := ReadMaintenance(cfg.Hooks.MaintenanceFile, now); on || err != nil {
		t.Fatalf("expired record: active %v, err %v", on, err)
	}
	if err := os.WriteFile(cfg.Hooks.MaintenanceFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ = newTestSwitchover(t, cfg, &fakeVIP{held: true})
	if err := s.Run(context.Background(), opts("me")); err == nil || !strings.Contains(err.Error(), "parse maintenance file") {
		t.Fatalf("Run with an unreadable maintenance file = %v, want a refusal naming it", err)
	}
}
