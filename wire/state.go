package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redkeep/redkeep/internal/human"
)

// Results a hook records in the state file's last_result.
const (
	ResultRunning = "running" // a notify is executing its plan
	ResultOK      = "ok"      // the plan ran; Redis is where the state wants it
	ResultRefused = "refused" // a safety rule stopped a step; nothing unsafe was done
	ResultFailed  = "failed"  // a step failed (Redis unreachable, timeout, ...)
)

// keepalived states, as keepalived passes them to notify scripts.
const (
	KAMaster  = "MASTER"
	KABackup  = "BACKUP"
	KAFault   = "FAULT"
	KAStop    = "STOP"
	KADeleted = "DELETED"
)

// State is the node's state file (hooks.state_file): the last keepalived
// state a notify hook handled and what became of it. The console reads it
// over SSH (`redkeep hook state --json`) and the check reads it to know
// whether this node is MASTER or BACKUP.
type State struct {
	Node     string `json:"node"`
	Instance string `json:"instance"`
	// State is MASTER, BACKUP, FAULT or STOP.
	State    string `json:"state"`
	Priority int    `json:"priority"`
	// Since is when the hook for State started.
	Since time.Time `json:"since"`
	// Generation counts notify calls; a hook whose generation is no longer
	// the file's has been overtaken and stops.
	Generation uint64 `json:"generation"`
	PID        int    `json:"pid"`
	// BootID and StartTicks place the notify in keepalived's event order:
	// keepalived forks its notify processes in the order of its
	// transitions, so a process forked later handles a newer state, even
	// when both start within the same millisecond and race for the file.
	BootID     string `json:"boot_id,omitempty"`
	StartTicks uint64 `json:"start_ticks,omitempty"`
	LastAction string `json:"last_action"`
	// LastResult is running, ok, refused or failed.
	LastResult string `json:"last_result"`
}

// ParseState decodes a state file. Unknown fields are allowed (a newer
// redkeep on the node), but a file that is not a JSON object with a known
// state is an error naming what is wrong.
func ParseState(data []byte) (State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("parse state file: %w", err)
	}
	if dec.More() {
		return State{}, errors.New("parse state file: trailing data after the JSON object")
	}
	switch s.State {
	case KAMaster, KABackup, KAFault, KAStop:
	default:
		return State{}, fmt.Errorf("parse state file: unknown state %q", human.Abbrev(s.State, 40))
	}
	switch s.LastResult {
	case ResultRunning, ResultOK, ResultRefused, ResultFailed, "":
	default:
		return State{}, fmt.Errorf("parse state file: unknown last_result %q", human.Abbrev(s.LastResult, 40))
	}
	return s, nil
}

// NodeState is what `redkeep hook state --json` prints: the state file plus
// the local facts the console needs and cannot get from Redis.
type NodeState struct {
	Node string `json:"node"`
	// State is the state file's content; nil when no notify has run yet.
	State *State `json:"state"`
	// StateErr says why the state file could not be read ("" when fine).
	StateErr string `json:"state_error,omitempty"`
	// HoldsVIP is true when the VIP is on one of this machine's interfaces.
	HoldsVIP bool `json:"holds_vip"`
	// KeepalivedRunning is true when a keepalived process runs here.
	KeepalivedRunning bool `json:"keepalived_running"`
	// Drained is true when the track file holds a non-zero number.
	Drained bool   `json:"drained"`
	Version string `json:"version"`
	// Maintenance is the node's maintenance record (hooks.maintenance_file),
	// expired or not; nil when there is none. Whether it is active is
	// decided against the reader's clock with Maintenance.Active.
	Maintenance *Maintenance `json:"maintenance"`
	// MaintenanceErr says why the maintenance file could not be read.
	MaintenanceErr string `json:"maintenance_error,omitempty"`
}

// String is a one-line human summary of the node state.
func (ns NodeState) String() string {
	st := "no notify yet"
	if ns.State != nil {
		st = fmt.Sprintf("%s since %s (generation %d, %s: %s)", ns.State.State, ns.State.Since.Format("2006-01-02 15:04:05"), ns.State.Generation, ns.State.LastResult, ns.State.LastAction)
	}
	s := fmt.Sprintf("node %s: keepalived %s; running %v; VIP here %v; drained %v; redkeep %s", ns.Node, st, ns.KeepalivedRunning, ns.HoldsVIP, ns.Drained, ns.Version)
	if m := ns.Maintenance; m != nil && m.On {
		s += "; maintenance " + m.String()
	}
	return s
}
