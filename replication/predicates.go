package replication

import (
	"fmt"
	"strconv"
	"strings"
)

// zeroReplID is what Redis reports as master_replid2 when there is no
// previous history; it must never count as a shared history.
const zeroReplID = "0000000000000000000000000000000000000000"

// Offset is how far into its history (ReplID) the server's data set goes.
// On a master that is master_repl_offset; on a replica it is what it has
// applied, which Redis reports both as slave_repl_offset and, once
// processed, as master_repl_offset.
func (in Info) Offset() int64 {
	if in.Role == RoleReplica && in.ReplicaOffset > in.MasterReplOffset {
		return in.ReplicaOffset
	}
	return in.MasterReplOffset
}

// Empty reports whether the server holds nothing that could be lost: no
// keys and no replication history (offset 0), as a freshly started server.
// A fresh replica that has never synced counts too: Redis reports it with
// master_repl_offset 0 but slave_repl_offset 1 (its master's initial offset
// plus one), which is no history at all. Missing it made the check detach a
// restarted, empty replica from its master "before a resync wipes it" and
// serve as a second master until the next check (seen in the lab's
// redis-restart case).
func (in Info) Empty() bool {
	if in.Keys != 0 {
		return false
	}
	return in.Offset() == 0 || in.Role == RoleReplica && in.MasterReplOffset == 0 && in.ReplicaOffset <= 1
}

func validReplID(id string) bool { return id != "" && id != zeroReplID }

// short abbreviates a 40-character replication id for messages.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	if id == "" {
		return "(none)"
	}
	return id
}

// CaughtUp reports whether replica has applied everything master has: the
// same history (replid) and an offset at least master_repl_offset.
func CaughtUp(replica, master Info) (bool, string) {
	if !validReplID(master.ReplID) {
		return false, "master reports no replication id"
	}
	if replica.ReplID != master.ReplID {
		return false, fmt.Sprintf("different histories: replica replid %s, master replid %s", short(replica.ReplID), short(master.ReplID))
	}
	if replica.Loading || replica.SyncInProgress {
		return false, fmt.Sprintf("replica is still loading or syncing (offset %d of %d)", replica.Offset(), master.MasterReplOffset)
	}
	if got, want := replica.Offset(), master.MasterReplOffset; got < want {
		return false, fmt.Sprintf("replica offset %d is %d bytes behind master offset %d", got, want-got, want)
	}
	return true, fmt.Sprintf("replica offset %d reached master offset %d (replid %s)", replica.Offset(), master.MasterReplOffset, short(master.ReplID))
}

// Lag is how many bytes of master's history replica has not applied. ok is
// false when the two do not share a history, so no byte count means anything.
func Lag(replica, master Info) (bytes int64, ok bool) {
	if !validReplID(master.ReplID) || replica.ReplID != master.ReplID {
		return 0, false
	}
	lag := master.MasterReplOffset - replica.Offset()
	if lag < 0 {
		// The replica's INFO was taken after the master's.
		lag = 0
	}
	return lag, true
}

