package nodes

import (
	"context"
	"fmt"
	"strings"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/replication"
)

// Split is two Redis masters whose histories part: each side has bytes
// past the fork that the other lacks. When a side's stream past the fork
// was read (Tail), it is known whether those bytes are writes or only the
// replication PINGs of a master that was cut off; otherwise only their
// count is.
type Split struct {
	replication.Divergence
	Sides [2]SplitSide
}

// SplitSide is one master of a split.
type SplitSide struct {
	Node string
	Info replication.Info
	// Bytes is how much of its stream lies past the fork.
	Bytes int64
	// Tail is what those bytes hold, when read; nil otherwise.
	Tail *replication.Tail
}

// TookWrites reports whether the side wrote data past the fork: known
// writes, or unread bytes (which may be writes).
func (s SplitSide) TookWrites() bool {
	if s.Bytes == 0 {
		return false
	}
	return s.Tail == nil || !s.Tail.Clean()
}

func (s SplitSide) String() string {
	switch {
	case s.Bytes == 0:
		return s.Node + " took no writes"
	case s.Tail == nil:
		return fmt.Sprintf("%s has %s of history past it (not read: may be writes)", s.Node, human.Bytes(s.Bytes))
	case s.Tail.Clean():
		return fmt.Sprintf("%s took no writes (%s of PINGs)", s.Node, human.Bytes(s.Bytes))
	}
	return fmt.Sprintf("%s took %d %s (%s)", s.Node, s.Tail.Writes, plural(s.Tail.Writes, "write", "writes"), human.Bytes(s.Tail.WriteBytes))
}

// Real reports whether both sides took writes: neither can follow the other
// without losing acknowledged data, so an operator must choose (redkeep
// resolve). A split where one side took none heals by itself: its hooks
// make it the other's replica.
func (s Split) Real() bool { return s.Sides[0].TookWrites() && s.Sides[1].TookWrites() }

func (s Split) String() string {
	var took []string
	for _, side := range s.Sides {
		took = append(took, side.String())
	}
	return fmt.Sprintf("split brain: %s since the histories diverged at offset %d (history %.8s)", strings.Join(took, ", "), s.Fork-1, s.ReplID)
}

// FindSplit finds a split among the snapshots: exactly two reachable Redis
// masters that share a history and part from it. Two masters with no
// common history at all (a restart) are no split in this sense: nothing
// of one is in the other.
func FindSplit(snaps []Snapshot) (Split, bool) {
	var sides []SplitSide
	for _, s := range snaps {
		if s.Conn == ConnConnected && s.Redis.Up && !s.Redis.Info.Loading && s.Redis.Info.Role == replication.RoleMaster {
			sides = append(sides, SplitSide{Node: s.Node, Info: s.Redis.Info, Tail: s.Redis.Tail})
		}
	}
	if len(sides) != 2 {
		return Split{}, false
	}
	d, ok := replication.Diverge(sides[0].Info, sides[1].Info)
	if !ok {
		return Split{}, false
	}
	sp := Split{Divergence: d}
	for i, side := range sides {
		side.Bytes = d.TailBytes(side.Info)
		if side.Tail != nil && !side.Tail.Covers(side.Info, d) {
			side.Tail = nil
		}
		sp.Sides[i] = side
	}
	if sp.Sides[0].Bytes == 0 && sp.Sides[1].Bytes == 0 {
		return Split{}, false // the same data twice: no fork at all
	}
	return sp, true
}

// ReadTail reads what the node's Redis holds past divergence d, through
// the SSH connection (see replication.ReadTail).
func (p *Prober) ReadTail(ctx context.Context, in replication.Info, d replication.Divergence) (replication.Tail, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if p.err != nil {
		return replication.Tail{}, p.err
	}
	conn, err := p.conn.DialContext(ctx, "tcp", p.node.Redis.Addr)
	if err != nil {
		return replication.Tail{}, fmt.Errorf("node %s: Redis %s: %w", p.node.Name, p.node.Redis.Addr, err)
	}
	defer conn.Close()
	t, err := replication.ReadTail(ctx, conn, replication.Auth{Username: p.cfg.Redis.Username, Password: p.rc.Options().Password}, in, d)
	if err != nil {
		return t, fmt.Errorf("node %s: %w", p.node.Name, err)
	}
	return t, nil
}

// ReadSplitTails reads, when snaps show two masters whose histories part,
// each master's stream past the fork through read (one node's Prober.ReadTail)
// and records it in its snapshot, so the verdict can tell writes from PINGs.
// A tail that cannot be read is left out; the verdict then says so.
func ReadSplitTails(ctx context.Context, snaps []Snapshot, read func(ctx context.Context, node string, in replication.Info, d replication.Divergence) (replication.Tail, error)) {
	sp, ok := FindSplit(snaps)
	if !ok {
		return
	}
	for i := range snaps {
		s := &snaps[i]
		for _, side := range sp.Sides {
			if side.Node != s.Node || side.Bytes == 0 {
				continue
			}
			if t, err := read(ctx, s.Node, side.Info, sp.Divergence); err == nil {
				s.Redis.Tail = &t
			} else {
				s.Redis.TailErr = err.Error()
			}
		}
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
