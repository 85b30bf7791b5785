package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/internal/labenv"
)

// doctorJSON is what this test reads of `redkeep doctor --json`.
type doctorJSON struct {
	Clean    bool `json:"clean"`
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Node     string `json:"node"`
		Evidence string `json:"evidence"`
	} `json:"findings"`
}

func runDoctor(t *testing.T, cfg string) (int, doctorJSON, string) {
	t.Helper()
	code, out := redkeep(t, "doctor", "--json", "-c", cfg)
	var d doctorJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	return code, d, out
}

// TestDoctorInLab points the console and doctor at a pair that runs the
// origin document's scripts (lab up --baseline), then at a redkeep pair.
// Baseline: status shows the pair from plain facts with "hooks: not
// redkeep", switchover and resolve refuse with "deploy first", and doctor
// exits 1 naming the origin's hazards. redkeep: doctor exits 0 with no
// finding at all. It needs root (network namespaces) and the lab's packages.
func TestDoctorInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	l, st := labenv.UpBaseline(t, "rkdb", "198.18.87.0/24", "198.18.88.0/24", "198.19.87.0/24")
	cfg := st.Config

	// a keeps a syslog file, b only a journal (the lab's journal node): the
	// plain facts come from each.
	t.Run("baseline status", func(t *testing.T) {
		code, out := redkeep(t, "status", "-c", cfg)
		if code != exitOK || !strings.Contains(out, "hooks: not redkeep") || !strings.Contains(out, "MASTER (from syslog)") ||
			!strings.Contains(out, "BACKUP (from journal)") || !strings.Contains(out, "deploy first") {
			t.Fatalf("status: exit %d\n%s", code, out)
		}
		code, out = redkeep(t, "status", "--json", "-c", cfg)
		var s struct {
			statusJSON
			Notes []reasonJSON `json:"notes"`
			Nodes []struct {
				Node       string `json:"node"`
				Hooks      string `json:"hooks"`
				HoldsVIP   bool   `json:"holds_vip"`
				Keepalived struct {
					State     string `json:"state"`
					StateFrom string `json:"state_from"`
				} `json:"keepalived"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		if code != exitOK || !s.Healthy || s.VIPHolder != "a" || s.Master != "a" || len(s.Notes) != 1 || s.Notes[0].Code != "not-redkeep" || len(s.Nodes) != 2 {
			t.Fatalf("status --json: exit %d\n%s", code, out)
		}
		for i, want := range [][2]string{{"MASTER", "syslog"}, {"BACKUP", "journal"}} {
			n := s.Nodes[i]
			if n.Hooks != "not redkeep" || n.Keepalived.State != want[0] || n.Keepalived.StateFrom != want[1] || n.HoldsVIP != (i == 0) {
				t.Errorf("node %s: %+v, want hooks not redkeep, %s from %s", n.Node, n, want[0], want[1])
			}
		}
	})
	t.Run("baseline actions refused", func(t *testing.T) {
		code, out := redkeep(t, "switchover", "--yes", "-c", cfg)
		if code != exitRefused || !strings.Contains(out, "deploy first") || !strings.Contains(out, "nothing changed") {
			t.Errorf("switchover: exit %d, want %d with deploy first\n%s", code, exitRefused, out)
		}
		code, out = redkeep(t, "resolve", "--keep", "a", "--yes", "-c", cfg)
		if code != exitRefused || !strings.Contains(out, "deploy first") {
			t.Errorf("resolve: exit %d, want %d with deploy first\n%s", code, exitRefused, out)
		}
	})
	t.Run("baseline doctor", func(t *testing.T) {
		code, d, out := runDoctor(t, cfg)
		if code != exitUnhealthy || d.Clean {
			t.Fatalf("doctor: exit %d, want %d\n%s", code, exitUnhealthy, out)
		}
		var got []string
		for _, f := range d.Findings {
			got = append(got, f.Node+":"+f.ID)
		}
		for _, want := range []string{"a:nopreempt-negative-weight", "a:fixed-sleep", "b:fixed-sleep",
			"a:stop-leaves-two-masters", "b:stop-leaves-two-masters", "a:empty-master-restart", "a:not-redkeep", "b:not-redkeep"} {
			if !slices.Contains(got, want) {
				t.Errorf("doctor did not find %s; found %v", want, got)
			}
		}
		t.Logf("baseline findings: %v", got)
	})
	// One lab at a time: the redkeep lab comes up after the baseline's is gone.
	if err := l.Down(context.Background()); err != nil {
		t.Fatalf("lab down: %v", err)
	}

	_, st = labenv.Up(t, "rkdr", "198.18.87.0/24", "198.18.88.0/24", "198.19.87.0/24")
	t.Run("redkeep doctor", func(t *testing.T) {
		code, d, out := runDoctor(t, st.Config)
		if code != exitOK || !d.Clean || len(d.Findings) != 0 {
			t.Fatalf("doctor on the redkeep lab: exit %d, want 0 and no findings\n%s", code, out)
		}
		if code, out := redkeep(t, "doctor", "-c", st.Config); code != exitOK || !strings.Contains(out, "doctor: no findings") {
			t.Errorf("doctor: exit %d\n%s", code, out)
		}
	})
}