// SafeToReplicateFrom reports whether making local (the follower) a replica
// of peer (the source) cannot lose local's data (docs/safety.md rule 2). The
// reason calls them follower and source, since callers ask both ways round. A replica discards its data set for
// its master's, so that is only safe when local has nothing to lose, or when
// peer's history contains all of local's:
//   - same replid, and peer's offset is at least local's; or
//   - peer was promoted from local's history (peer's replid2 is local's
//     replid) at or after local's offset; or
//   - local was promoted from peer's history and has not moved since (its
//     offset is still where the promotion left it), and peer has at least
//     that much: a spurious promotion with no writes is not a fork.
//
// An empty, restarted (different history) or behind peer is refused.
func SafeToReplicateFrom(local, peer Info) (bool, string) {
	if peer.Loading {
		return false, "the source is still loading its data set"
	}
	if local.Empty() {
		return true, fmt.Sprintf("the follower is empty (0 keys, offset 0): nothing to lose; the source has %d keys at offset %d", peer.Keys, peer.Offset())
	}
	if peer.Empty() {
		return false, fmt.Sprintf("the source is empty (0 keys, offset 0, replid %s) but the follower has %d keys at offset %d (replid %s): replicating would wipe them",
			short(peer.ReplID), local.Keys, local.Offset(), short(local.ReplID))
	}
	lo := local.Offset()
	if validReplID(local.ReplID) && peer.ReplID == local.ReplID {
		if po := peer.Offset(); po < lo {
			return false, fmt.Sprintf("the source is behind: source offset %d < follower offset %d on the same history %s (%d bytes the follower would lose)", po, lo, short(local.ReplID), lo-po)
		}
		return true, fmt.Sprintf("the source continues the follower's history %s: source offset %d >= follower offset %d", short(local.ReplID), peer.Offset(), lo)
	}
	if validReplID(local.ReplID) && peer.ReplID2 == local.ReplID {
		// Redis sets second_repl_offset to the first byte of the new
		// history: the old one is valid up to second_repl_offset-1.
		if end := peer.SecondReplOffset - 1; end < lo {
			return false, fmt.Sprintf("the source was promoted from the follower's history %s at offset %d, before the follower's offset %d (%d bytes the follower would lose)", short(local.ReplID), end, lo, lo-end)
		}
		return true, fmt.Sprintf("the source was promoted from the follower's history %s at offset %d >= follower offset %d", short(local.ReplID), peer.SecondReplOffset-1, lo)
	}
	if validReplID(local.ReplID2) && local.ReplID2 == peer.ReplID && lo == local.SecondReplOffset-1 {
		// The follower was promoted from the source's history and its
		// offset has not moved since: no write, not even a PING to a
		// replica, so its data set is the old history's up to lo.
		if po := peer.Offset(); po < lo {
			return false, fmt.Sprintf("the source is behind: the follower was promoted from its history %s at offset %d, the source is at %d", short(peer.ReplID), lo, po)
		}
		return true, fmt.Sprintf("the follower was promoted from the source's history %s at offset %d and took no writes since; source offset %d >= %d", short(peer.ReplID), lo, peer.Offset(), lo)
	}
	return false, fmt.Sprintf("the source does not continue the follower's history (restarted or diverged): follower replid %s offset %d with %d keys; source replid %s (replid2 %s) offset %d with %d keys",
		short(local.ReplID), lo, local.Keys, short(peer.ReplID), short(peer.ReplID2), peer.Offset(), peer.Keys)
}

// SafeToReplicateFromTail is SafeToReplicateFrom, knowing also what the
// follower's own replication stream holds past the point where the two
// histories part (tail, read by ReadTail from the follower). A follower
// whose bytes past the fork change no data (an isolated master's PINGs to a
// replica it lost) loses nothing by following a source that holds the
// common history: that is not a fork, whatever the offsets say. A nil tail,
// or one read for another fork or an older offset, decides nothing.
func SafeToReplicateFromTail(local, peer Info, tail *Tail) (bool, string) {
	ok, why := SafeToReplicateFrom(local, peer)
	if ok || tail == nil || peer.Loading || peer.Empty() {
		return ok, why
	}
	d, found := Diverge(local, peer)
	if !found || !tail.Covers(local, d) {
		return ok, why
	}
	if !tail.Clean() {
		return false, fmt.Sprintf("the follower took writes the source lacks: its stream past the fork at offset %d of history %s holds %s", d.Fork-1, short(d.ReplID), tail)
	}
	return true, fmt.Sprintf("the source holds the common history %s up to offset %d, and the follower's stream past it holds %s", short(d.ReplID), d.Fork-1, tail)
}

// SupportsSwitchover reports whether a redis_version can switch over
// without losing writes: 6.2 brought FAILOVER and CLIENT PAUSE WRITE.
func SupportsSwitchover(version string) bool { return atLeast62(version) }

// atLeast62 reports whether a redis_version has FAILOVER and CLIENT PAUSE WRITE.
func atLeast62(version string) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return major > 6 || major == 6 && minor >= 2
}
