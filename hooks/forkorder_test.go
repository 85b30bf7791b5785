package hooks

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/redkeep/redkeep/wire"
)

func TestStartTicks(t *testing.T) {
	// A real line from /proc/PID/stat, and one whose command holds ") ".
	real := "12345 (keepalived) S 1 12345 12345 0 -1 4194624 96 0 0 0 0 0 0 0 20 0 1 0 987654 12345678 300 18446744073709551615"
	if got := startTicks([]byte(real)); got != 987654 {
		t.Errorf("startTicks = %d, want 987654", got)
	}
	odd := "7 (a) b) S 1 7 7 0 -1 4194624 96 0 0 0 0 0 0 0 20 0 1 0 42 1 1 1"
	if got := startTicks([]byte(odd)); got != 42 {
		t.Errorf("startTicks with ')' in the name = %d, want 42", got)
	}
	for _, bad := range []string{"", "garbage", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 notanumber"} {
		if got := startTicks([]byte(bad)); got != 0 {
			t.Errorf("startTicks(%q) = %d, want 0", bad, got)
		}
	}
	if me := selfFork(); me.ticks == 0 || me.bootID == "" {
		t.Errorf("selfFork on Linux = %+v, want a boot id and start ticks", me)
	}
}

func TestForkedAfter(t *testing.T) {
	me := forkStamp{bootID: "boot-1", ticks: 1000, pid: 500}
	cases := []struct {
		name string
		s    wire.State
		want bool
	}{
		{"forked a tick later", wire.State{BootID: "boot-1", StartTicks: 1001, PID: 400}, true},
		{"same tick, later pid", wire.State{BootID: "boot-1", StartTicks: 1000, PID: 501}, true},
		{"same tick, earlier pid", wire.State{BootID: "boot-1", StartTicks: 1000, PID: 499}, false},
		{"forked earlier", wire.State{BootID: "boot-1", StartTicks: 999, PID: 900}, false},
		{"another boot", wire.State{BootID: "boot-0", StartTicks: 5000, PID: 900}, false},
		{"old file without stamps", wire.State{PID: 900}, false},
	}
	for _, c := range cases {
		if got := forkedAfter(c.s, me); got != c.want {
			t.Errorf("%s: forkedAfter = %v, want %v", c.name, got, c.want)
		}
	}
	if forkedAfter(wire.State{BootID: "boot-1", StartTicks: 2000, PID: 1}, forkStamp{pid: 2}) {
		t.Error("a process without its own stamp must not consider itself overtaken")
	}
}

// A notify forked before the one that already announced itself must stop
// without touching the state file: FAULT then BACKUP within a millisecond
// must end in BACKUP whichever process reaches the file first.
func TestAnnounceOlderForkStops(t *testing.T) {
	cfg := loadExample(t)
	dir := t.TempDir()
	cfg.Hooks.StateFile = filepath.Join(dir, "state.json")
	cfg.Hooks.LockFile = filepath.Join(dir, "hook.lock")
	self, err := cfg.Node("a")
	if err != nil {
		t.Fatal(err)
	}
	me := selfFork()
	newer := wire.State{Node: "a", Instance: "VI_REDIS", State: wire.KABackup, Generation: 7, PID: me.pid + 1,
		BootID: me.bootID, StartTicks: me.ticks, LastResult: wire.ResultRunning}
	if err := writeState(cfg.Hooks.StateFile, newer); err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: cfg, self: self, log: quietLogger(filepath.Join(dir, "redis-state.log"))}
	err = r.announce(context.Background(), "VI_REDIS", wire.KAFault, 150)
	if err == nil {
		t.Fatal("an older fork announced itself over a newer one")
	}
	got, _, rerr := ReadState(cfg.Hooks.StateFile)
	if rerr != nil || got.State != wire.KABackup || got.Generation != 7 {
		t.Errorf("state file changed by the overtaken notify: %+v (%v)", got, rerr)
	}

	// An older state (forked before us) is replaced as before.
	older := newer
	older.PID, older.StartTicks = me.pid-1, me.ticks
	if err := writeState(cfg.Hooks.StateFile, older); err != nil {
		t.Fatal(err)
	}
	if err := r.announce(context.Background(), "VI_REDIS", wire.KAFault, 150); err != nil {
		t.Fatalf("announce over an older notify: %v", err)
	}
	if got, _, _ := ReadState(cfg.Hooks.StateFile); got.State != wire.KAFault || got.Generation != 8 || got.StartTicks != me.ticks {
		t.Errorf("after announce: %+v", got)
	}
}

func quietLogger(path string) *Logger {
	l := NewLogger(path)
	l.Syslog = false
	return l
}
