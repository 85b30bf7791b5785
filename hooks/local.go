package hooks

import (
	"bytes"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/internal/proc"
	"github.com/redkeep/redkeep/wire"
)

// Drain writes 1 to keepalived's track file (keepalived.track_file): with
// weight 0 that puts this node's instance in FAULT, keepalived sends a
// priority-0 advert and the peer takes the VIP at once. The planned
// switchover runs it on the old master over SSH.
func Drain(cfg *config.Config) error {
	return switchover.TrackFileVIP{TrackFile: cfg.Keepalived.TrackFile}.Drain()
}

// Undrain writes 0 to the track file: keepalived leaves FAULT and, with
// nopreempt, stays BACKUP.
func Undrain(cfg *config.Config) error {
	return switchover.TrackFileVIP{TrackFile: cfg.Keepalived.TrackFile}.Undrain()
}

// ReadNodeState gathers NodeState for node self; version is this binary's.
func ReadNodeState(cfg *config.Config, self *config.Node, version string) wire.NodeState {
	ns := wire.NodeState{Node: self.Name, Version: version}
	if s, ok, err := ReadState(cfg.Hooks.StateFile); err != nil {
		ns.StateErr = err.Error()
	} else if ok {
		ns.State = &s
	}
	if held, err := (switchover.TrackFileVIP{VIP: cfg.VIPAddr()}).Held(); err == nil {
		ns.HoldsVIP = held
	}
	if m, _, err := ReadMaintenance(cfg, time.Now()); err != nil {
		ns.MaintenanceErr = err.Error()
	} else if !m.Since.IsZero() {
		ns.Maintenance = &m
	}
	ns.KeepalivedRunning = proc.Running("/proc", "keepalived")
	ns.Drained = drained(cfg)
	return ns
}

// drained reports whether keepalived's track file holds a non-zero number,
// which puts this node in FAULT.
func drained(cfg *config.Config) bool {
	b, err := nodefile.Read(cfg.Keepalived.TrackFile)
	if err != nil {
		return false
	}
	v := string(bytes.TrimSpace(b))
	return v != "" && v != "0"
}
