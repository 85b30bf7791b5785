package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/wire"
)

// localNodes runs each node's redkeep verbs in this process, against a
// config and hook files of the node's own (as on two machines): the
// console side and the real node verbs, without SSH. A node in down
// answers like an unreachable host.
type localNodes struct {
	cfg  map[string]string // node -> config path
	mu   sync.Mutex
	down map[string]bool
}

func newLocalNodes(t *testing.T) (*localNodes, *config.Config) {
	t.Helper()
	dir := t.TempDir()
	l := &localNodes{cfg: map[string]string{}, down: map[string]bool{}}
	var cfg *config.Config
	for _, node := range []string{"a", "b"} {
		p := configtest.Pair{}.Hooks(filepath.Join(dir, node))
		l.cfg[node] = p.Write(t, dir, node+".yaml")
		c, err := config.Load(l.cfg[node])
		if err != nil {
			t.Fatal(err)
		}
		if cfg == nil {
			cfg = c
		}
	}
	return l, cfg
}

func (l *localNodes) Snapshots(context.Context) []nodes.Snapshot { return nil }

func (l *localNodes) Redkeep(_ context.Context, node string, args ...string) ([]byte, error) {
	l.mu.Lock()
	down := l.down[node]
	l.mu.Unlock()
	if down {
		return nil, errors.New("ssh " + node + ": dial tcp: connect: no route to host")
	}
	var out, errb bytes.Buffer
	argv := append(append([]string{}, args...), "--config", l.cfg[node], "--node", node)
	code := Main(argv, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != 0 {
		return out.Bytes(), errors.New("exit status " + string(rune('0'+code)) + ": " + errb.String())
	}
	return out.Bytes(), nil
}

func (l *localNodes) RedkeepStream(context.Context, string, ...string) (io.ReadCloser, error) {
	return nil, errors.New("no streams here")
}

func (l *localNodes) Close() error { return nil }

func (l *localNodes) record(t *testing.T, node string) (wire.Maintenance, bool) {
	t.Helper()
	c, err := config.Load(l.cfg[node])
	if err != nil {
		t.Fatal(err)
	}
	m, active, err := hooks.ReadMaintenance(c, time.Now())
	if err != nil {
		t.Fatalf("node %s: %v", node, err)
	}
	return m, active
}

func runMaint(t *testing.T, l *localNodes, cfg *config.Config, verb string, mod func(*maintenanceOptions)) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o := &maintenanceOptions{verb: verb, dur: wire.DefaultMaintenance, out: &out, now: time.Now,
		connect: func(*config.Config) (pairConns, error) { return l, nil }}
	if mod != nil {
		mod(o)
	}
	err := runMaintenance(context.Background(), cfg, o)
	return out.String(), err
}

