package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/internal/loadcheck"
	"github.com/redkeep/redkeep/lab"
	"github.com/redkeep/redkeep/wire"
)

// TestMaintenanceInLab: under a write load through the VIP, maintenance
// on, Redis restarted on the master as an operator upgrading it would
// (SHUTDOWN SAVE, started again from its dump): no VIP move, no role
// change, no acknowledged write lost. Then off; a short maintenance
// expires by itself; and a later redis-down fails over as usual.
func TestMaintenanceInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	l, st := labenv.Up(t, "rkmt", "198.18.87.0/24", "198.18.88.0/24", "198.19.87.0/24")
	cfg := st.Config
	ctx := context.Background()
	s := statusUntil(t, cfg, "healthy", func(s statusJSON) bool { return s.Healthy })
	master, replica := s.Master, "a"
	if master == "a" {
		replica = "b"
	}
	// keepalived's transitions so far, per node: the window must add none.
	transitions := func() map[string]int {
		out := map[string]int{}
		for _, n := range lab.NodeNames {
			b, err := os.ReadFile(l.S.Syslog(n))
			if err != nil {
				t.Fatal(err)
			}
			out[n] = strings.Count(string(b), "Entering ")
		}
		return out
	}
	before := transitions()

	loadcheck.QuietRedisLog()
	vip := l.S.VIP().String() + ":6379"
	load := loadcheck.Start(ctx, loadcheck.Options{Addr: vip, Prefix: "maint:"})
	defer load.Stop()
	if err := load.WaitAcked(ctx, 50, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	code, out := redkeep(t, "maintenance", "on", "-c", cfg, "--for", "10m", "--reason", "upgrade Redis")
	t.Logf("maintenance on:\n%s", out)
	if code != exitOK || strings.Count(out, ": maintenance ON by ") != 2 {
		t.Fatalf("maintenance on: exit %d", code)
	}
	in := statusUntil(t, cfg, "in maintenance", func(s statusJSON) bool { return s.Healthy && s.Maintenance.Active })
	if !slices.Equal(in.Maintenance.Nodes, []string{"a", "b"}) {
		t.Errorf("status: maintenance on %v, want a and b", in.Maintenance.Nodes)
	}
	// Each node's exporter shows the window and its deadline.
	for _, n := range lab.NodeNames {
		m, _ := scrapeURL(t, l.S.ExporterURL(n))
		lbl := []string{"node", n, "pair", l.S.VIP().String()}
		if got := m.get("redkeep_maintenance_active", lbl...); got != 1 {
			t.Errorf("redkeep_maintenance_active on %s = %v in maintenance, want 1", n, got)
		}
		if d := m.get("redkeep_maintenance_deadline_timestamp_seconds", lbl...); d < float64(time.Now().Add(9*time.Minute).Unix()) {
			t.Errorf("redkeep_maintenance_deadline_timestamp_seconds on %s = %v, want about 10 minutes from now", n, d)
		}
	}
	if code, out := redkeep(t, "switchover", "-c", cfg, "--yes"); code != exitRefused || !strings.Contains(out, "maintenance mode") || !strings.Contains(out, "by redkeep") {
		t.Errorf("switchover in maintenance: exit %d, want %d naming maintenance\n%s", code, exitRefused, out)
	}

	// Down for 2 s at least: keepalived runs the check every second, so
	// at least one runs while Redis is down.
	down, err := l.RestartRedisKeepingData(ctx, master, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	acked := load.Acked()
	if err := load.WaitAcked(ctx, acked+100, 15*time.Second); err != nil {
		t.Fatalf("writes after the restart: %v", err)
	}
	// The replica back in sync with the restarted master, the pair as it was.
	after := statusUntil(t, cfg, "healthy after the restart", func(s statusJSON) bool { return s.Healthy && s.Maintenance.Active })
	if after.VIPHolder != master || after.Master != master {
		t.Errorf("after the restart in maintenance: VIP on %s, master %s; want both %s", after.VIPHolder, after.Master, master)
	}
	if got := transitions(); !maps.Equal(got, before) {
		t.Errorf("keepalived transitions during maintenance: before %v, after %v", before, got)
	}
	waitLog(t, l.S.StateLog(master), "would have failed: local Redis")

	if code, out := redkeep(t, "maintenance", "off", "-c", cfg); code != exitOK {
		t.Fatalf("maintenance off: exit %d\n%s", code, out)
	}
	statusUntil(t, cfg, "healthy, out of maintenance", func(s statusJSON) bool { return s.Healthy && !s.Maintenance.Active })
	res := load.Stop()
	if err := res.Verify(ctx, vip); err != nil {
		t.Fatal(err)
	}
	t.Logf("Redis on %s down for %s (SHUTDOWN SAVE, 2 s held, serving again); load: %s", master, down.Round(time.Millisecond), res.Summary())
	if len(res.Lost) > 0 {
		t.Errorf("%d acknowledged writes lost across the restart in maintenance", len(res.Lost))
	}

	t.Run("expiry", func(t *testing.T) {
		// Taken before the command: the nodes count the 3 s from when it
		// reaches them, which is after this (SSH, sudo) and before it returns.
		on := time.Now()
		if code, out := redkeep(t, "maintenance", "on", "-c", cfg, "--for", "3s", "--reason", "short"); code != exitOK {
			t.Fatalf("maintenance on --for 3s: exit %d\n%s", code, out)
		}
		statusUntil(t, cfg, "in maintenance", func(s statusJSON) bool { return s.Maintenance.Active })
		statusUntil(t, cfg, "maintenance expired", func(s statusJSON) bool { return s.Healthy && !s.Maintenance.Active })
		if d := time.Since(on); d < 3*time.Second {
			t.Errorf("maintenance ended after %s, before its 3s", d)
		}
		for _, n := range lab.NodeNames {
			waitLog(t, l.S.StateLog(n), "maintenance expired at ")
		}
	})

	// The history has the windows: on and off (who, why) and the expiry,
	// on both nodes.
	t.Run("history", func(t *testing.T) {
		code, out := redkeep(t, "history", "-c", cfg, "--json")
		if code != exitOK {
			t.Fatalf("history --json: exit %d\n%s", code, out)
		}
		var h historyJSON
		if err := json.Unmarshal([]byte(out), &h); err != nil {
			t.Fatalf("history --json: %v\n%s", err, out)
		}
		seen := map[string]int{}
		for _, e := range h.Events {
			switch e.Event {
			case wire.EventMaintenanceOn:
				if e.Reason != "upgrade Redis" && e.Reason != "short" || wire.CheckOperator(e.Operator) != nil {
					t.Errorf("maintenance-on event: %+v", e)
				}
			case wire.EventMaintenanceOff, wire.EventMaintenanceExp:
			default:
				continue
			}
			seen[e.Node+" "+e.Event]++
		}
		for _, n := range lab.NodeNames {
			for kind, want := range map[string]int{wire.EventMaintenanceOn: 2, wire.EventMaintenanceOff: 1, wire.EventMaintenanceExp: 1} {
				if seen[n+" "+kind] != want {
					t.Errorf("history: %d %s events on %s, want %d (all: %v)", seen[n+" "+kind], kind, n, want, seen)
				}
			}
		}
		code, text := redkeep(t, "history", "-c", cfg, "--since", "1h")
		t.Logf("redkeep history:\n%s", text)
		if code != exitOK || !strings.Contains(text, "maintenance-on") || !strings.Contains(text, "upgrade Redis") {
			t.Errorf("history: exit %d, want the maintenance window with its reason", code)
		}
	})

	t.Run("redis-down fails over", func(t *testing.T) {
		if _, err := l.Fail(ctx, lab.RedisDown, master); err != nil {
			t.Fatal(err)
		}
		statusUntil(t, cfg, replica+" took over", func(s statusJSON) bool { return s.VIPHolder == replica && s.Master == replica })
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitLog waits up to 5 s for want in the file at path (the checks log
// once a second).
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	for range 50 {
		if strings.Contains(readFile(t, path), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s never logged %q", path, want)
}
