package hooks

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/wire"
)

func TestStillCurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := &config.Config{VIP: "198.51.100.100/24", Hooks: config.Hooks{StateFile: filepath.Join(dir, "state.json"), LockFile: filepath.Join(dir, "hook.lock")}}
	if err := writeState(cfg.Hooks.StateFile, wire.State{State: wire.KAMaster, Generation: 4}); err != nil {
		t.Fatal(err)
	}
	vip := true
	r := &runner{cfg: cfg, role: "master", gen: 4, vipHeld: func() (bool, error) { return vip, nil }}
	if err := r.stillCurrent(); err != nil {
		t.Fatalf("current generation with the VIP: %v", err)
	}
	vip = false
	if err := r.stillCurrent(); !errors.Is(err, ErrOvertaken) || !strings.Contains(err.Error(), "VIP") {
		t.Fatalf("MASTER hook without the VIP: %v, want overtaken", err)
	}
	vip = true
	if err := writeState(cfg.Hooks.StateFile, wire.State{State: wire.KABackup, Generation: 5}); err != nil {
		t.Fatal(err)
	}
	if err := r.stillCurrent(); !errors.Is(err, ErrOvertaken) || !strings.Contains(err.Error(), "generation 5 (BACKUP)") {
		t.Fatalf("newer generation: %v, want overtaken by generation 5", err)
	}
	// An overtaken hook never writes the state file.
	if err := r.updateState(func(s *wire.State) { s.LastResult = wire.ResultFailed }); !errors.Is(err, ErrOvertaken) {
		t.Fatalf("updateState by an overtaken hook = %v", err)
	}
	if s, _, _ := ReadState(cfg.Hooks.StateFile); s.LastResult != "" {
		t.Fatalf("the overtaken hook wrote last_result %q", s.LastResult)
	}
	// The check's runner (generation 0) is never overtaken: notifies wait for its lock.
	if err := (&runner{cfg: cfg}).stillCurrent(); err != nil {
		t.Fatalf("generation 0: %v", err)
	}
}
