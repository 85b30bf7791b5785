package hooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// ReadState reads the state file at path. A missing file is not an error:
// it returns ok=false (no notify has run on this node yet). Anything but a
// small regular file at path is (readHookFile): the check must answer in
// time whatever sits there.
func ReadState(path string) (s State, ok bool, err error) {
	data, err := readHookFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("read state file: %w", err)
	}
	s, err = ParseState(data)
	if err != nil {
		return State{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return s, true, nil
}

// writeState replaces the state file atomically (temp file + rename), so a
// reader never sees half a file.
func writeState(path string, s State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	data = append(data, '\n')
	return writeFileAtomic(path, data)
}
