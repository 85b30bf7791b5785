package wire

import (
	"time"

	"github.com/redkeep/redkeep/replication"
)

// ResolveResult says where this node's data set was saved before it became
// the kept node's replica.
type ResolveResult struct {
	// RDB is the saved copy of this node's data set.
	RDB    string `json:"rdb"`
	Bytes  int64  `json:"bytes"`
	Keys   int64  `json:"keys"`
	ReplID string `json:"replid"`
	Offset int64  `json:"offset"`
	// Tail is what this node held past the fork (its writes the kept node
	// lacks), when it could be read.
	Tail *replication.Tail `json:"tail,omitempty"`
	// Took is the whole step, PausedFor how long local writes were held.
	Took      time.Duration `json:"took_ns"`
	PausedFor time.Duration `json:"paused_ns"`
}
