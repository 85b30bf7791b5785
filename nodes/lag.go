package nodes

import (
	"context"
	"fmt"
	"time"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/replication"
)

// Lag is how far a replica's data is behind its master's, as a one-shot
// probe can know it. Redis's own figures are not a lag in time: a
// replica's master_last_io_seconds_ago is the time since the last byte (it
// climbs on an idle pair until the master's next PING), and the lag= of the
// master's slaveN line is the time since the last ACK (sent once a second).
// So the seconds here are measured: after the probe, the replica's offset
// is read again until it reaches the offset the master had at the probe.
// That is zero when the replica already had everything.
type Lag struct {
	// Bytes is the master's offset less the replica's, both as probed.
	Bytes int64 `json:"bytes"`
	// Seconds is how long after the probe the replica reached the master's
	// offset: 0 when it had it already. When Known is false the replica did
	// not get there within the bound and Seconds is that bound, a lower
	// bound on the lag.
	Seconds float64 `json:"seconds"`
	Known   bool    `json:"known"`
	// Source says how Seconds was found, for people and scripts.
	Source string `json:"source"`
}

// String is the lag as the status table shows it: "0 B · 0 s",
// "12.0 KiB · 0.03 s", "3.0 MiB · > 1 s".
func (l Lag) String() string {
	secs := fmt.Sprintf("%.2g s", l.Seconds)
	switch {
	case l.Seconds == 0:
		secs = "0 s"
	case !l.Known:
		secs = fmt.Sprintf("> %.2g s", l.Seconds)
	}
	return human.Bytes(l.Bytes) + " · " + secs
}

// Lag sources.
const (
	LagHadAll   = "the replica had the master's offset when probed"
	LagCaughtUp = "time the replica took to reach the master's offset as probed"
	LagNotYet   = "the replica did not reach the master's offset as probed within the bound"
)

// CatchUpBound is how long MeasureLag waits for a replica to reach its
// master's probed offset before it reports the lag as more than that.
const CatchUpBound = time.Second

// catchUpPoll is how often a replica's offset is read while waiting.
const catchUpPoll = 5 * time.Millisecond

// OffsetReader reads a node's Redis replication offset and history id
// again, cheaply (ROLE, or INFO replication).
type OffsetReader func(ctx context.Context, node string) (replication.Info, error)

// MeasureLag fills the Lag of every replica in snaps that follows the
// master in snaps (same history): at once when it has the master's
// offset, else by reading its offset again with read until it gets there
// or bound passes. Replicas are measured in parallel; the whole call takes
// at most bound (or ctx's deadline, when sooner).
func MeasureLag(ctx context.Context, snaps []Snapshot, bound time.Duration, read OffsetReader) {
	master := -1
	for i, s := range snaps {
		if s.Redis.Up && s.Redis.Info.Role == replication.RoleMaster {
			if master >= 0 {
				return // two masters: no lag to speak of (see ReadSplitTails)
			}
			master = i
		}
	}
	if master < 0 {
		return
	}
	m := snaps[master].Redis.Info
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	done := make(chan struct{})
	n := 0
	for i := range snaps {
		in := snaps[i].Redis.Info
		if i == master || !snaps[i].Redis.Up || in.Role != replication.RoleReplica {
			continue
		}
		bytes, ok := replication.Lag(in, m)
		if !ok {
			continue
		}
		if bytes == 0 {
			snaps[i].Redis.Lag = &Lag{Known: true, Source: LagHadAll}
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			snaps[i].Redis.Lag = catchUp(ctx, snaps[i].Node, bytes, m, bound, read)
		}()
	}
	for ; n > 0; n-- {
		<-done
	}
}

// catchUp reads node's offset until it reaches master's.
func catchUp(ctx context.Context, node string, bytes int64, master replication.Info, bound time.Duration, read OffsetReader) *Lag {
	start := time.Now()
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return &Lag{Bytes: bytes, Seconds: bound.Seconds(), Source: LagNotYet}
		case <-t.C:
		}
		in, err := read(ctx, node)
		if err != nil {
			continue // until the bound: a slow read is a slow replica
		}
		if in.ReplID != "" && in.ReplID != master.ReplID && in.ReplID != master.ReplID2 {
			// A new history (a failover) while we measured: the question
			// has no answer any more.
			return &Lag{Bytes: bytes, Seconds: bound.Seconds(), Source: "the replica moved to another history while measured"}
		}
		if in.Offset() >= master.MasterReplOffset {
			return &Lag{Bytes: bytes, Seconds: time.Since(start).Seconds(), Known: true, Source: LagCaughtUp}
		}
	}
}
