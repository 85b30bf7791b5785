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
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/nodes"
)

// fleetDir writes a directory of pair files named names, each the example
// pair with its own VIP subnet.
func fleetDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, name := range names {
		p := configtest.Pair{VIP: "198.51.100.100/24", RouterID: 51 + i}
		p.Write(t, dir, name+".yaml")
	}
	return dir
}

// TestActionsNeedAPair: with several pairs every command acting on one
// pair refuses without --pair (exit 2, the pairs listed) and refuses a
// pair the config does not name; nothing is dialled.
func TestActionsNeedAPair(t *testing.T) {
	dir := fleetDir(t, "cache", "queue", "sessions")
	for _, args := range [][]string{
		{"switchover", "--dry-run"},
		{"resolve", "--keep", "a", "--dry-run"},
		{"keepalived-conf", "--node", "a"},
	} {
		code, out := execRoot(append(args, "-c", dir)...)
		if code != exitUsage || !strings.Contains(out, "names 3 pairs (cache, queue, sessions): say which with --pair NAME") {
			t.Errorf("%v: exit %d, want 2 asking for --pair:\n%s", args, code, out)
		}
		code, out = execRoot(append(args, "-c", dir, "--pair", "nope")...)
		if code != exitUsage || !strings.Contains(out, `--pair: no pair "nope" in `+dir+" (pairs: cache, queue, sessions)") {
			t.Errorf("%v --pair nope: exit %d, want 2 naming the pairs:\n%s", args, code, out)
		}
	}
	code, out := execRoot("status", "-c", dir, "--pair", "nope")
	if code != exitUsage || !strings.Contains(out, `no pair "nope"`) {
		t.Errorf("status --pair nope: exit %d:\n%s", code, out)
	}
	// With --pair, the pair's own config: keepalived-conf prints it.
	code, out = execRoot("keepalived-conf", "-c", dir, "--pair", "queue", "--node", "a")
	if code != exitOK || !strings.Contains(out, "virtual_router_id 52") {
		t.Errorf("keepalived-conf --pair queue: exit %d:\n%s", code, out)
	}
	// The hooks read one pair's file: a pairs flag is not theirs.
	if code, out := execRoot("hook", "check", "-c", dir, "--pair", "queue"); code != exitUsage {
		t.Errorf("hook check --pair: exit %d, want 2:\n%s", code, out)
	}
}

// TestFleetStatusWithFakes: status over several pairs probes each, prints
// each under its name and a line a pair, and exits 0 only when all are
// healthy.
func TestFleetStatusWithFakes(t *testing.T) {
	fleet, err := config.LoadFleet(fleetDir(t, "cache", "queue", "sessions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		bad    string // the pair whose replica's Redis is down
		maint  string // the pair whose master is in maintenance
		asJSON bool
		code   int
		want   []string
	}{
		{"one in maintenance", "", "sessions", false, exitMaintenance, []string{"sessions  healthy, MAINTENANCE on a", "MAINTENANCE on a: by alice@laptop: upgrade Redis", "all 3 pairs healthy"}},
		{"one down, one in maintenance", "queue", "sessions", false, exitUnhealthy, []string{"1 of 3 pairs NOT HEALTHY"}},
		{"all healthy", "", "", false, exitOK, []string{"== pair cache (VIP 198.51.100.100)", "== pair sessions", "all 3 pairs healthy"}},
		{"one down", "queue", "", false, exitUnhealthy, []string{"queue     NOT HEALTHY (", "1 of 3 pairs NOT HEALTHY", "cache     healthy"}},
		{"one down, json", "queue", "", true, exitUnhealthy, []string{`"pair": "queue"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			o := &statusOptions{asJSON: c.asJSON, timeout: time.Second, out: &out,
				probe: func(ctx context.Context, cfg *config.Config, _ time.Duration) []nodes.Snapshot {
					s := fakePair()
					if cfg.Pair == c.maint {
						s = inMaintenance()
					}
					if cfg.Pair == c.bad {
						s[1].Redis = nodes.Redis{Err: "dial tcp: connection refused"}
					}
					return s
				}}
			err := runFleetStatus(context.Background(), fleet.Pairs, o)
			if got := codeOf(err); got != c.code {
				t.Fatalf("exit %d (%v), want %d; printed:\n%s", got, err, c.code, out.String())
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if c.asJSON {
				var fs fleetStatusJSON
				if err := json.Unmarshal(out.Bytes(), &fs); err != nil || fs.Healthy || len(fs.Pairs) != 3 || fs.Pairs[1].Healthy || !fs.Pairs[0].Healthy {
					t.Errorf("json: %v %+v\n%s", err, fs, out.String())
				}
			}
		})
	}
}

// TestFleetStatusSlowPair: a pair whose probe does not return before
// --timeout does not hold up the others' report beyond it.
func TestFleetStatusSlowPair(t *testing.T) {
	fleet, err := config.LoadFleet(fleetDir(t, "fast", "slow"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := &statusOptions{timeout: 300 * time.Millisecond, out: &out,
		probe: func(ctx context.Context, cfg *config.Config, _ time.Duration) []nodes.Snapshot {
			if cfg.Pair == "slow" {
				<-ctx.Done()
				return []nodes.Snapshot{{Node: "a", Conn: nodes.ConnUnreachable, ConnErr: "timeout"}, {Node: "b", Conn: nodes.ConnUnreachable, ConnErr: "timeout"}}
			}
			return fakePair()
		}}
	start := time.Now()
	err = runFleetStatus(context.Background(), fleet.Pairs, o)
	if codeOf(err) != exitUnhealthy || time.Since(start) > 5*time.Second {
		t.Fatalf("exit %d after %v:\n%s", codeOf(err), time.Since(start), out.String())
	}
	if !strings.Contains(out.String(), "fast  healthy") || !strings.Contains(out.String(), "slow  NOT HEALTHY") {
		t.Errorf("output:\n%s", out.String())
	}
}

// TestStatusFleetOverSSH: status over a directory of two pairs on real
// sshd and redis-server processes: one healthy, one with the VIP on its
// replica; then --pair picks the healthy one alone.
func TestStatusFleetOverSSH(t *testing.T) {
	var srv [2]*sshtest.Server
	var rs [2]*redistest.Server
	kh := filepath.Join(t.TempDir(), "known_hosts")
	for i := range 2 {
		srv[i] = sshtest.Start(t)
		rs[i] = redistest.Start(t)
		srv[i].WriteKnownHosts(kh)
	}
	srv[1].Authorize(srv[0].ClientKey.PublicKey())
	rs[1].ReplicaOf(rs[0])
	dir := t.TempDir()
	for name, holder := range map[string]int{"good": 0, "wrong-vip": 1} {
		path := statusConfig(t, [2]int{srv[0].Port, srv[1].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, holder)
		b, err := os.ReadFile(path)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name+".yaml"), b, 0o600))
	}
	code, out := execRoot("status", "-c", dir)
	if code != exitUnhealthy || !strings.Contains(out, "vip-not-master") || !strings.Contains(out, "1 of 2 pairs NOT HEALTHY") ||
		!strings.Contains(out, "healthy: VIP 127.0.0.100 on a, master a") {
		t.Fatalf("exit %d, want 1 with one pair unhealthy:\n%s", code, out)
	}
	code, out = execRoot("status", "-c", dir, "--pair", "good", "--json")
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != exitOK || !s.Healthy || s.Pair != "good" {
		t.Errorf("--pair good: exit %d, %v, %+v\n%s", code, err, s, out)
	}
}
