package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/internal/testport"
)

// TestSwitchoverExitCodes runs the command through Main, as main does:
// usage errors exit 2, a pair it cannot reach is refused with 3 and
// nothing is attempted.
func TestSwitchoverExitCodes(t *testing.T) {
	dir := t.TempDir()
	ssh := func() string {
		return fmt.Sprintf("{host: 127.0.0.1, port: %d, user: nobody, known_hosts: %s/known_hosts, identity_files: [%s/none]}", testport.Free(t), dir, dir)
	}
	cfg := configtest.Pair{VIP: "127.0.0.100/8", Nodes: [2]configtest.Node{
		{Host: "127.0.0.11", Interface: "lo", SSH: ssh()},
		{Host: "127.0.0.12", Interface: "lo", SSH: ssh()},
	}}.Write(t, dir, "config.yaml")
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"bad method", []string{"switchover", "-c", cfg, "--method", "bogus", "--dry-run"}, exitUsage},
		{"unknown target", []string{"switchover", "-c", cfg, "--to", "c", "--dry-run"}, exitUsage},
		{"negative lag", []string{"switchover", "-c", cfg, "--max-lag", "-1", "--dry-run"}, exitUsage},
		{"negative pause budget", []string{"switchover", "-c", cfg, "--max-pause", "-1s", "--dry-run"}, exitUsage},
		{"pause budget too short", []string{"switchover", "-c", cfg, "--max-pause", "1ms", "--dry-run"}, exitUsage},
		{"pause budget over a third of the timeout", []string{"switchover", "-c", cfg, "--max-pause", "2s", "--timeout", "5s", "--dry-run"}, exitUsage},
		{"node-local pause budget too short", []string{"hook", "switchover-run", "-c", cfg, "--node", "a", "--to", "b", "--owner", "x", "--max-pause", "1ms"}, exitUsage},
		{"missing config", []string{"switchover", "-c", filepath.Join(dir, "nope.yaml"), "--dry-run"}, exitUsage},
		{"unreachable pair, dry run", []string{"switchover", "-c", cfg, "--dry-run"}, exitRefused},
		{"unreachable pair", []string{"switchover", "-c", cfg, "--yes"}, exitRefused},
		{"node-local run without its flags", []string{"hook", "switchover-run", "-c", cfg, "--node", "a"}, exitUsage},
		{"node-local lock without an owner", []string{"hook", "switchover-lock", "acquire", "-c", cfg, "--node", "a"}, exitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Main(tt.args, Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}); got != tt.want {
				t.Errorf("redkeep %v exited %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

func TestConfirmTarget(t *testing.T) {
	plan := actions.Plan{From: "a", To: "b"}
	for in, ok := range map[string]bool{"b\n": true, "  b \n": true, "b": true, "a\n": false, "yes\n": false, "\n": false, "": false} {
		var out strings.Builder
		err := confirmTarget(strings.NewReader(in), &out, plan)
		if (err == nil) != ok {
			t.Errorf("typed %q: err = %v, want ok %v", in, err, ok)
		}
		if !strings.Contains(out.String(), "Type the target's name (b)") {
			t.Errorf("prompt = %q", out.String())
		}
	}
}

// TestSwitchoverPrintsHostileText: the preflight table, the steps and
// their JSON lines show what the nodes sent as text; JSON keeps it exact.
func TestSwitchoverPrintsHostileText(t *testing.T) {
	plan := actions.Plan{From: "a", To: "b", Limits: actions.Limits{MaxPause: time.Second, MaxLag: 1 << 20}, Checks: []actions.Check{
		{Name: actions.CheckReplicaOf, Node: "b", Value: "replica of " + hostileHost + ":6379", Threshold: "replica of 127.0.0.11:6379"},
		{Name: actions.CheckVersions, Value: "a v1\u202e, b v1\t\x1b[8m", Threshold: "equal", Pass: true},
	}}
	step := actions.Step{Name: "redis", Node: "a", State: actions.StepFailed, Detail: "ERR \x1b]0;owned\x07\nsecond line\u2066", Time: time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)}

	var text strings.Builder
	printPlan(&text, "config", plan, false)
	printStep(&text, step, false)
	out := text.String()
	if what, bad := termUnsafe(out); bad {
		t.Errorf("text output has %s", what)
	}
	for _, want := range []string{"replica of \uFFFD]52;c;SGVsbG8=\uFFFDevil", "a v1\uFFFD, b v1 \uFFFD[8m", "ERR \uFFFD]0;owned\uFFFD second line\uFFFD"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("%d lines, want 5 (title, header, 2 checks, 1 step):\n%s", n, out)
	}

	var js strings.Builder
	printPlan(&js, "config", plan, true)
	printStep(&js, step, true)
	if what, bad := termUnsafe(js.String()); bad {
		t.Errorf("JSON output has %s", what)
	}
	lines := strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n")
	var gotPlan struct{ Plan actions.Plan }
	var gotStep struct{ Step actions.Step }
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &gotPlan) != nil || json.Unmarshal([]byte(lines[1]), &gotStep) != nil {
		t.Fatalf("not two JSON lines:\n%s", js.String())
	}
	if gotPlan.Plan.Checks[0].Value != plan.Checks[0].Value || gotStep.Step.Detail != step.Detail {
		t.Errorf("JSON changed the nodes' text: %+v %+v", gotPlan.Plan.Checks[0], gotStep.Step)
	}
}

// TestSwitchoverDryRunHostileMasterHost: the dry run against a real
// redis-server whose master_host is an escape sequence refuses, and
// neither its table nor its error (as main prints it) carries the sequence.
func TestSwitchoverDryRunHostileMasterHost(t *testing.T) {
	var srv [2]*sshtest.Server
	var rs [2]*redistest.Server
	kh := filepath.Join(t.TempDir(), "known_hosts")
	for i := range 2 {
		srv[i] = sshtest.Start(t)
		rs[i] = redistest.Start(t)
		srv[i].WriteKnownHosts(kh)
	}
	srv[1].Authorize(srv[0].ClientKey.PublicKey())
	if err := rs[1].Client().Do(t.Context(), "REPLICAOF", hostileHost, "6379").Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	cfg := statusConfig(t, [2]int{srv[0].Port, srv[1].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, 0)

	root := newRootCmd(Streams{In: strings.NewReader("")}, "")
	root.SetArgs([]string{"switchover", "--dry-run", "-c", cfg})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	if exitCode(err) != exitRefused {
		t.Fatalf("exit %d (%v), want %d\n%s", exitCode(err), err, exitRefused, out.String())
	}
	printError(&out, err)
	if what, bad := termUnsafe(out.String()); bad {
		t.Errorf("switchover printed %s", what)
	}
	if n := strings.Count(out.String(), "\uFFFD]52;c;SGVsbG8=\uFFFDevil\uFFFD1.0.0.01"); n != 2 {
		t.Errorf("the master host shows %d times as text, want 2 (table, error):\n%s", n, out.String())
	}
}

// TestPrintError: main prints an error's text cleaned, keeping the line
// breaks of errors that join several.
func TestPrintError(t *testing.T) {
	var b strings.Builder
	printError(&b, fmt.Errorf("first \x1b[2J\u202e\nsecond\x07"))
	if got, want := b.String(), "redkeep: first \uFFFD[2J\uFFFD\nsecond\uFFFD\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
}
