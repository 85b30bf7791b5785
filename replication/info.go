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
	Role Role
	// RunID changes on every restart (INFO server run_id).
	RunID string
	// Version is redis_version, e.g. "7.0.15".
	Version string
	// ReplID and ReplID2 name the replication history; ReplID2 is the
	// history this server continued from when it was promoted, valid up to
	// SecondReplOffset.
	ReplID           string
	ReplID2          string
	MasterReplOffset int64
	SecondReplOffset int64

	// FailoverState is master_failover_state: no-failover, waiting-for-sync
	// or failover-in-progress (the FAILOVER command).
	FailoverState string

	// Master side.
	ConnectedReplicas int
	Replicas          []Replica

	// Replica side.
	MasterHost     string
	MasterPort     int
	LinkUp         bool  // master_link_status:up
	LinkDownSecs   int64 // master_link_down_since_seconds, -1 when unknown
	LastIOSecs     int64 // master_last_io_seconds_ago, -1 when unknown
	SyncInProgress bool  // master_sync_in_progress:1
	ReplicaOffset  int64 // slave_repl_offset: what this replica has applied

	// Loading is true while the server loads its data set (INFO persistence).
	Loading bool
	// Keys is the total key count over all databases (INFO keyspace).
	Keys int64
}

// Replica is one slaveN line in a master's INFO replication.
type Replica struct {
	IP     string
	Port   int
	State  string // online, wait_bgsave, send_bulk, ...
	Offset int64
	Lag    int64 // seconds since the replica's last ack
}
