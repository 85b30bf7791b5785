package replication

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	histA = "514abb212b3d1221a6228d79f6543f90bd55bb58" // the first master's history
	histB = "9b8f440176d265140b807b2141d2817422afa4ff" // after the replica's promotion
)

// TestParseInfoFixtures checks the parser against INFO recorded from
// redis-server 7.0 in each state the hooks decide over.
func TestParseInfoFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want Info
	}{
		{"master-fresh.info", Info{
			Role: RoleMaster, RunID: "9d8108fee9f79dd4690f946a4488c42e25e507da", Version: "7.0.15",
			ReplID: "c6d386e74a54d8f7d8fe17673a1c5c817e546789", ReplID2: zeroReplID, SecondReplOffset: -1,
			FailoverState: "no-failover", LinkDownSecs: -1, LastIOSecs: -1,
		}},
		{"master-with-replica.info", Info{
			Role: RoleMaster, RunID: "9d8108fee9f79dd4690f946a4488c42e25e507da", Version: "7.0.15",
			ReplID: histA, ReplID2: zeroReplID, MasterReplOffset: 3434, SecondReplOffset: -1,
			FailoverState: "no-failover", ConnectedReplicas: 1,
			Replicas:     []Replica{{IP: "127.0.0.1", Port: 16402, State: "online", Offset: 3434}},
			LinkDownSecs: -1, LastIOSecs: -1, Keys: 101,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 3434,
		}},
		{"replica-online.info", Info{
			Role: RoleReplica, RunID: "808379cde034980809f121b6781fd216950d03b1", Version: "7.0.15",
			ReplID: histA, ReplID2: zeroReplID, MasterReplOffset: 3434, SecondReplOffset: -1,
			FailoverState: "no-failover", MasterHost: "127.0.0.1", MasterPort: 16401, LinkUp: true,
			LinkDownSecs: -1, LastIOSecs: 1, ReplicaOffset: 3434, Keys: 101,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 3434,
		}},
		{"replica-promoted.info", Info{
			Role: RoleMaster, RunID: "808379cde034980809f121b6781fd216950d03b1", Version: "7.0.15",
			ReplID: histB, ReplID2: histA, MasterReplOffset: 3499, SecondReplOffset: 3435,
			FailoverState: "no-failover", LinkDownSecs: -1, LastIOSecs: -1, Keys: 102,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 3499,
		}},
		{"replica-link-down.info", Info{
			Role: RoleReplica, RunID: "9d8108fee9f79dd4690f946a4488c42e25e507da", Version: "7.0.15",
			ReplID: histB, ReplID2: histA, MasterReplOffset: 3499, SecondReplOffset: 3435,
			FailoverState: "no-failover", MasterHost: "127.0.0.1", MasterPort: 16402,
			LinkDownSecs: 1, LastIOSecs: -1, ReplicaOffset: 3499, Keys: 102,
			BacklogActive: true, BacklogFirstByte: 1, BacklogHistLen: 3499,
		}},
		{"replica-syncing.info", Info{
			Role: RoleReplica, RunID: "6ac19fe2cbb4694462f950d812772fabbe232a6d", Version: "7.0.15",
			ReplID: "eb4af462c55cfb57e5e635be74e7b6db0d9b8d13", ReplID2: zeroReplID, SecondReplOffset: -1,
			FailoverState: "no-failover", MasterHost: "127.0.0.1", MasterPort: 16404,
			LinkDownSecs: -1, LastIOSecs: -1, SyncInProgress: true,
		}},
		{"loading.info", Info{
			Role: RoleMaster, RunID: "489010c58db4c8096bbb4ac580e0d0ca9afc055c", Version: "7.0.15",
			ReplID: "ad97d795d0cb05dba757bdbad4f2bc1a8b15d9c5", ReplID2: zeroReplID, SecondReplOffset: -1,
			FailoverState: "no-failover", LinkDownSecs: -1, LastIOSecs: -1, Loading: true, Keys: 87772,
			BacklogActive: true, BacklogFirstByte: 1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseInfo(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("ParseInfo: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseInfo(%s)\n got %+v\nwant %+v", tt.file, got, tt.want)
			}
		})
	}
}

func TestParseInfoCRLF(t *testing.T) {
	t.Parallel()
	text := strings.ReplaceAll(readFixture(t, "replica-online.info"), "\n", "\r\n")
	got, err := ParseInfo(text)
	if err != nil || got.MasterPort != 16401 || got.ReplicaOffset != 3434 {
		t.Fatalf("ParseInfo with CRLF = %+v, %v", got, err)
	}
}

func TestParseInfoErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"empty", "", "no role field"},
		{"no replication section", "# Server\nredis_version:7.0.15\n", "no role field"},
		{"bad offset", "role:master\nmaster_repl_offset:12x\n", `line 2: master_repl_offset: "12x" is not an integer`},
		{"unknown role", "role:sentinel\n", `unknown role "sentinel"`},
		{"not key value", "role:master\ngarbage\n", `line 2: "garbage" is not key:value`},
		{"bad port", "role:slave\nmaster_port:70000\n", `"70000" is not a port`},
		{"bad replica line", "role:master\nslave0:ip=1.2.3.4,port=x,state=online,offset=1,lag=0\n", "slave0: port"},
		{"bad keyspace", "role:master\ndb0:keys=-3,expires=0\n", "negative count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInfo(tt.text)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseInfo error = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		reply   any
		want    Info
		wantErr string
	}{
		{"master", []any{"master", int64(3434), []any{[]any{"127.0.0.1", "16402", "3434"}}}, Info{
			Role: RoleMaster, MasterReplOffset: 3434, ConnectedReplicas: 1, SecondReplOffset: -1, LinkDownSecs: -1, LastIOSecs: -1,
			Replicas: []Replica{{IP: "127.0.0.1", Port: 16402, Offset: 3434, State: "online"}},
		}, ""},
		{"replica", []any{"slave", "127.0.0.1", int64(16401), "connected", int64(3499)}, Info{
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 16401, LinkUp: true, ReplicaOffset: 3499,
			MasterReplOffset: 3499, SecondReplOffset: -1, LinkDownSecs: -1, LastIOSecs: -1,
		}, ""},
		{"replica syncing", []any{"slave", "127.0.0.1", int64(16401), "sync", int64(-1)}, Info{
			Role: RoleReplica, MasterHost: "127.0.0.1", MasterPort: 16401, SyncInProgress: true, ReplicaOffset: -1,
			MasterReplOffset: -1, SecondReplOffset: -1, LinkDownSecs: -1, LastIOSecs: -1,
		}, ""},
		{"not an array", "master", Info{}, "want a non-empty array"},
		{"sentinel", []any{"sentinel", []any{}}, Info{}, "unknown role"},
		{"short master", []any{"master", int64(1)}, Info{}, "want 3"},
		{"bad replica entry", []any{"master", int64(1), []any{[]any{"x"}}}, Info{}, "replica 0"},
		{"short replica", []any{"slave", "h"}, Info{}, "want 5"},
		{"bad port", []any{"slave", "h", "p", "connected", int64(1)}, Info{}, "master port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRole(tt.reply)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRole error = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseRole\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// FuzzParseInfo feeds the parser recorded INFO outputs and their mutations:
// it must never panic, and whatever it accepts must have a known role.
func FuzzParseInfo(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.info"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no INFO fixtures in testdata: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("role:slave\nslave0:ip=,port=,offset=\ndb0:keys=\n")
	f.Fuzz(func(t *testing.T, text string) {
		info, err := ParseInfo(text)
		if err != nil {
			return
		}
		if info.Role != RoleMaster && info.Role != RoleReplica {
			t.Fatalf("accepted INFO with role %q", info.Role)
		}
		if info.Keys < 0 {
			t.Fatalf("accepted a negative key count %d", info.Keys)
		}
	})
}

// FuzzParseRole builds ROLE-shaped replies from fuzzed parts: whatever the
// shape, the parser must not panic, and what it accepts has a known role.
func FuzzParseRole(f *testing.F) {
	f.Add("master", "127.0.0.1", "6380", int64(3434), int64(3434), true)
	f.Add("slave", "127.0.0.1", "connected", int64(6379), int64(3499), false)
	f.Add("sentinel", "", "", int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, kind, s1, s2 string, n1, n2 int64, nested bool) {
		var reply any
		switch {
		case kind == "master" && nested:
			reply = []any{kind, n1, []any{[]any{s1, s2, n2}}}
		case kind == "master":
			reply = []any{kind, n1, []any{}}
		default:
			reply = []any{kind, s1, n1, s2, n2}
		}
		info, err := ParseRole(reply)
		if err != nil {
			return
		}
		if info.Role != RoleMaster && info.Role != RoleReplica {
			t.Fatalf("accepted role %q", info.Role)
		}
		if info.MasterPort < 0 || info.MasterPort > 65535 {
			t.Fatalf("accepted port %d", info.MasterPort)
		}
	})
}
