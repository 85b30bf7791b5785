package doctor

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// recorded loads facts `redkeep doctor --facts` printed against a lab:
// testdata/baseline.json from `redkeep lab up --baseline` (the origin
// document's scripts), testdata/redkeep.json from `redkeep lab up`.
func recorded(t testing.TB, name string) Facts {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var f Facts
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// ids lists "node:id" of each finding, in order.
func ids(r Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Node+":"+f.ID)
	}
	return out
}

func TestAnalyzeRecordedLabs(t *testing.T) {
	t.Run("baseline: the origin's hazards", func(t *testing.T) {
		r := Analyze(recorded(t, "baseline"))
		want := []string{
			"a:" + IDNopreemptWeight, "a:" + IDFixedSleep, "a:" + IDStopTwoMasters, "a:" + IDEmptyMaster,
			"b:" + IDFixedSleep, "b:" + IDStopTwoMasters,
			"a:" + IDNotRedkeep, "b:" + IDNotRedkeep,
		}
		if got := ids(r); !slices.Equal(got, want) {
			t.Fatalf("findings %v\nwant %v", got, want)
		}
		if r.Clean() {
			t.Error("the baseline is clean")
		}
		for _, f := range r.Findings {
			if f.Evidence == "" || f.Fix == "" || f.Summary == "" {
				t.Errorf("%s on %s lacks evidence, fix or summary: %+v", f.ID, f.Node, f)
			}
		}
		sleep := r.Findings[1]
		for _, w := range []string{"redis_master.sh", "sleep 10", "redis_backup.sh", "sleep 15", "notify_stop"} {
			if !strings.Contains(sleep.Evidence, w) {
				t.Errorf("fixed-sleep evidence does not name %q: %s", w, sleep.Evidence)
			}
		}
		if w := r.Findings[0].Evidence; !strings.Contains(w, "weight -20") || !strings.Contains(w, "priority drops to 180") {
			t.Errorf("nopreempt evidence: %s", w)
		}
	})
	t.Run("redkeep: nothing", func(t *testing.T) {
		r := Analyze(recorded(t, "redkeep"))
		if len(r.Findings) != 0 || !r.Clean() {
			t.Fatalf("findings on the redkeep lab: %+v", r.Findings)
		}
	})
}