// TestMaintenanceOnOffStatus: on writes the record on both nodes (who,
// where from, why, until when), status shows it, off ends it on both.
func TestMaintenanceOnOffStatus(t *testing.T) {
	l, cfg := newLocalNodes(t)
	start := time.Now()
	out, err := runMaint(t, l, cfg, wire.MaintenanceOn, func(o *maintenanceOptions) { o.reason, o.dur = "upgrade Redis to 7.2", 30*time.Minute })
	if err != nil {
		t.Fatalf("maintenance on: %v\n%s", err, out)
	}
	for _, node := range []string{"a", "b"} {
		m, active := l.record(t, node)
		if !active || m.Reason != "upgrade Redis to 7.2" || m.By == "" || m.Host == "" {
			t.Errorf("node %s: record %+v active=%v", node, m, active)
		}
		if d := m.Until.Sub(start); d < 29*time.Minute || d > 31*time.Minute {
			t.Errorf("node %s: until %s is %s after the start, want 30m", node, m.Until, d)
		}
		if !strings.Contains(out, node+": maintenance ON by ") {
			t.Errorf("output does not show %s in maintenance:\n%s", node, out)
		}
	}
	if !strings.Contains(out, "SHUTDOWN SAVE") {
		t.Errorf("on does not say how to restart Redis safely:\n%s", out)
	}

	out, err = runMaint(t, l, cfg, wire.MaintenanceStatus, func(o *maintenanceOptions) { o.asJSON = true })
	if err != nil {
		t.Fatalf("maintenance status: %v\n%s", err, out)
	}
	var st struct {
		Nodes []maintenanceNodeJSON `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Nodes) != 2 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for _, n := range st.Nodes {
		if !n.Active || n.Maintenance == nil || n.Maintenance.Reason != "upgrade Redis to 7.2" {
			t.Errorf("status of %s: %+v", n.Node, n)
		}
	}

	out, err = runMaint(t, l, cfg, wire.MaintenanceOff, nil)
	if err != nil {
		t.Fatalf("maintenance off: %v\n%s", err, out)
	}
	for _, node := range []string{"a", "b"} {
		if m, active := l.record(t, node); active || m.On || m.By == "" {
			t.Errorf("node %s after off: %+v active=%v", node, m, active)
		}
	}
	if strings.Count(out, "maintenance off (turned off by") != 2 {
		t.Errorf("off output:\n%s", out)
	}
}

// TestMaintenanceOnHalfState: with b unreachable, on turns maintenance on
// on a and says so, naming b as without it, and exits 1; off then works on
// whatever is reachable, and says which node it could not reach.
func TestMaintenanceOnHalfState(t *testing.T) {
	l, cfg := newLocalNodes(t)
	l.down["b"] = true
	out, err := runMaint(t, l, cfg, wire.MaintenanceOn, nil)
	if codeOf(err) != exitUnhealthy {
		t.Fatalf("exit %d (%v), want %d", codeOf(err), err, exitUnhealthy)
	}
	if msg := err.Error(); !strings.Contains(msg, "maintenance is ON on a but NOT on the others (b: ") || !strings.Contains(msg, "no route to host") {
		t.Errorf("the error does not say which node has it and which not: %v", err)
	}
	if !strings.Contains(out, "b: UNKNOWN: ") {
		t.Errorf("output:\n%s", out)
	}
	if _, active := l.record(t, "a"); !active {
		t.Error("a is not in maintenance")
	}
	if _, active := l.record(t, "b"); active {
		t.Error("b, unreachable, is in maintenance")
	}

	_, err = runMaint(t, l, cfg, wire.MaintenanceOff, nil)
	if codeOf(err) != exitUnhealthy || !strings.Contains(err.Error(), "maintenance is off on a; NOT turned off on the others (b: ") {
		t.Errorf("off with b down: exit %d (%v)", codeOf(err), err)
	}
	if _, active := l.record(t, "a"); active {
		t.Error("off left a in maintenance")
	}

	l.down["a"] = true
	if _, err := runMaint(t, l, cfg, wire.MaintenanceOn, nil); err == nil || !strings.Contains(err.Error(), "maintenance is NOT on on any node") {
		t.Errorf("on with both down: %v", err)
	}
}

// TestMaintenanceUsage: a duration that is not positive or above the
// maximum, or a reason with a control character, is a usage error found
// before any node is asked.
func TestMaintenanceUsage(t *testing.T) {
	_, cfg := newLocalNodes(t)
	for _, mod := range []func(*maintenanceOptions){
		func(o *maintenanceOptions) { o.dur = 0 },
		func(o *maintenanceOptions) { o.dur = -time.Minute },
		func(o *maintenanceOptions) { o.dur = 25 * time.Hour },
		func(o *maintenanceOptions) { o.reason = "bad\x1b[2J" },
		func(o *maintenanceOptions) { o.reason = strings.Repeat("r", 201) },
	} {
		o := &maintenanceOptions{verb: wire.MaintenanceOn, dur: time.Hour, out: io.Discard, now: time.Now,
			connect: func(*config.Config) (pairConns, error) {
				t.Fatal("connected before the flags were checked")
				return nil, nil
			}}
		mod(o)
		if err := runMaintenance(context.Background(), cfg, o); codeOf(err) != exitUsage {
			t.Errorf("dur %s reason %q: exit %d (%v), want %d", o.dur, o.reason, codeOf(err), err, exitUsage)
		}
	}
}

// TestHookMaintenanceRefusesBadInput: the node verb checks its own input,
// whatever the console sent, and writes nothing.
func TestHookMaintenanceRefusesBadInput(t *testing.T) {
	l, _ := newLocalNodes(t)
	for _, args := range [][]string{
		{"hook", "maintenance", "on", "--for", "0s"},
		{"hook", "maintenance", "on", "--for", "48h"},
		{"hook", "maintenance", "on", "--reason", "a\nb"},
		{"hook", "maintenance", "on", "--host", "a b"},
	} {
		out, err := l.Redkeep(context.Background(), "a", args...)
		if err == nil {
			t.Errorf("%q: accepted: %s", args, out)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(l.cfg["a"]), "a", "maintenance.json")); !os.IsNotExist(err) {
		t.Errorf("a refused verb wrote the maintenance file: %v", err)
	}
}

// TestConsoleMaintenance: the console's backend turns maintenance on and
// off on both nodes through the same node verbs.
func TestConsoleMaintenance(t *testing.T) {
	l, cfg := newLocalNodes(t)
	cm := consoleMaintenance{cfg: cfg, nodes: l}
	text, err := cm.Set(context.Background(), true, "console", 2*time.Hour)
	if err != nil || !strings.Contains(text, "a: maintenance ON by ") || !strings.Contains(text, "b: maintenance ON by ") {
		t.Fatalf("on: %q, %v", text, err)
	}
	if m, active := l.record(t, "b"); !active || m.Reason != "console" {
		t.Errorf("b: %+v active=%v", m, active)
	}
	l.down["a"] = true
	if _, err := cm.Set(context.Background(), false, "", 0); err == nil || !strings.Contains(err.Error(), "maintenance is off on b; NOT turned off on the others (a: ") {
		t.Errorf("off with a down: %v", err)
	}
}
