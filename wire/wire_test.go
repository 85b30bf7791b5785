package wire

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/redkeep/redkeep/replication"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the values below (only when adding a field)")

// samples are one value of each type that crosses SSH, every field set, as
// a node prints them.
func samples() map[string]any {
	at := time.Date(2026, 11, 26, 0, 11, 55, 123000000, time.UTC)
	st := State{Node: "a", Instance: "VI_REDIS", State: KAMaster, Priority: 150, Since: at, Generation: 7, PID: 4242,
		BootID: "5b0c2f0e-1c1e-4c52-9e8e-0c4f1e2a9b10", StartTicks: 123456, LastAction: "promoted: no peer to sync from", LastResult: ResultOK}
	lock := SwitchoverLock{Owner: "alice@laptop:4711:1732581234", From: "a", To: "b", PID: 4711, Acquired: at, Expires: at.Add(40 * time.Second)}
	maint := Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade Redis to 7.2", Since: at, Until: at.Add(DefaultMaintenance)}
	return map[string]any{
		"node_state.json": NodeState{Node: "a", State: &st, StateErr: "read state file: permission denied", HoldsVIP: true,
			KeepalivedRunning: true, Drained: false, Version: "v0.9.0", Maintenance: &maint, MaintenanceErr: "read maintenance file: permission denied"},
		"maintenance.json":       maint,
		"maintenance_reply.json": MaintenanceReply{Node: "b", Maintenance: &maint, Active: true, Error: "write /var/lib/redkeep/maintenance.json: read-only file system"},
		"lock_reply.json":        LockReply{Node: "b", OK: false, Held: &lock, Error: "another switchover is in progress"},
		"switchover_step.json": SwitchoverStep{Step: StepRedis, State: StateFailed, Detail: "b did not catch up within 5s",
			Time: at, PairState: "a master with the VIP, b its replica"},
		"event.json": Event{Time: at, Node: "a", Event: EventSwitchover, From: "a", To: "b", WritesPausedMS: 3, VIPMovedMS: 812, TotalMS: 1207,
			Operator: "alice@laptop", Reason: "kernel upgrade", Result: ResultOK, Detail: "pause: b is master, a its replica, at offset 5000", Source: SourceLog},
		"resolve_result.json": ResolveResult{RDB: "/var/lib/redkeep/resolve-20261126T001155Z-5f3c2a1b-5000.rdb", Bytes: 1 << 20, Keys: 2499,
			ReplID: "5f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", Offset: 5000,
			Tail: &replication.Tail{Divergence: replication.Divergence{ReplID: "5f3c2a1b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", Fork: 4001},
				RunID: "0123456789abcdef0123456789abcdef01234567", To: 5000, Bytes: 1000, Commands: 12, Writes: 3, WriteBytes: 380, FirstWrite: "SET"},
			Took: 1500 * time.Millisecond, PausedFor: 800 * time.Millisecond},
	}
}

// TestRecordedShapes: each recorded reply decodes with no unknown field and
// encodes back byte for byte. A renamed or dropped field fails the first, a
// new field or a changed type the second: either would break a console and
// a node running different builds.
func TestRecordedShapes(t *testing.T) {
	for name, v := range samples() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			if *update {
				data, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			recorded, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.New(reflect.TypeOf(v))
			dec := json.NewDecoder(bytes.NewReader(recorded))
			dec.DisallowUnknownFields()
			if err := dec.Decode(got.Interface()); err != nil {
				t.Fatalf("the recorded %s no longer decodes: %v", name, err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), v) {
				t.Errorf("decoded %s = %+v, want %+v", name, got.Elem().Interface(), v)
			}
			again, err := json.MarshalIndent(got.Elem().Interface(), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(append(again, '\n'), recorded) {
				t.Errorf("%s encodes differently from the recorded reply:\n%s\nrecorded:\n%s", name, again, recorded)
			}
		})
	}
}

// TestParseRecordedState: the recorded state parses as a state file.
func TestParseRecordedState(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "node_state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ns struct {
		State json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(data, &ns); err != nil {
		t.Fatal(err)
	}
	s, err := ParseState(ns.State)
	if err != nil || s.State != KAMaster || s.Generation != 7 {
		t.Fatalf("ParseState = %+v, %v", s, err)
	}
}

func TestNeedsRoot(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"hook", "switchover-lock", "acquire", "--owner", "x"}, true},
		{[]string{"hook", "switchover-lock", "status"}, true},
		{[]string{"hook", "switchover-run", "--to", "b"}, true},
		{[]string{"hook", "maintenance", "on", "--for", "1h"}, true},
		{[]string{"hook", "maintenance", "off"}, true},
		{[]string{"hook", "maintenance", "status"}, false},
		{[]string{"hook", "maintenance"}, false},
		{[]string{"hook", "resolve-follow", "--keep", "a"}, true},
		{[]string{"hook", "state", "--json"}, false},
		{[]string{"hook", "history", "--json"}, true},
		{[]string{"hook", "notify", "INSTANCE", "VI", "MASTER"}, false},
		{[]string{"version"}, false},
		{[]string{"switchover-run"}, false},
		{nil, false},
	} {
		if got := NeedsRoot(c.args); got != c.want {
			t.Errorf("NeedsRoot(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
