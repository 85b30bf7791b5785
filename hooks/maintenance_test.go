package hooks_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

func (p *testPair) maintenance(t *testing.T, node string, args ...string) {
	t.Helper()
	if r := p.hook(t, node, append([]string{"maintenance"}, args...)...); r.code != 0 {
		t.Fatalf("hook maintenance %v on %s: exit %d\n%s%s", args, node, r.code, r.stdout, r.stderr)
	}
}

// maintenanceFile is node's hooks.maintenance_file (the default, beside
// the state file).
func (p *testPair) maintenanceFile(node string) string {
	return filepath.Join(filepath.Dir(p.stateFile[node]), "maintenance.json")
}

// TestMaintenanceNotifyRunsNoStep: in maintenance a MASTER notify on the
// replica records the state and logs what it would have done, but
// promotes nothing; once maintenance is off the same notify promotes.
func TestMaintenanceNotifyRunsNoStep(t *testing.T) {
	t.Parallel()
	p, a, b := replicatedPair(t)
	waitFor(t, "b in sync", 5*time.Second, func() bool { return info(t, b).LinkUp })
	p.maintenance(t, "b", "on", "--for", "10m", "--reason", "upgrade Redis", "--host", "laptop")

	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify in maintenance: exit %d\n%s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleReplica {
		t.Fatalf("b is %s after a MASTER notify in maintenance; want it left a replica", bi.Role)
	}
	if ai := info(t, a); ai.Role != replication.RoleMaster {
		t.Fatalf("a is %s; want it left the master", ai.Role)
	}
	st := p.state(t, "b")
	if st.State != wire.KAMaster || st.LastResult != wire.ResultOK || !strings.Contains(st.LastAction, "ran no step") || !strings.Contains(st.LastAction, "would have: ") {
		t.Errorf("state file in maintenance: %+v", st)
	}
	log := p.log(t, "b")
	for _, want := range []string{"maintenance on by ", "@laptop: upgrade Redis, until", "[master] maintenance (by ", "would have: "} {
		if !strings.Contains(log, want) {
			t.Errorf("b's log lacks %q", want)
		}
	}

	p.maintenance(t, "b", "off", "--host", "laptop")
	if r := p.notify(t, "b", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify after maintenance: exit %d\n%s", r.code, r.stderr)
	}
	if bi := info(t, b); bi.Role != replication.RoleMaster {
		t.Fatalf("b is %s after a MASTER notify out of maintenance; want master", bi.Role)
	}
	if !strings.Contains(p.log(t, "b"), "maintenance off by ") {
		t.Error("b's log lacks the maintenance off")
	}
	// The journal has the window: on (who, why, until) and off.
	var on, off *wire.Event
	for _, e := range p.journal(t, "b") {
		switch e.Event {
		case wire.EventMaintenanceOn:
			on = &e
		case wire.EventMaintenanceOff:
			off = &e
		}
	}
	switch {
	case on == nil || off == nil:
		t.Fatalf("b's journal lacks the maintenance window: %v", kinds(p.journal(t, "b")))
	case on.Node != "b" || on.Reason != "upgrade Redis" || !strings.HasSuffix(on.Operator, "@laptop") || !strings.Contains(on.Detail, "(10m0s)"):
		t.Errorf("maintenance-on event: %+v", *on)
	case !strings.HasSuffix(off.Operator, "@laptop") || !strings.HasPrefix(off.Detail, "was on for ") || off.Time.Before(on.Time):
		t.Errorf("maintenance-off event: %+v", *off)
	}
}

