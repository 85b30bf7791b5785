package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labtest"
)

// TestChaosDice: a seed always gives the same schedule, another seed a
// different one, and a long schedule has every kind and case in it, with
// no plan the soak cannot act out.
func TestChaosDice(t *testing.T) {
	draw := func(seed uint64, n int) []ChaosPlan {
		d := NewChaosDice(seed)
		plans := make([]ChaosPlan, n)
		for i := range plans {
			plans[i] = d.Next()
		}
		return plans
	}
	a, b := draw(42, 50), draw(42, 50)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("seed 42 gave two schedules")
	}
	if fmt.Sprint(a) == fmt.Sprint(draw(43, 50)) {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
	seen := map[string]bool{}
	for _, p := range draw(1, 2000) {
		seen[p.Kind] = true
		seen[p.Case] = true
		if p.Kind == KindDoubleFault {
			if (p.Case == NodeDown || p.Case == Partition) && !p.SecondOnNew {
				t.Errorf("%s: redis-restart on a node that is down or cut off", p.Name())
			}
			if p.Case == Partition && p.Second == Partition {
				t.Errorf("%s: both nodes cut off", p.Name())
			}
		}
		if p.Delay < 0 || p.Delay > 500*time.Millisecond {
			t.Errorf("%s: delay %s", p.Name(), p.Delay)
		}
	}
	for _, want := range append([]string{KindFault, KindSwitchover, KindSwitchoverFault, KindDoubleFault}, CaseNames()...) {
		if !seen[want] {
			t.Errorf("2000 steps without %s", want)
		}
	}
}

// TestChaosLossExpected pins down when a lost write is excused.
func TestChaosLossExpected(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ev := func(ms int, node, kind string) dataEvent { return dataEvent{at(ms), node, kind} }
	for _, c := range []struct {
		name   string
		events []dataEvent
		write  int // ms
		want   bool
	}{
		{"no fault", nil, 0, false},
		{"master killed: write just before", []dataEvent{ev(1000, "a", "kill")}, 850, true},
		{"master killed: write 500 ms before (the replica had it)", []dataEvent{ev(1000, "a", "kill")}, 500, false},
		{"master killed: write long before (the replica had it)", []dataEvent{ev(3000, "a", "kill")}, 500, false},
		{"master killed: write after (the new master's)", []dataEvent{ev(1000, "a", "kill")}, 1500, false},
		{"replica killed: the master has it", []dataEvent{ev(1000, "b", "kill")}, 800, false},
		{"killed during a switchover: either may have acknowledged", []dataEvent{ev(500, "", "serves"), ev(1000, "b", "kill")}, 900, true},
		{"partition: the cut node keeps its data", []dataEvent{ev(1000, "a", "cut")}, 800, false},
		{"both killed, in turn", []dataEvent{ev(1000, "a", "kill"), ev(4000, "b", "serves"), ev(9000, "b", "kill")}, 0, true},
		{"new master killed: its last writes", []dataEvent{ev(1000, "a", "cut"), ev(4000, "b", "serves"), ev(9000, "b", "kill")}, 8900, true},
		{"both killed: write on b after a died", []dataEvent{ev(1000, "a", "kill"), ev(9000, "b", "kill")}, 5000, true},
		{"a back in sync before b died", []dataEvent{ev(1000, "a", "kill"), ev(3000, "a", "back"), ev(9000, "b", "kill")}, 5000, false},
		{"a cut, then b killed: b's writes after the cut", []dataEvent{ev(1000, "a", "cut"), ev(9000, "b", "kill")}, 5000, true},
		{"a cut, then b killed: writes before the cut are on a", []dataEvent{ev(3000, "a", "cut"), ev(9000, "b", "kill")}, 500, false},
	} {
		r := &stepRun{events: append([]dataEvent{ev(-10000, "a", "serves")}, c.events...)}
		if got := r.lossExpected(at(c.write)); got != c.want {
			t.Errorf("%s: lossExpected = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestChaosSoak runs a short chaos soak with a fixed seed in a lab of its
// own (about two minutes; REDKEEP_CHAOS_DURATION sets the time steps may
// start in) and fails on any violation, printing the soak's table.
func TestChaosSoak(t *testing.T) {
	labtest.Require(t, Requirements)
	labtest.Lock(t, "rkchaost")
	d := 90 * time.Second
	if v := os.Getenv("REDKEEP_CHAOS_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatalf("REDKEEP_CHAOS_DURATION: %v", err)
		}
	}
	bin := filepath.Join(t.TempDir(), "redkeep")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/redkeep/redkeep").CombinedOutput(); err != nil {
		t.Fatalf("build redkeep: %v\n%s", err, out)
	}
	s := DefaultSettings()
	s.Dir = fmt.Sprintf("/run/redkeep-chaostest-%d", os.Getpid())
	s.Prefix = "rkchaost"
	s.Redkeep = bin
	s.Subnet = freeSubnet(t, "198.18.78.0/24", "198.18.79.0/24")
	t.Cleanup(func() {
		// Chaos removes its lab itself; this is for a panic on the way.
		if l, err := New(s); err == nil {
			_ = l.Down(context.Background())
		}
	})
	const seed = 20261201
	steps, err := Chaos(context.Background(), s, ChaosOptions{Duration: d, Seed: seed, Log: testLog{t}})
	var table bytes.Buffer
	rep := ChaosReport{Seed: seed, Duration: d.String(), Steps: steps, Violations: Violations(steps)}
	PrintChaos(&table, rep)
	t.Logf("\n%s", table.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 3 {
		t.Errorf("only %d steps in %s", len(steps), d)
	}
	for _, st := range steps {
		for _, v := range st.Violations {
			t.Errorf("step %d (%s): %s", st.N, st.Case, v)
		}
	}
	if !strings.Contains(table.String(), "seed 20261201") {
		t.Errorf("the table does not name the seed")
	}
}

// TestPrintChaos: the table has a row a step with its violation, and
// unverified writes show as "?".
func TestPrintChaos(t *testing.T) {
	var b bytes.Buffer
	PrintChaos(&b, ChaosReport{Seed: 7, Duration: "2m0s", Violations: 1, Steps: []ChaosStep{
		{N: 1, Case: "redis-down", Nodes: []string{"a"}, From: "a", To: "b", OutageMS: 1043, Acked: 900, Verified: true},
		{N: 2, Case: "switchover+partition", Nodes: []string{"b"}, From: "b", To: "b", Switchover: "refused: lag", Violations: []string{"two Redis masters"}},
	}})
	out := b.String()
	for _, want := range []string{"seed 7", "1 violations", "redis-down", "a->b", "1043", "VIOLATION: two Redis masters", "switchover refused: lag"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.Contains(lines[3], " ? ") {
		t.Errorf("want a title, a header and two rows, the second with lost \"?\":\n%s", out)
	}
}
