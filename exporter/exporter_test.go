package exporter

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/wire"
)

// testNode is one node's exporter on real redis-servers: a (master, the
// exporter's node) and b (its replica), with the hooks' files in a
// temporary directory.
type testNode struct {
	cfg  *config.Config
	c    *Collector
	reg  *prometheus.Registry
	dir  string
	a, b *redistest.Server
}

func newTestNode(t *testing.T, timeout time.Duration) *testNode {
	t.Helper()
	// DEBUG SLEEP (TestScrapeSleepingRedis) is allowed from loopback.
	a, b := redistest.Start(t, redistest.WithArgs("--enable-debug-command", "local")), redistest.Start(t)
	b.ReplicaOf(a)
	dir := t.TempDir()
	path := configtest.Pair{Nodes: [2]configtest.Node{
		{RedisAddr: a.Addr(), PeerAddr: a.Addr()},
		{RedisAddr: b.Addr(), PeerAddr: b.Addr()},
	}}.Hooks(dir).Write(t, dir, "config.yaml")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	self, err := cfg.Node("a")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{
		Cfg: cfg, Self: self, ScrapeTimeout: timeout, Version: "v9.9.9-test", SHA256: "0123456789ab",
		VIPHeld:           func() (bool, error) { return true, nil },
		KeepalivedRunning: func() bool { return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &testNode{cfg: cfg, c: c, reg: NewRegistry(c), dir: dir, a: a, b: b}
}

func (n *testNode) writeState(t *testing.T, s wire.State) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.cfg.Hooks.StateFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// scrape gathers the registry as Prometheus would.
type scrape map[string][]*dto.Metric

func (n *testNode) scrape(t *testing.T) scrape {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := scrape{}
	for _, mf := range mfs {
		s[mf.GetName()] = mf.GetMetric()
	}
	return s
}

// value is the value of metric name with the given labels (among others);
// ok is false when there is no such series.
func (s scrape) value(name string, labels ...string) (float64, bool) {
	for _, m := range s[name] {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
	}
	return 0, false
}

func (s scrape) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

func TestCollectMaster(t *testing.T) {
	n := newTestNode(t, 2*time.Second)
	since := time.Date(2026, 11, 30, 12, 0, 0, 500_000_000, time.UTC)
	n.writeState(t, wire.State{Node: "a", Instance: "VI_REDIS", State: wire.KAMaster, Since: since, Generation: 3, LastResult: wire.ResultOK})
	counters := hookstats.Path(n.cfg.Hooks.StateFile)
	for _, kr := range [][2]string{{"check", "ok"}, {"check", "ok"}, {"check", "failed"}, {"master", "ok"}, {"backup", "refused"}, {"switchover", "ok"}} {
		if err := hookstats.Add(counters, kr[0], kr[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.a.Client().Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s := n.scrape(t)

	s.want(t, 1, "redkeep_up", "node", "a", "pair", "198.51.100.100")
	s.want(t, 1, "redkeep_build_info", "version", "v9.9.9-test", "sha256", "0123456789ab")
	s.want(t, 1, "redkeep_keepalived_state", "state", "MASTER")
	s.want(t, 0, "redkeep_keepalived_state", "state", "BACKUP")
	s.want(t, float64(since.UnixMilli())/1000, "redkeep_last_transition_timestamp_seconds")
	s.want(t, 1, "redkeep_notify_last_result", "result", "ok")
	s.want(t, 1, "redkeep_keepalived_running")
	s.want(t, 1, "redkeep_vip_held")
	s.want(t, 0, "redkeep_drained")
	s.want(t, 1, "redkeep_redis_up")
	s.want(t, 1, "redkeep_redis_role", "role", "master")
	s.want(t, 0, "redkeep_redis_role", "role", "replica")
	s.want(t, 1, "redkeep_redis_connected_replicas")
	if off, _ := s.value("redkeep_redis_repl_offset_bytes"); off <= 0 {
		t.Errorf("redkeep_redis_repl_offset_bytes = %v, want > 0 after a write", off)
	}
	// The replica is named by its node, its lag measured in bytes.
	if lag, ok := s.value("redkeep_redis_replica_lag_bytes", "replica", "b"); !ok || lag < 0 {
		t.Errorf("redkeep_redis_replica_lag_bytes{replica=b} = %v (present %v)", lag, ok)
	}
	if _, ok := s.value("redkeep_redis_replica_ack_age_seconds", "replica", "b"); !ok {
		t.Error("no redkeep_redis_replica_ack_age_seconds{replica=b}")
	}
	if _, ok := s.value("redkeep_redis_master_link_up"); ok {
		t.Error("a master reports redkeep_redis_master_link_up")
	}
	s.want(t, 2, "redkeep_hook_runs_total", "kind", "check", "result", "ok")
	s.want(t, 1, "redkeep_hook_runs_total", "kind", "check", "result", "failed")
	s.want(t, 1, "redkeep_hook_runs_total", "kind", "master", "result", "ok")
	s.want(t, 1, "redkeep_hook_runs_total", "kind", "backup", "result", "refused")
	s.want(t, 0, "redkeep_hook_runs_total", "kind", "stop", "result", "overtaken")
	s.want(t, 1, "redkeep_switchovers_total", "result", "ok")
	s.want(t, 0, "redkeep_switchovers_total", "result", "refused")
	// The Go and process collectors are there, without the node labels.
	if _, ok := s["go_goroutines"]; !ok {
		t.Error("no go_goroutines")
	}
	if _, ok := s["process_start_time_seconds"]; !ok {
		t.Error("no process_start_time_seconds")
	}
}

func TestCollectReplicaAndBrokenFiles(t *testing.T) {
	n := newTestNode(t, 2*time.Second)
	self, _ := n.cfg.Node("b")
	c, err := New(Options{Cfg: n.cfg, Self: self, Version: "x",
		VIPHeld:           func() (bool, error) { return false, nil },
		KeepalivedRunning: func() bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n.c, n.reg = c, NewRegistry(c)
	// No notify yet: every state 0, no transition time, and still up.
	s := n.scrape(t)
	s.want(t, 1, "redkeep_up", "node", "b")
	for _, st := range []string{"MASTER", "BACKUP", "FAULT", "STOP"} {
		s.want(t, 0, "redkeep_keepalived_state", "state", st)
	}
	if _, ok := s.value("redkeep_last_transition_timestamp_seconds"); ok {
		t.Error("a transition time before any notify")
	}
	s.want(t, 0, "redkeep_vip_held")
	s.want(t, 0, "redkeep_keepalived_running")
	s.want(t, 1, "redkeep_redis_role", "role", "replica")
	s.want(t, 1, "redkeep_redis_master_link_up")
	s.want(t, 0, "redkeep_redis_sync_in_progress")
	// Measured as redkeep status does: an idle replica in sync is 0 s old.
	s.want(t, 0, "redkeep_redis_replication_lag_seconds")
	s.want(t, 1, "redkeep_redis_replication_lag_known")
	if _, ok := s.value("redkeep_redis_master_last_io_seconds"); !ok {
		t.Error("no redkeep_redis_master_last_io_seconds on a replica")
	}
	s.want(t, 0, "redkeep_hook_runs_total", "kind", "check", "result", "ok")

	// A state file that is not one, and a drained node: redkeep_up 0, and
	// the scrape still answers.
	if err := os.WriteFile(n.cfg.Hooks.StateFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.cfg.Keepalived.TrackFile, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = n.scrape(t)
	s.want(t, 0, "redkeep_up")
	s.want(t, 1, "redkeep_drained")
	s.want(t, 1, "redkeep_redis_up")
}

// TestCollectMaintenance: off, on, past its deadline (the gauge 0, the
// deadline still there, so an alert can see it ran over), and unreadable.
func TestCollectMaintenance(t *testing.T) {
	n := newTestNode(t, 2*time.Second)
	s := n.scrape(t)
	s.want(t, 0, "redkeep_maintenance_active")
	if _, ok := s.value("redkeep_maintenance_deadline_timestamp_seconds"); ok {
		t.Error("a maintenance deadline without a maintenance record")
	}
	write := func(m wire.Maintenance) {
		t.Helper()
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(n.cfg.Hooks.MaintenanceFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	write(wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade", Since: now, Until: now.Add(time.Hour)})
	s = n.scrape(t)
	s.want(t, 1, "redkeep_maintenance_active")
	s.want(t, float64(now.Add(time.Hour).UnixMilli())/1000, "redkeep_maintenance_deadline_timestamp_seconds")
	s.want(t, 1, "redkeep_up")

	write(wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade", Since: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)})
	s = n.scrape(t)
	s.want(t, 0, "redkeep_maintenance_active")
	s.want(t, float64(now.Add(-time.Hour).UnixMilli())/1000, "redkeep_maintenance_deadline_timestamp_seconds")

	write(wire.Maintenance{On: false, By: "alice", Host: "laptop", Since: now})
	s = n.scrape(t)
	s.want(t, 0, "redkeep_maintenance_active")
	if _, ok := s.value("redkeep_maintenance_deadline_timestamp_seconds"); ok {
		t.Error("a maintenance deadline after maintenance off")
	}

	if err := os.WriteFile(n.cfg.Hooks.MaintenanceFile, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = n.scrape(t)
	s.want(t, 0, "redkeep_maintenance_active")
	s.want(t, 0, "redkeep_up")
}

// A frozen Redis (SIGSTOP: it accepts connections and never answers) must
// not hang a scrape: it ends at the scrape timeout with redkeep_redis_up 0,
// and the next scrape after the server thaws sees it again.
func TestScrapeFrozenRedis(t *testing.T) {
	const timeout = 300 * time.Millisecond
	n := newTestNode(t, timeout)
	n.writeState(t, wire.State{Node: "a", State: wire.KAMaster, Since: time.Now(), LastResult: wire.ResultOK})
	srv := httptest.NewServer(Handler(n.reg, timeout, nil))
	defer srv.Close()

	n.a.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			n.a.Thaw()
		}
	}()
	for i := range 2 { // the second scrape finds the pool's connection gone
		start := time.Now()
		body := get(t, srv.URL+"/metrics")
		took := time.Since(start)
		// Generous: the point is that it returns, not how fast.
		if took > timeout+3*time.Second {
			t.Fatalf("scrape %d of a frozen Redis took %s with a %s timeout", i, took, timeout)
		}
		for _, line := range []string{`redkeep_redis_up{node="a",pair="198.51.100.100"} 0`, `redkeep_keepalived_state{node="a",pair="198.51.100.100",state="MASTER"} 1`} {
			if !strings.Contains(body, line+"\n") {
				t.Fatalf("scrape %d of a frozen Redis lacks %q:\n%s", i, line, body)
			}
		}
		t.Logf("scrape %d of a frozen Redis: %s", i, took)
	}
	n.a.Thaw()
	thawed = true
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(get(t, srv.URL+"/metrics"), `redkeep_redis_up{node="a",pair="198.51.100.100"} 1`) {
		if time.Now().After(deadline) {
			t.Fatal("redkeep_redis_up stayed 0 after the server thawed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A replica whose master is frozen still reports its own Redis within the
// scrape timeout; only its lag in seconds, which needs the master, is left
// out.
func TestScrapeReplicaOfFrozenMaster(t *testing.T) {
	const timeout = 500 * time.Millisecond
	n := newTestNode(t, timeout)
	self, _ := n.cfg.Node("b")
	c, err := New(Options{Cfg: n.cfg, Self: self, ScrapeTimeout: timeout, Version: "x",
		VIPHeld:           func() (bool, error) { return false, nil },
		KeepalivedRunning: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n.c, n.reg = c, NewRegistry(c)
	n.a.Freeze()
	defer n.a.Thaw()
	start := time.Now()
	s := n.scrape(t)
	if took := time.Since(start); took > timeout+3*time.Second {
		t.Fatalf("scrape took %s with a %s timeout", took, timeout)
	}
	s.want(t, 1, "redkeep_redis_up")
	s.want(t, 1, "redkeep_redis_role", "role", "replica")
	if v, ok := s.value("redkeep_redis_replication_lag_seconds"); ok {
		t.Errorf("lag in seconds %v reported with the master frozen", v)
	}
}

// DEBUG SLEEP holds the server busy with a command in flight: the same
// bound applies.
func TestScrapeSleepingRedis(t *testing.T) {
	const timeout = 300 * time.Millisecond
	n := newTestNode(t, timeout)
	done := make(chan error, 1)
	go func() { done <- n.a.Client().Do(context.Background(), "DEBUG", "SLEEP", "1").Err() }()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("DEBUG SLEEP: %v", err)
		}
	})
	time.Sleep(100 * time.Millisecond) // let the sleep start
	start := time.Now()
	s := n.scrape(t)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("scrape of a sleeping Redis took %s with a %s timeout", took, timeout)
	}
	s.want(t, 0, "redkeep_redis_up")
	s.want(t, 0, "redkeep_redis_role", "role", "master")
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

func TestParseListen(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"127.0.0.1:10121", "127.0.0.1:10121", ""},
		{"198.51.100.11:9999", "198.51.100.11:9999", ""},
		{"[::1]:10121", "[::1]:10121", ""},
		{"0.0.0.0:10121", "0.0.0.0:10121", ""},
		{":10121", "", "no address"},
		{"localhost:10121", "", "not an IP address"},
		{"[fe80::1%eth0]:10121", "", "not an IP address"},
		{"127.0.0.1", "", "want IP:PORT"},
		{"127.0.0.1:0", "", "want 1-65535"},
		{"127.0.0.1:70000", "", "want 1-65535"},
		{"127.0.0.1:http", "", "want 1-65535"},
	} {
		got, err := ParseListen(c.in)
		switch {
		case c.err == "" && (err != nil || got.String() != c.want):
			t.Errorf("ParseListen(%q) = %v, %v; want %s", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--listen")):
			t.Errorf("ParseListen(%q) error %v; want one naming --listen and saying %q", c.in, err, c.err)
		}
	}
}

// Serve answers /healthz and /metrics and returns cleanly once its context
// ends (SIGTERM in the command).
func TestServeShutdown(t *testing.T) {
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, netip.MustParseAddrPort("127.0.0.1:0"), Handler(reg, time.Second, nil), time.Second, func(a net.Addr) { addrs <- a })
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	if got := get(t, base+"/healthz"); got != "ok\n" {
		t.Fatalf("/healthz: %q", got)
	}
	get(t, base+"/metrics")
	resp, err := http.Post(base+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %s, want 405", resp.Status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(shutdownGrace + 2*time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	// A port already taken is an error naming the address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap, _ := ParseListen(ln.Addr().String())
	if err := Serve(context.Background(), ap, Handler(reg, time.Second, nil), time.Second, nil); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Serve on a taken port: %v", err)
	}
}

// promtool is Prometheus's own checker (Debian's prometheus package). Where
// it is missing the test skips, except as root or under CI, which install
// it (scripts/setup): there a skip would hide that the check never ran.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	why := "promtool is not installed (apt-get install --no-install-recommends prometheus; scripts/setup does)"
	if os.Getenv("CI") != "" || os.Geteuid() == 0 {
		t.Fatal(why + " ($CI is set or running as root: this must run)")
	}
	t.Skip(why)
	return ""
}

func runPromtool(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// promtool check metrics lints a real scrape: names, units, _total
// counters, help texts.
func TestPromtoolCheckMetrics(t *testing.T) {
	n := newTestNode(t, 2*time.Second)
	n.writeState(t, wire.State{Node: "a", State: wire.KAMaster, Since: time.Now(), LastResult: wire.ResultOK})
	// The master's scrape, then the replica's (its own series: link, lag).
	regs := []*prometheus.Registry{n.reg}
	self, _ := n.cfg.Node("b")
	c, err := New(Options{Cfg: n.cfg, Self: self, Version: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	regs = append(regs, NewRegistry(c))
	for i, reg := range regs {
		srv := httptest.NewServer(Handler(reg, 2*time.Second, nil))
		body := get(t, srv.URL+"/metrics")
		srv.Close()
		if !strings.Contains(body, "redkeep_redis_role") {
			t.Fatalf("scrape %d has no redkeep_redis_role:\n%s", i, body)
		}
		if out := runPromtool(t, body, "check", "metrics"); strings.TrimSpace(out) != "" {
			t.Fatalf("promtool check metrics on scrape %d:\n%s", i, out)
		}
	}
}

func TestAlertRules(t *testing.T) {
	dir := filepath.Join("..", "docs", "prometheus")
	t.Run("check", func(t *testing.T) {
		out := runPromtool(t, "", "check", "rules", filepath.Join(dir, "alerts.yml"))
		if !strings.Contains(out, "SUCCESS") {
			t.Fatalf("promtool check rules:\n%s", out)
		}
	})
	// The unit tests fire each alert on a broken pair and stay silent on a
	// healthy one; promtool fails on either mistake.
	t.Run("test", func(t *testing.T) {
		out := runPromtool(t, "", "test", "rules", filepath.Join(dir, "alerts_test.yml"))
		if !strings.Contains(out, "SUCCESS") {
			t.Fatalf("promtool test rules:\n%s", out)
		}
	})
}
