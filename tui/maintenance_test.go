package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/wire"
)

// fakeMaintenance records what the console asked of it.
type fakeMaintenance struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeMaintenance) Set(_ context.Context, on bool, reason string, d time.Duration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.calls = append(f.calls, fmt.Sprintf("on %q %s", reason, d))
		return "on on a and b until 04:00:00", f.err
	}
	f.calls = append(f.calls, "off")
	return "off on a and b", f.err
}

func (f *fakeMaintenance) called() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

func withMaintenance(mt Maintenance) testOpt {
	return func(o *Options) { o.Maintenance = mt }
}

// inMaintenance is s with a maintenance record for another 42 minutes,
// its reason carrying an escape sequence the console must not pass on.
func inMaintenance(s nodes.Snapshot) nodes.Snapshot {
	s.Maintenance = &wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade Redis \x1b[2Jto 7.2",
		Since: t0.Add(-18 * time.Minute), Until: t0.Add(42*time.Minute + 10*time.Second)}
	return s
}

// TestMaintenanceBanner: the banner names the nodes, who, why and the time
// left; it says when only one node is in maintenance, and goes when the
// deadline passes.
func TestMaintenanceBanner(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	feed(m, teaSize(100, 30))
	feed(m, snaps(inMaintenance(snapMaster("a")), inMaintenance(snapReplica("b")))...)
	view := m.View().Content
	for _, want := range []string{" MAINTENANCE ", "on a and b · no failover · 42m10s left · by alice@laptop: upgrade Redis "} {
		if !strings.Contains(view, want) {
			t.Errorf("the banner lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "\x1b[2J") {
		t.Error("the reason's escape sequence reached the screen")
	}
	if lines := strings.Split(view, "\n"); !strings.Contains(lines[0], "MAINTENANCE") || len(lines) != 30 {
		t.Errorf("banner not on the first line, or the screen is not 30 lines (%d)", len(lines))
	}

	feed(m, snaps(snapReplica("b"))...)
	if view := m.View().Content; !strings.Contains(view, "on a only") {
		t.Errorf("with b out of maintenance the banner does not say a only:\n%s", view)
	}

	feed(m, clockMsg(t0.Add(43*time.Minute)))
	view = m.View().Content
	if strings.Contains(view, "MAINTENANCE") {
		t.Errorf("the banner stays after the deadline:\n%s", view)
	}
	if lines := strings.Split(view, "\n"); len(lines) != 30 {
		t.Errorf("the screen is %d lines after the banner went, want 30", len(lines))
	}
}

// TestMaintenanceKeys: m opens the dialog; enter turns maintenance on with
// the reason and duration typed, after refusing a bad duration; with the
// pair in maintenance, m offers to turn it off.
func TestMaintenanceKeys(t *testing.T) {
	mt := &fakeMaintenance{}
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withMaintenance(mt))
	feed(m, teaSize(80, 24))
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	typeIn := func(s string) {
		for _, r := range s {
			feed(m, press(string(r)))
		}
	}
	feed(m, press("m"))
	if m.maint == nil || m.maint.off {
		t.Fatal("m did not open the maintenance dialog to turn it on")
	}
	typeIn("restart Redis")
	feed(m, press("tab"))
	for range 2 {
		feed(m, press("backspace"))
	}
	typeIn("48h")
	if _, cmd := m.Update(press("enter")); cmd != nil || m.maint == nil || !strings.Contains(m.maint.problem, "at most 24h") {
		t.Fatalf("48h accepted (dialog %v)", m.maint)
	}
	for range 3 {
		feed(m, press("backspace"))
	}
	typeIn("30m")
	_, cmd := m.Update(press("enter"))
	if cmd == nil || m.maint != nil || m.status != "turning maintenance on for 30m0s…" {
		t.Fatalf("enter: command %v, dialog open %v, status %q", cmd != nil, m.maint != nil, m.status)
	}
	feed(m, press("m"))
	if m.maint != nil {
		t.Error("the dialog opened again while the change runs")
	}
	feed(m, cmd())
	if got := mt.called(); got != `on "restart Redis" 30m0s` {
		t.Errorf("Set calls: %s", got)
	}
	if m.status != "maintenance on: on on a and b until 04:00:00" || m.statusBad {
		t.Errorf("status %q (bad %v)", m.status, m.statusBad)
	}

	feed(m, snaps(inMaintenance(snapMaster("a")), inMaintenance(snapReplica("b")))...)
	feed(m, press("m"))
	if m.maint == nil || !m.maint.off {
		t.Fatal("m in maintenance did not offer to turn it off")
	}
	mt.err = errors.New("maintenance is off on a; NOT turned off on the others (b: no route to host)")
	_, cmd = m.Update(press("enter"))
	feed(m, cmd())
	if got := mt.called(); !strings.HasSuffix(got, "; off") {
		t.Errorf("Set calls: %s", got)
	}
	if !m.statusBad || !strings.Contains(m.status, "NOT turned off on the others (b: ") {
		t.Errorf("a failed off: status %q (bad %v)", m.status, m.statusBad)
	}

	feed(m, press("m"), press("esc"))
	if m.maint != nil || !strings.HasSuffix(mt.called(), "; off") || strings.Count(mt.called(), "off") != 1 {
		t.Errorf("esc: dialog %v, calls %s", m.maint != nil, mt.called())
	}
}

// TestMaintenanceReadOnly: --read-only offers no maintenance key.
func TestMaintenanceReadOnly(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, withMaintenance(&fakeMaintenance{}), func(o *Options) { o.ReadOnly = true })
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	if _, cmd := m.Update(press("m")); cmd != nil || m.maint != nil {
		t.Error("read-only opened the maintenance dialog")
	}
}