// TestAnalyze mutates the redkeep lab's recorded facts into each problem.
func TestAnalyze(t *testing.T) {
	setConf := func(n *NodeFacts, from, to string) {
		if !strings.Contains(n.KeepalivedConf.Content, from) {
			panic("recorded keepalived.conf lacks " + from)
		}
		n.KeepalivedConf.Content = strings.Replace(n.KeepalivedConf.Content, from, to, 1)
	}
	fileByRole := func(n *NodeFacts, role string) *File {
		for i := range n.Files {
			if n.Files[i].Role == role {
				return &n.Files[i]
			}
		}
		panic("no file " + role)
	}
	tests := []struct {
		name string
		mod  func(f *Facts)
		want []string
		// evidence is a substring of the first finding's evidence.
		evidence string
	}{
		{name: "virtual_router_id differs", mod: func(f *Facts) {
			setConf(&f.Nodes[1], "virtual_router_id 51", "virtual_router_id 52")
		}, want: []string{":" + IDVRIDMismatch}, evidence: "VI_REDIS virtual_router_id 52"},
		{name: "VIP differs", mod: func(f *Facts) {
			setConf(&f.Nodes[1], "198.18.91.100/24", "198.18.91.101/24")
		}, want: []string{":" + IDVIPMismatch}, evidence: "a: 198.18.91.100; b: 198.18.91.101"},
		{name: "auth differs, the password unshown", mod: func(f *Facts) {
			auth := "advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass %s\n    }"
			setConf(&f.Nodes[0], "advert_int 1", strings.Replace(auth, "%s", "s3cret1", 1))
			setConf(&f.Nodes[1], "advert_int 1", strings.Replace(auth, "%s", "s3cret2", 1))
		}, want: []string{":" + IDAuthMismatch}, evidence: "auth_pass differs"},
		{name: "auth on one node only", mod: func(f *Facts) {
			setConf(&f.Nodes[0], "advert_int 1", "advert_int 1\n    authentication {\n        auth_type AH\n    }")
		}, want: []string{":" + IDAuthMismatch}, evidence: "a: auth_type AH; b: auth_type (none)"},
		{name: "clock 3 s ahead", mod: func(f *Facts) {
			f.Nodes[1].Clock.Remote = f.Nodes[1].Clock.Remote.Add(3 * time.Second)
		}, want: []string{":" + IDClockSkew}, evidence: "b 3"},
		{name: "clock 1.5 s behind but a 2 s round trip: within the uncertainty", mod: func(f *Facts) {
			c := f.Nodes[0].Clock
			c.Received = c.Sent.Add(2 * time.Second)
			c.Remote = c.Sent.Add(time.Second - 1500*time.Millisecond)
		}},
		{name: "no clock reading", mod: func(f *Facts) { f.Nodes[0].Clock = nil }},
		{name: "redkeep versions differ", mod: func(f *Facts) { f.Nodes[1].Version = "v1.2.0" },
			want: []string{":" + IDVersionMismatch}, evidence: "a: devel; b: v1.2.0"},
		{name: "config writable by everyone", mod: func(f *Facts) { fileByRole(&f.Nodes[0], "redkeep config").Mode = 0o666 },
			want: []string{"a:" + IDUnsafeMode}, evidence: "config.yaml: mode 0666"},
		{name: "binary's directory group-writable", mod: func(f *Facts) {
			d := fileByRole(&f.Nodes[1], "redkeep binary's")
			d.Mode, d.Group = 0o775, "staff"
		}, want: []string{"b:" + IDUnsafeMode}, evidence: "bin: mode 0775, owner root:staff"},
		{name: "sticky world-writable directory is fine", mod: func(f *Facts) {
			d := fileByRole(&f.Nodes[1], "hooks' state")
			d.Mode = 0o1777
		}},
		{name: "keepalived.conf owned by a user", mod: func(f *Facts) { f.Nodes[0].KeepalivedConf.Owner = "deploy" },
			want: []string{"a:" + IDUnsafeMode}, evidence: "owner deploy:root"},
		{name: "password file readable by others", mod: func(f *Facts) {
			f.Nodes[0].PasswordFile = &File{Role: "Redis password file", Path: "/etc/redkeep/redis.pass", Exists: true, Mode: 0o644, Owner: "root", Group: "root"}
		}, want: []string{"a:" + IDPasswordReadable}, evidence: "redis.pass: mode 0644"},
		{name: "password file private", mod: func(f *Facts) {
			f.Nodes[0].PasswordFile = &File{Role: "Redis password file", Path: "/etc/redkeep/redis.pass", Exists: true, Mode: 0o640, Owner: "root", Group: "redkeep"}
		}},
		{name: "keepalived.conf unreadable: info, not a failure", mod: func(f *Facts) {
			k := &f.Nodes[1].KeepalivedConf
			k.Content, k.Read, k.Err = "", false, "cannot read /etc/keepalived/keepalived.conf as redkeep: permission denied"
			f.Nodes[1].User = "redkeep"
		}, want: []string{"b:" + IDCannotRead}, evidence: "permission denied"},
		{name: "CONFIG GET refused", mod: func(f *Facts) {
			f.Nodes[0].Redis.Config, f.Nodes[0].Redis.ConfigErr = nil, "CONFIG GET save on a: NOPERM"
		}, want: []string{"a:" + IDCannotRead}, evidence: "NOPERM"},
		{name: "no persistence, restarted by systemd", mod: func(f *Facts) {
			f.Nodes[1].Redis.Unit, f.Nodes[1].Redis.Restart = "redis-server.service", "always"
		}, want: []string{"b:" + IDNoPersistRestarted}, evidence: "redis-server.service has Restart=always"},
		{name: "persistence on, restarted by systemd", mod: func(f *Facts) {
			f.Nodes[1].Redis.Unit, f.Nodes[1].Redis.Restart = "redis-server.service", "always"
			f.Nodes[1].Redis.Config["appendonly"] = "yes"
		}},
		{name: "node unreachable", mod: func(f *Facts) {
			f.Nodes[1] = NodeFacts{Node: "b", Err: "unreachable: dial tcp 198.18.91.12:22: i/o timeout"}
		}, want: []string{"b:" + IDUnreachable}, evidence: "i/o timeout"},
		{name: "no keepalived.conf", mod: func(f *Facts) {
			f.Nodes[0].KeepalivedConf = File{Role: "keepalived.conf", Path: DefaultKeepalivedConf}
		}, want: []string{"a:" + IDKeepalivedConf}, evidence: "does not exist"},
		{name: "keepalived.conf broken", mod: func(f *Facts) { f.Nodes[0].KeepalivedConf.Content += "\nvrrp_instance X {\n" },
			want: []string{"a:" + IDKeepalivedConf}, evidence: "never closed"},
		{name: "negative weight with nopreempt in the track_script override", mod: func(f *Facts) {
			setConf(&f.Nodes[0], "        redkeep_check\n", "        redkeep_check weight -30\n")
		}, want: []string{"a:" + IDNopreemptWeight}, evidence: "weight -30"},
		{name: "watcher on, its health file not tracked", mod: func(f *Facts) {
			f.Nodes[1].HealthFile = "/run/redkeep-lab/node/health"
		}, want: []string{"b:" + IDWatchUntracked}, evidence: "tracks no track_file whose file is keepalived.watch.health_file /run/redkeep-lab/node/health"},
		{name: "watcher on, its health file tracked", mod: func(f *Facts) {
			f.Nodes[1].HealthFile = "/run/redkeep-lab/node/health"
			setConf(&f.Nodes[1], "vrrp_instance", "track_file redkeep_health {\n    file \"/run/redkeep-lab/node/health\"\n    weight 0\n}\n\nvrrp_instance")
			setConf(&f.Nodes[1], "        redkeep_drain\n", "        redkeep_drain\n        redkeep_health\n")
		}},
		{name: "negative weight without nopreempt fails over", mod: func(f *Facts) {
			setConf(&f.Nodes[0], "    nopreempt\n", "\n")
			setConf(&f.Nodes[0], "    weight 0\n}", "    weight -30\n}")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := recorded(t, "redkeep")
			tt.mod(&f)
			r := Analyze(f)
			if got := ids(r); !slices.Equal(got, tt.want) {
				t.Fatalf("findings %v, want %v\n%+v", got, tt.want, r.Findings)
			}
			if tt.evidence != "" && !strings.Contains(r.Findings[0].Evidence, tt.evidence) {
				t.Errorf("evidence %q does not say %q", r.Findings[0].Evidence, tt.evidence)
			}
			if strings.Contains(allText(r), "s3cret") {
				t.Errorf("a finding shows the VRRP password: %+v", r.Findings)
			}
			wantClean := true
			for _, f := range r.Findings {
				wantClean = wantClean && f.Severity == Info
			}
			if r.Clean() != wantClean {
				t.Errorf("Clean() = %v with %v", r.Clean(), ids(r))
			}
		})
	}
}