// TestMaintenanceCheckHealthyWithRedisDown: in maintenance the check of a
// node whose Redis is stopped answers healthy (logging once what it would
// have said); turned off, the check fails again; and an expired record
// counts as off, its expiry logged once.
func TestMaintenanceCheckHealthyWithRedisDown(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{})
	if r := p.notify(t, "a", "MASTER"); r.code != 0 {
		t.Fatalf("MASTER notify: exit %d\n%s", r.code, r.stderr)
	}
	p.maintenance(t, "a", "on", "--reason", "restart Redis")
	a.Stop()
	for range 3 {
		if r := p.hook(t, "a", "check"); r.code != 0 {
			t.Fatalf("check in maintenance with Redis stopped: exit %d, want 0\n%s", r.code, r.stderr)
		}
	}
	if n := strings.Count(p.log(t, "a"), "would have failed: local Redis"); n != 1 {
		t.Errorf("the would-be failure is logged %d times in 3 checks, want once", n)
	}

	p.maintenance(t, "a", "off")
	if r := p.hook(t, "a", "check"); r.code != 1 {
		t.Fatalf("check after maintenance off with Redis stopped: exit %d, want 1\n%s", r.code, r.stderr)
	}

	// Expired: a record on whose deadline has passed. Written as the node
	// verb would have written it two hours ago.
	now := time.Now().UTC()
	rec, _ := json.Marshal(wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "forgotten", Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)})
	if err := os.WriteFile(p.maintenanceFile("a"), rec, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := p.hook(t, "a", "check"); r.code != 1 {
			t.Fatalf("check with an expired maintenance and Redis stopped: exit %d, want 1\n%s", r.code, r.stderr)
		}
	}
	if n := strings.Count(p.log(t, "a"), "maintenance expired at "); n != 1 {
		t.Errorf("the expiry is logged %d times in 3 checks, want once", n)
	}

	// An expiry that happens while the checks run: on for 1s.
	a.Restart()
	p.maintenance(t, "a", "on", "--for", "1s", "--reason", "short")
	a.Stop()
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check in a 1s maintenance: exit %d, want 0\n%s", r.code, r.stderr)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := p.hook(t, "a", "check"); r.code != 1 {
		t.Fatalf("check after the 1s maintenance expired: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if n := strings.Count(p.log(t, "a"), "maintenance expired at "); n != 2 {
		t.Errorf("expiries logged %d times, want 2", n)
	}
	// Each expiry is one event, timed at its deadline: the hand-written
	// record's names it as alice@laptop.
	var exp []wire.Event
	for _, e := range p.journal(t, "a") {
		if e.Event == wire.EventMaintenanceExp {
			exp = append(exp, e)
		}
	}
	if len(exp) != 2 {
		t.Fatalf("a's journal: %v, want 2 maintenance-expired", kinds(p.journal(t, "a")))
	}
	if e := exp[0]; e.Operator != "alice@laptop" || e.Reason != "forgotten" || e.Time.Sub(now.Add(-time.Hour)).Abs() > time.Millisecond {
		t.Errorf("first expiry: %+v, want alice@laptop's, at %s", e, now.Add(-time.Hour))
	}
	if e := exp[1]; e.Reason != "short" || e.Time.After(time.Now()) {
		t.Errorf("second expiry: %+v", e)
	}
}

// TestMaintenanceCheckDoesNotReconcile: keepalived BACKUP with a local
// master is what the check fixes (rule 5), but not in maintenance: the
// operator may be in the middle of something.
func TestMaintenanceCheckDoesNotReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := redistest.Start(t), redistest.Start(t)
	p := newPair(t, a, b, pairOpts{deadline: 500 * time.Millisecond})
	if err := b.Client().Set(ctx, "on-b", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if r := p.notify(t, "a", "FAULT"); r.code != 0 {
		t.Fatalf("FAULT notify: exit %d\n%s", r.code, r.stderr)
	}
	p.maintenance(t, "a", "on")
	a.Restart() // an empty master again, under keepalived FAULT
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
	}
	if ai := info(t, a); ai.Role != replication.RoleMaster {
		t.Fatalf("the check in maintenance made a %s; want it left alone", ai.Role)
	}
	p.maintenance(t, "a", "off")
	if r := p.hook(t, "a", "check"); r.code != 0 {
		t.Fatalf("check: exit %d\n%s", r.code, r.stderr)
	}
	if ai := info(t, a); ai.Role != replication.RoleReplica || ai.MasterPort != b.Port() {
		t.Fatalf("after maintenance the check left a %s of %d; want b's replica", ai.Role, ai.MasterPort)
	}
}
