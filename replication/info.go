// Package replication holds one Redis server's replication facts, parsed from
// INFO and ROLE, and the safety predicates over two of them. hooks/, nodes/ and
// actions/ all decide with these, so each rule is written once.
package replication

// Role is a Redis server's replication role.
type Role string

// Roles as redkeep names them (Redis says "slave" for a replica).
const (
	RoleUnknown Role = ""
	RoleMaster  Role = "master"
	RoleReplica Role = "replica"
)

// Info is what one Redis server says about its replication, from INFO
// (replication, persistence, keyspace, server sections).
type Info struct {
	Role Role `json:"role"`
	// RunID changes on every restart (INFO server run_id).
	RunID string `json:"run_id"`
	// Version is redis_version, e.g. "7.0.15".
	Version string `json:"version"`
	// ReplID and ReplID2 name the replication history; ReplID2 is the
	// history this server continued from when it was promoted, valid up to
	// SecondReplOffset.
	ReplID           string `json:"replid"`
	ReplID2          string `json:"replid2"`
	MasterReplOffset int64  `json:"master_repl_offset"`
	SecondReplOffset int64  `json:"second_repl_offset"`

	// FailoverState is master_failover_state: no-failover, waiting-for-sync
	// or failover-in-progress (the FAILOVER command).
	FailoverState string `json:"failover_state"`

	// Master side.
	ConnectedReplicas int       `json:"connected_replicas"`
	Replicas          []Replica `json:"replicas,omitempty"`

	// Replica side.
	MasterHost     string `json:"master_host,omitempty"`
	MasterPort     int    `json:"master_port,omitempty"`
	LinkUp         bool   `json:"link_up"`          // master_link_status:up
	LinkDownSecs   int64  `json:"link_down_secs"`   // master_link_down_since_seconds, -1 when unknown
	LastIOSecs     int64  `json:"last_io_secs"`     // master_last_io_seconds_ago, -1 when unknown
	SyncInProgress bool   `json:"sync_in_progress"` // master_sync_in_progress:1
	ReplicaOffset  int64  `json:"replica_offset"`   // slave_repl_offset: what this replica has applied

	// The replication backlog: the stream bytes a partial resync can still
	// be served from (repl_backlog_active, _first_byte_offset, _histlen).
	BacklogActive    bool  `json:"backlog_active"`
	BacklogFirstByte int64 `json:"backlog_first_byte"`
	BacklogHistLen   int64 `json:"backlog_histlen"`

	// Loading is true while the server loads its data set (INFO persistence).
	Loading bool `json:"loading"`
	// Keys is the total key count over all databases (INFO keyspace).
	Keys int64 `json:"keys"`
}

// Replica is one slaveN line in a master's INFO replication.
type Replica struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	State  string `json:"state"` // online, wait_bgsave, send_bulk, ...
	Offset int64  `json:"offset"`
	Lag    int64  `json:"lag"` // seconds since the replica's last ack
}
