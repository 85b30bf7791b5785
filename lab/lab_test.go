package lab

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/loadcheck"
)

func TestSettingsValidate(t *testing.T) {
	good := DefaultSettings()
	if err := good.Validate(); err != nil {
		t.Fatalf("default settings: %v", err)
	}
	for _, jn := range []string{"a", "b", JournalNone} {
		s := DefaultSettings()
		if s.JournalNode = jn; s.Validate() != nil || s.journalOnly("a") != (jn == "a") || s.journalOnly("b") != (jn == "b") {
			t.Errorf("journal node %q: %v", jn, s.Validate())
		}
	}
	if s := DefaultSettings(); !s.journalOnly("b") || s.journalOnly("a") {
		t.Error("by default b is the journal-only node")
	}
	for name, mut := range map[string]func(*Settings){
		"relative dir":   func(s *Settings) { s.Dir = "lab" },
		"root dir":       func(s *Settings) { s.Dir = "/" },
		"long prefix":    func(s *Settings) { s.Prefix = "averylongprefix" },
		"prefix digit":   func(s *Settings) { s.Prefix = "1lab" },
		"ipv6 subnet":    func(s *Settings) { s.Subnet = netip.MustParsePrefix("fd00::/64") },
		"tiny subnet":    func(s *Settings) { s.Subnet = netip.MustParsePrefix("198.51.100.0/28") },
		"host bits set":  func(s *Settings) { s.Subnet = netip.MustParsePrefix("198.51.100.7/24") },
		"unset subnet":   func(s *Settings) { s.Subnet = netip.Prefix{} },
		"journal node c": func(s *Settings) { s.JournalNode = "c" },
		"ssh user alice": func(s *Settings) { s.SSHUser = "alice" },
	} {
		t.Run(name, func(t *testing.T) {
			s := DefaultSettings()
			mut(&s)
			if err := s.Validate(); err == nil {
				t.Fatalf("accepted %+v", s)
			}
		})
	}
}

