// Package nodes is a node as the console sees it: the SSH transport, the probe
// of keepalived and Redis over that transport, one Snapshot type, and the
// verdict on the pair.
package nodes

import (
	"time"

	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// ConnState is the console's SSH connection to a node.
type ConnState string

// Connection states.
const (
	ConnConnecting     ConnState = "connecting"
	ConnConnected      ConnState = "connected"
	ConnReconnecting   ConnState = "reconnecting"
	ConnHostKeyRefused ConnState = "host key refused"
	ConnAuthFailed     ConnState = "auth failed"
	ConnUnreachable    ConnState = "unreachable"
)

// Snapshot is one poll of one node. Errors are data: a node that cannot be
// reached still yields a Snapshot saying so.
type Snapshot struct {
	Node string    `json:"node"`
	Time time.Time `json:"time"`
	// Took is how long the poll took.
	Took time.Duration `json:"took_ns"`

	Conn    ConnState `json:"conn"`
	ConnErr string    `json:"conn_error,omitempty"`

	// Version is the redkeep version installed on the node ("" if unknown).
	Version string `json:"version"`
	// Hooks says whose hooks keepalived runs on the node: HooksRedkeep
	// when redkeep is installed there (its `hook state` answered),
	// HooksNotRedkeep when it is not (the origin document's scripts, or
	// anything else), "" when the facts could not be read.
	Hooks string `json:"hooks"`

	Keepalived Keepalived `json:"keepalived"`
	// HoldsVIP is true when the VIP is on one of the node's interfaces.
	HoldsVIP bool `json:"holds_vip"`

	Redis Redis `json:"redis"`

	// Maintenance is the node's maintenance record (hooks.maintenance_file),
	// nil when it has none; whether it is active is Maintenance.Active at
	// the reader's clock. MaintenanceErr says why it could not be read.
	Maintenance    *wire.Maintenance `json:"maintenance,omitempty"`
	MaintenanceErr string            `json:"maintenance_error,omitempty"`
}

// InMaintenance reports whether the node's maintenance record is active at
// now, and returns it.
func (s Snapshot) InMaintenance(now time.Time) (wire.Maintenance, bool) {
	if s.Maintenance == nil {
		return wire.Maintenance{}, false
	}
	return *s.Maintenance, s.Maintenance.Active(now)
}

// Hooks values of a Snapshot.
const (
	HooksRedkeep    = "redkeep"
	HooksNotRedkeep = "not redkeep"
)

// StateFrom values: where a node's keepalived state was read.
const (
	StateFromFile    = "state file"
	StateFromSyslog  = "syslog"
	StateFromJournal = "journal"
	StateFromVIP     = "vip"
)

// Keepalived is keepalived on a node: whether it runs, and the last state
// the hooks recorded in the state file.
type Keepalived struct {
	Running  bool      `json:"running"`
	State    string    `json:"state"` // MASTER, BACKUP, FAULT, STOP, or "" when unknown
	Priority int       `json:"priority"`
	Since    time.Time `json:"since"`
	// LastAction and LastResult are the last hook's step and outcome.
	LastAction string `json:"last_action"`
	LastResult string `json:"last_result"`
	// Drained is true when the node's track file holds it in FAULT (a
	// planned switchover in progress, or an operator's drain).
	Drained bool `json:"drained"`
	// StateFrom says where State was read: StateFromFile (redkeep's
	// hooks), StateFromSyslog or StateFromJournal (keepalived's last
	// "Entering ... STATE" line on a node without redkeep), StateFromVIP
	// (guessed from the VIP when no log was readable), "" when unknown.
	StateFrom string `json:"state_from,omitempty"`
	// Err says why these facts are missing or incomplete ("" when fine).
	Err string `json:"error,omitempty"`
}

// Redis is the node's Redis server.
type Redis struct {
	Up  bool   `json:"up"`
	Err string `json:"error,omitempty"`
	// Info is valid when Up.
	Info replication.Info `json:"info"`
	// Tail is what this Redis holds past the point where its history and
	// the other master's part, read only when two masters are seen
	// (ReadSplitTails); TailErr says why it could not be read.
	Tail    *replication.Tail `json:"tail_past_fork,omitempty"`
	TailErr string            `json:"tail_error,omitempty"`
	// Lag is a replica's lag behind the master, measured after the probe
	// (MeasureLag); nil on a master, or when it could not be known.
	Lag *Lag `json:"lag,omitempty"`
}