// TestSleeps: the fixed sleeps of a script, not sleeps in comments or
// computed ones.
func TestSleeps(t *testing.T) {
	for _, c := range []struct {
		text string
		n    int
	}{
		{"sleep 10\n", 1},
		{"  sleep 1.5 && redis-cli SLAVEOF NO ONE\n", 1},
		{"foo; sleep 2s\n", 1},
		{"# sleep 10\n", 0},
		{"sleep $DELAY\n", 0},
		{"echo sleep\n", 0},
		{"sleep 1\nsleep 2\nsleep 3\nsleep 4\nsleep 5\nsleep 6\n", 5},
	} {
		if got := sleeps(c.text); len(got) != c.n {
			t.Errorf("sleeps(%q) = %q, want %d", c.text, got, c.n)
		}
	}
}

func TestCommandPathAndRedkeepHook(t *testing.T) {
	for _, c := range []struct {
		cmd, path string
		redkeep   bool
	}{
		{"'/usr/local/bin/redkeep' hook notify --config '/etc/redkeep/config.yaml' --node a --", "/usr/local/bin/redkeep", true},
		{"/usr/local/bin/redkeep hook check", "/usr/local/bin/redkeep", true},
		{"/etc/keepalived/scripts/redis_master.sh", "/etc/keepalived/scripts/redis_master.sh", false},
		{"/usr/local/bin/redkeep version", "/usr/local/bin/redkeep", false},
		{"'/unterminated", "/unterminated", false},
		{"", "", false},
	} {
		if p := commandPath(c.cmd); p != c.path {
			t.Errorf("commandPath(%q) = %q, want %q", c.cmd, p, c.path)
		}
		if r := isRedkeepHook(c.cmd, "/usr/local/bin/redkeep"); r != c.redkeep {
			t.Errorf("isRedkeepHook(%q) = %v", c.cmd, r)
		}
	}
}

// TestParseConfHostile: whatever a node's keepalived.conf holds, parsing
// and analysis end with an error or findings, never a panic or a hang.
func TestParseConfHostile(t *testing.T) {
	for _, text := range []string{
		"", "{", "}", "{{{{", "}}}}", `"`, "vrrp_instance", "vrrp_instance {", "vrrp_instance X { state",
		strings.Repeat("{", 10000), strings.Repeat("vrrp_instance x {\n", 100),
		strings.Repeat("a ", 200000),
		"vrrp_instance X {\n track_script {\n weight\n }\n notify_master\n authentication { auth_pass }\n}\n",
		"vrrp_instance X {\n virtual_ipaddress {\n {\n }\n }\n priority -99999999999999999999\n}",
		"vrrp_script s { weight -x }\nvrrp_instance X { nopreempt\n track_script { s weight } }",
		"vrrp_instance X {\n notify_master \"'\"\n}\n",
		"\x00\x1b[2J\xff\xfe",
	} {
		if _, err := parseConf(text); err != nil {
			continue
		}
		analyzeConf(text)
	}
}

func FuzzAnalyzeKeepalivedConf(f *testing.F) {
	base := recorded(f, "baseline")
	f.Add(base.Nodes[0].KeepalivedConf.Content)
	f.Add(recorded(f, "redkeep").Nodes[0].KeepalivedConf.Content)
	f.Add("vrrp_instance X { nopreempt\n track_script {\n s weight -1\n }\n}")
	f.Fuzz(func(t *testing.T, text string) {
		analyzeConf(text)
	})
}

// analyzeConf runs the whole analysis over the baseline lab with text as
// both nodes' keepalived.conf.
func analyzeConf(text string) Report {
	b, err := os.ReadFile("testdata/baseline.json")
	if err != nil {
		panic(err)
	}
	var f Facts
	if err := json.Unmarshal(b, &f); err != nil {
		panic(err)
	}
	for i := range f.Nodes {
		f.Nodes[i].KeepalivedConf.Content = text
	}
	return Analyze(f)
}

// allText joins every finding's text, for searching.
func allText(r Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.Summary + f.Evidence + f.Fix)
	}
	return b.String()
}