func TestSettingsAddresses(t *testing.T) {
	s := DefaultSettings()
	s.Subnet = netip.MustParsePrefix("10.99.0.0/16")
	for got, want := range map[netip.Addr]string{
		s.BridgeAddr(): "10.99.0.1", s.NodeAddr("a"): "10.99.0.11",
		s.NodeAddr("b"): "10.99.0.12", s.VIP(): "10.99.0.100",
	} {
		if got.String() != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	if s.Bridge() != "rklab0" || s.Namespace("a") != "rklab-a" || len(s.nodeVeth("b")) > 15 {
		t.Errorf("names: %s %s %s", s.Bridge(), s.Namespace("a"), s.nodeVeth("b"))
	}
}

func TestCheckSubnetFree(t *testing.T) {
	// As seen on a VM whose own LAN is a documentation range.
	uses := []hostUse{
		{What: "address 192.0.2.2/24 on eth0", Prefix: netip.MustParsePrefix("192.0.2.0/24")},
		{What: "gateway 192.0.2.1", Prefix: netip.MustParsePrefix("192.0.2.1/32")},
		{What: "route 10.0.0.0/8 via 192.0.2.1", Prefix: netip.MustParsePrefix("10.0.0.0/8")},
	}
	ctx := context.Background()
	for subnet, wantErr := range map[string]bool{
		"192.0.2.0/24":    true,  // the host's LAN
		"192.0.2.0/25":    true,  // inside it
		"192.0.0.0/16":    true,  // around it
		"10.20.0.0/16":    true,  // routed elsewhere
		"198.51.100.0/24": false, // free
		"203.0.113.0/24":  false,
	} {
		err := checkSubnetFree(ctx, netip.MustParsePrefix(subnet), uses)
		if (err != nil) != wantErr {
			t.Errorf("%s: err = %v, want error %v", subnet, err, wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "--subnet") {
			t.Errorf("%s: error does not say what to do: %v", subnet, err)
		}
	}
}

// TestHostUsesSeesThisMachine reads the real machine: its loopback address
// must be among the uses, and a lab on 127.0.0.0/8 refused.
func TestHostUsesSeesThisMachine(t *testing.T) {
	uses, err := hostUses(context.Background())
	if err != nil {
		t.Skipf("ip(8) not usable here: %v", err)
	}
	if err := checkSubnetFree(context.Background(), netip.MustParsePrefix("127.0.0.0/16"), uses); err == nil {
		t.Fatalf("a lab on the loopback network was accepted; uses: %+v", uses)
	}
}

func TestFormatSyslog(t *testing.T) {
	now := time.Date(2026, 11, 26, 0, 11, 55, 0, time.UTC)
	for in, want := range map[string]string{
		// glibc syslog(3), as keepalived sends it.
		"<30>Nov 26 00:11:55 Keepalived_vrrp[123]: (VI_REDIS) Entering MASTER STATE": "Nov 26 00:11:55 a Keepalived_vrrp[123]: (VI_REDIS) Entering MASTER STATE\n",
		// Go's log/syslog, as the hooks send it, with a trailing newline.
		"<14>Nov  6 01:02:03 redkeep[9]: hook check: ok\n": "Nov  6 01:02:03 a redkeep[9]: hook check: ok\n",
		// No timestamp: the receive time is used.
		"<13>sshd[5]: Server listening": "Nov 26 00:11:55 a sshd[5]: Server listening\n",
		// Embedded newlines stay on one line.
		"<13>Nov 26 00:11:55 x[1]: one\ntwo": "Nov 26 00:11:55 a x[1]: one two\n",
	} {
		if got := FormatSyslog(in, "a", now); got != want {
			t.Errorf("FormatSyslog(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVRRPState(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "syslog")
	lines := `Nov 26 00:11:50 a Keepalived_vrrp[7]: (VI_REDIS) Entering BACKUP STATE (init)
Nov 26 00:11:53 a redkeep[9]: Entering MASTER STATE (a quote, not keepalived)
Nov 26 00:11:54 a Keepalived_vrrp[7]: (VI_REDIS) Entering MASTER STATE
Nov 26 00:11:58 a Keepalived_vrrp[7]: (VI_REDIS) Entering FAULT STATE
`
	if err := os.WriteFile(f, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := vrrpState(f); got != "FAULT" {
		t.Fatalf("vrrpState = %q, want FAULT", got)
	}
	if got := vrrpState(filepath.Join(dir, "missing")); got != "" {
		t.Fatalf("vrrpState(missing) = %q", got)
	}
}

func TestParseInfo(t *testing.T) {
	info := "# Replication\r\nrole:slave\r\nmaster_host:198.51.100.11\r\nmaster_port:6379\r\nmaster_link_status:up\r\nmaster_sync_in_progress:0\r\nmaster_repl_offset:1234\r\n\r\n# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\ndb3:keys=5,expires=1,avg_ttl=0\r\n"
	v := parseInfo(info)
	want := RedisView{Up: true, Role: "replica", MasterHost: "198.51.100.11", LinkUp: true, Offset: 1234, Keys: 15}
	if v != want {
		t.Fatalf("parseInfo = %+v, want %+v", v, want)
	}
}

func healthyStatus() *Status {
	procs := map[string]int{procSyslogd: 1, procRedis: 2, procSSHD: 3, procKeepalived: 4, procExporter: 5}
	// b is the journal-only node by default.
	procsB := map[string]int{procSyslogd: 1, procRedis: 2, procSSHD: 3, procKeepalived: 4, procExporter: 5, procJournald: 6}
	return &Status{VIP: "198.51.100.100", Nodes: []NodeStatus{
		{Name: "a", Address: "198.51.100.11", LinkUp: true, Processes: procs, Keepalived: "MASTER", HoldsVIP: true,
			Redis: RedisView{Up: true, Role: "master"}},
		{Name: "b", Address: "198.51.100.12", LinkUp: true, Processes: procsB, Keepalived: "BACKUP",
			Redis: RedisView{Up: true, Role: "replica", MasterHost: "198.51.100.11", LinkUp: true}},
	}}
}

func TestJudge(t *testing.T) {
	s := DefaultSettings()
	st := healthyStatus()
	st.judge(&s)
	if !st.Healthy || st.VIPHolder != "a" {
		t.Fatalf("healthy pair judged %v (%v)", st.Healthy, st.Problems)
	}
	for name, c := range map[string]struct {
		mut  func(*Status)
		want string
	}{
		"two masters":      {func(st *Status) { st.Nodes[1].Redis.Role = "master" }, "two Redis masters"},
		"both hold VIP":    {func(st *Status) { st.Nodes[1].HoldsVIP = true }, "both nodes hold the VIP"},
		"no VIP":           {func(st *Status) { st.Nodes[0].HoldsVIP = false }, "no node holds the VIP"},
		"replica link":     {func(st *Status) { st.Nodes[1].Redis.LinkUp = false }, "replication link down"},
		"wrong master":     {func(st *Status) { st.Nodes[1].Redis.MasterHost = "198.51.100.99" }, "replicates from"},
		"backup in fault":  {func(st *Status) { st.Nodes[1].Keepalived = "FAULT" }, "not BACKUP"},
		"keepalived down":  {func(st *Status) { st.Nodes[1].Processes = map[string]int{procRedis: 1} }, "not running"},
		"journald down":    {func(st *Status) { st.Nodes[1].Processes[procJournald] = 0 }, "b: not running: journald"},
		"VIP on a replica": {func(st *Status) { st.Nodes[0].Redis.Role = "replica" }, "its Redis is a replica"},
		"hook running":     {func(st *Status) { st.Nodes[0].RunningHooks = 1 }, "still running"},
	} {
		t.Run(name, func(t *testing.T) {
			st := healthyStatus()
			c.mut(st)
			st.judge(&s)
			if st.Healthy || !strings.Contains(strings.Join(st.Problems, "; "), c.want) {
				t.Fatalf("healthy=%v problems=%v, want %q", st.Healthy, st.Problems, c.want)
			}
		})
	}
}

func TestLabConfigLoads(t *testing.T) {
	s := DefaultSettings()
	text, err := s.configYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"vip: 198.51.100.100/24", "host: 198.51.100.11", "user: redkeep", "known_hosts: /run/redkeep-lab/console/known_hosts", "state_log: /run/redkeep-lab/node/redis-state.log", "event_log: /run/redkeep-lab/node/events.jsonl", "command: [/run/redkeep-lab/bin/notify]"} {
		if !strings.Contains(text, want) {
			t.Errorf("lab config lacks %q:\n%s", want, text)
		}
	}
	cfg, err := config.Parse([]byte(text), "lab config.yaml")
	if err != nil {
		t.Fatalf("the lab's config does not load: %v", err)
	}
	if _, err := hooks.KeepalivedConf(cfg, "b"); err != nil {
		t.Fatalf("keepalived.conf for b: %v", err)
	}
	s.SSHUser = RootSSHUser
	if text, err = s.configYAML(); err != nil || !strings.Contains(text, "user: root") || strings.Contains(text, "user: redkeep") {
		t.Errorf("lab config with --ssh-user root: %v\n%s", err, text)
	}
}

// FuzzFormatSyslog: whatever a process sends to /dev/log becomes exactly one
// line naming the host.
func FuzzFormatSyslog(f *testing.F) {
	for _, s := range []string{"<30>Nov 26 00:11:55 Keepalived_vrrp[123]: x", "<14>", "", "<999999>Nov", "plain\nline\r\n", "\x00\x00"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, msg string) {
		out := FormatSyslog(msg, "a", now)
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("FormatSyslog(%q) = %q: not one line", msg, out)
		}
		if !strings.Contains(out, " a ") {
			t.Fatalf("FormatSyslog(%q) = %q: host missing", msg, out)
		}
	})
}

func TestPrintBench(t *testing.T) {
	row := func(mode, kase string, ms int) BenchRow {
		return BenchRow{Mode: mode, CaseResult: CaseResult{Case: kase, From: "a", To: "b", Window: time.Duration(ms) * time.Millisecond,
			Load: &loadcheck.Result{Verified: true, Attempts: 10, Failed: 2}}}
	}
	rows := []BenchRow{row("redkeep", RedisDown, 900), row("redkeep", RedisDown, 1500), row("redkeep", RedisDown, 1100), row("baseline", RedisDown, 24000)}
	var b strings.Builder
	PrintBench(&b, rows)
	if !strings.Contains(b.String(), "redis-down") || strings.Count(b.String(), "\n") != 5 {
		t.Fatalf("table:\n%s", b.String())
	}
	b.Reset()
	PrintBenchSummary(&b, rows)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`redkeep\s+redis-down\s+3\s+900\s+1100\s+1500\s+0`).MatchString(lines[1]) {
		t.Fatalf("summary:\n%s", b.String())
	}
}

func TestSplitOutages(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	o := func(start, end int) loadcheck.Outage {
		return loadcheck.Outage{Start: t0.Add(time.Duration(start) * time.Millisecond), End: t0.Add(time.Duration(end) * time.Millisecond)}
	}
	outs := []loadcheck.Outage{o(0, 800), o(1000, 1100), o(5000, 6400), {Start: t0.Add(9 * time.Second)}}
	f, h := splitOutages(outs, t0.Add(4*time.Second))
	if f != 800*time.Millisecond || h != 1400*time.Millisecond {
		t.Fatalf("split = %s, %s", f, h)
	}
	if f, h := splitOutages(outs, time.Time{}); f != 1400*time.Millisecond || h != 0 {
		t.Fatalf("no heal: split = %s, %s", f, h)
	}
}

func TestTCPPeers(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:426A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 75843 1 0000000000000000 100 0 0 10 0
   3: 017100CB:BC12 507100CB:01BB 01 00000000:00000000 03:000006A8 00000000     0        0 0 3 0000000000000000
   4: 014B12C6:9C40 0B4B12C6:18EB 06 00000000:00000000 03:00000F2B 00000000     0        0 0 3 0000000000000000
   5: 014B12C6:9C42 0C4B12C6:18EB 02 00000000:00000000 01:00000064 00000002     0        0 81811 2 0000000000000000
garbage
`
	// The listener and the TIME_WAIT socket of a removed lab (198.18.75.11)
	// do not count; an established connection and a dial in flight do.
	got := tcpPeers([]byte(table))
	want := []string{"203.0.113.80", "198.18.75.12"}
	if len(got) != len(want) {
		t.Fatalf("tcpPeers = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("peer %d = %s, want %s", i, got[i], want[i])
		}
	}
	// A connection's peer makes its subnet taken: a lab bridge there would
	// swallow the machine's traffic to it.
	uses := []hostUse{{What: "connection to 203.0.113.80", Prefix: netip.MustParsePrefix("203.0.113.80/32")}}
	if err := checkSubnetFree(context.Background(), netip.MustParsePrefix("203.0.113.0/24"), uses); err == nil {
		t.Error("a subnet holding a connection's peer was accepted")
	}
}

func TestLabConfigTiming(t *testing.T) {
	s := DefaultSettings()
	check := func(want Timing) {
		t.Helper()
		text, err := s.configYAML()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse([]byte(text), "lab config.yaml")
		if err != nil {
			t.Fatalf("the lab's config does not load: %v\n%s", err, text)
		}
		k := cfg.Keepalived
		if got := (Timing{cfg.Nodes[0].Keepalived.Priority, cfg.Nodes[1].Keepalived.Priority, k.AdvertInt, k.VRRPVersion}); got != want {
			t.Errorf("lab config timing = %s, want %s", got, want)
		}
	}
	check(ShippedTiming)
	s.Timing = TodayTiming
	check(TodayTiming)
	s.ExtraConfig = "unknown_knob: 1"
	if text, _ := s.configYAML(); !strings.HasSuffix(text, "\nunknown_knob: 1\n") {
		t.Errorf("extra config not appended at the top level:\n%s", text)
	}
	s.Timing = Timing{PriorityA: 100, PriorityB: 100, AdvertInt: time.Second, VRRPVersion: 2}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "priorities must be 1-254 and differ") {
		t.Errorf("equal priorities: %v", err)
	}
	if got := modeSettings(DefaultSettings(), ModeToday); got.Timing != TodayTiming || got.Baseline || !got.NoWatch {
		t.Errorf("today's settings: %+v", got)
	}
	if got := modeSettings(DefaultSettings(), ModeBaseline); !got.Baseline {
		t.Errorf("baseline settings: %+v", got)
	}
}

func TestPrintBenchSideBySide(t *testing.T) {
	row := func(mode, kase string, ms, lost int, err error) BenchRow {
		r := BenchRow{Mode: mode, CaseResult: CaseResult{Case: kase, Window: time.Duration(ms) * time.Millisecond, Err: err,
			Load: &loadcheck.Result{Verified: true}}}
		for range lost {
			r.Load.Lost = append(r.Load.Lost, loadcheck.Write{})
		}
		return r
	}
	rows := []BenchRow{
		row(ModeRedkeep, PlannedSwitchover, 12, 0, nil), row(ModeRedkeep, PlannedSwitchover, 210, 0, nil), row(ModeRedkeep, PlannedSwitchover, 9, 0, nil),
		row(ModeToday, PlannedSwitchover, 620, 0, nil),
		row(ModeRedkeep, NodeDown, 400, 3, nil), row(ModeToday, NodeDown, 3300, 0, errors.New("x")),
		row(ModeBaseline, NodeDown, 21000, 0, nil),
	}
	var b strings.Builder
	PrintBenchSideBySide(&b, rows, BenchModes)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", b.String())
	}
	for i, re := range []string{
		`^window ms .*\| redkeep\s+\| today\s+\| baseline`,
		`^switchover\s+\| 12/210, 0 lost \(3\)\s+\| 620/620, 0 lost \(1\)\s+\| -`,
		`^node-down\s+\| 400/400, 3 lost \(1\)\s+\| 3300/3300, 0 lost \(1\) \(1 failed\)\s*\| 21000/21000, 0 lost \(1\)`,
	} {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want %s", i, lines[i], re)
		}
	}
}

func TestSoakLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syslog")
	text := `Dec  2 15:44:26 a Keepalived_vrrp[3659]: (VI_REDIS) Entering MASTER STATE
Dec  2 15:44:27 a Keepalived_vrrp[3659]: VRRP_Script(redkeep_check) timed_out
Dec  2 15:44:27 a Keepalived_vrrp[3659]: (VI_REDIS) Entering FAULT STATE
Dec  2 15:44:27 a redkeep[12182]: [fault] keepalived FAULT (instance VI_REDIS, priority 250): Entering FAULT STATE
Dec  2 15:44:29 a Keepalived_vrrp[3659]: VRRP_Script(redkeep_check) succeeded
Dec  2 15:44:30 a Keepalived_vrrp[3659]: (VI_REDIS) Entering BACKUP STATE
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// From the second line on: the first transition came before the soak.
	trans, checks, err := soakLines(path, int64(strings.Index(text, "\n")+1))
	if err != nil {
		t.Fatal(err)
	}
	if len(trans) != 2 || !strings.Contains(trans[0], "FAULT") || !strings.Contains(trans[1], "BACKUP") {
		t.Errorf("transitions = %q", trans)
	}
	if len(checks) != 1 || !strings.Contains(checks[0], "timed_out") {
		t.Errorf("check failures = %q", checks)
	}
}
