package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/doctor"
)

// recordedFacts are the facts doctor read in a lab (doctor/testdata).
func recordedFacts(t *testing.T, name string) doctor.Facts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "doctor", "testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f doctor.Facts
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRunDoctorWithFakes: runDoctor prints what the analysis found and
// exits 0 when clean, 1 with findings, without SSH.
func TestRunDoctorWithFakes(t *testing.T) {
	cfg := fakeConfig(t)
	for _, c := range []struct {
		name    string
		facts   func() doctor.Facts
		asJSON  bool
		code    int
		printed []string
	}{
		{"baseline", func() doctor.Facts { return recordedFacts(t, "baseline") }, false, exitUnhealthy,
			[]string{"CRITICAL a    nopreempt-negative-weight:", "fixed-sleep", "stop-leaves-two-masters", "empty-master-restart", "evidence:", "fix:", "doctor: 6 critical, 0 warning, 2 info"}},
		{"baseline, json", func() doctor.Facts { return recordedFacts(t, "baseline") }, true, exitUnhealthy,
			[]string{`"clean": false`, `"id": "fixed-sleep"`, `"severity": "critical"`}},
		{"redkeep", func() doctor.Facts { return recordedFacts(t, "redkeep") }, false, exitOK, []string{"doctor: no findings"}},
		{"redkeep, json", func() doctor.Facts { return recordedFacts(t, "redkeep") }, true, exitOK, []string{`"clean": true`, `"findings": []`}},
		{"info only is clean", func() doctor.Facts {
			f := recordedFacts(t, "redkeep")
			f.Nodes[0].KeepalivedConf.Read, f.Nodes[0].KeepalivedConf.Err = false, "cannot read it as redkeep: permission denied"
			return f
		}, false, exitOK, []string{"INFO", "cannot-read", "doctor: 0 critical, 0 warning, 1 info"}},
		{"a node sends an escape sequence", func() doctor.Facts {
			f := recordedFacts(t, "redkeep")
			f.Nodes[1] = doctor.NodeFacts{Node: "b", Err: "unreachable: \x1b[2Jgone"}
			return f
		}, false, exitUnhealthy, []string{"unreachable", "\ufffd[2Jgone"}},
		{"a node sends an escape sequence, json", func() doctor.Facts {
			f := recordedFacts(t, "redkeep")
			f.Nodes[1] = doctor.NodeFacts{Node: "b", Err: "unreachable: \x1b[2Jgone"}
			return f
		}, true, exitUnhealthy, []string{`\u001b[2Jgone`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			o := &doctorOptions{asJSON: c.asJSON, timeout: time.Second, out: &out,
				gather: func(ctx context.Context, _ *config.Config, _ time.Duration) doctor.Facts {
					if _, ok := ctx.Deadline(); !ok {
						t.Error("gather has no deadline")
					}
					return c.facts()
				}}
			err := runDoctor(context.Background(), cfg, o)
			if got := codeOf(err); got != c.code {
				t.Fatalf("exit %d (%v), want %d; printed:\n%s", got, err, c.code, out.String())
			}
			for _, p := range c.printed {
				if !strings.Contains(out.String(), p) {
					t.Errorf("output lacks %q:\n%s", p, out.String())
				}
			}
			if strings.Contains(out.String(), "\x1b") {
				t.Errorf("an escape reached the output:\n%q", out.String())
			}
			if c.asJSON && !json.Valid(out.Bytes()) {
				t.Errorf("--json printed invalid JSON:\n%s", out.String())
			}
		})
	}
}

func TestDoctorUsage(t *testing.T) {
	if code, out := execRoot("doctor", "-c", "../../config.yaml", "--timeout", "0s"); code != exitUsage || !strings.Contains(out, "--timeout must be positive") {
		t.Errorf("--timeout 0: exit %d\n%s", code, out)
	}
	if code, out := execRoot("doctor", "extra"); code != exitUsage {
		t.Errorf("an argument: exit %d\n%s", code, out)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	must(t, os.WriteFile(path, []byte("vip: nope\n"), 0o600))
	if code, out := execRoot("doctor", "-c", path); code != exitUsage {
		t.Errorf("bad config: exit %d\n%s", code, out)
	}
}
