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
	// Pause is the estimated catch-up time from the replica's measured
	// apply rate (MeasureLagRate); nil when the rate was not sampled.
	Pause *PauseEstimate `json:"pause,omitempty"`
}

// PauseEstimate is how long a switchover would hold writes paused: the
// time the replica needs to apply the bytes it lags by, at the rate it was
// seen applying them. While a replica keeps up, its measured rate is the
// master's write rate, a lower bound on what it can apply, so the estimate
// errs long; the node-side switchover bounds the real pause anyway.
type PauseEstimate struct {
	// Bytes is the lag the estimate is for.
	Bytes int64 `json:"bytes"`
	// Rate is the replica's apply rate in bytes per second over Window,
	// 0 when its offset did not move.
	Rate float64 `json:"rate"`
	// Window is how long the replica's offset was sampled.
	Window time.Duration `json:"window_ns"`
	// Pause is the estimate; meaningful only when Known.
	Pause time.Duration `json:"pause_ns"`
	// Known is false when no estimate can be made: the replica lagged and
	// applied nothing while sampled.
	Known bool `json:"known"`
}

// String says what the estimate means for writes, after the node's name:
// "is ~40 ms behind at 310.0 MiB/s; writes would pause about that long".
func (e PauseEstimate) String() string {
	switch {
	case e.Bytes == 0:
		return "has every byte; writes would pause only for the switch itself"
	case !e.Known:
		return fmt.Sprintf("is %s behind and applied nothing in %s; writes would pause until it does", human.Bytes(e.Bytes), e.Window.Round(time.Millisecond))
	case e.Rate == 0:
		return fmt.Sprintf("caught up with %s within %s and nothing more came; writes would pause about that long", human.Bytes(e.Bytes), e.Pause.Round(time.Millisecond))
	}
	return fmt.Sprintf("is ~%s behind at %s/s; writes would pause about that long", roundPause(e.Pause), human.Bytes(int64(e.Rate)))
}

// roundPause keeps two significant digits of a pause: 40ms, 1.2s, 350µs.
func roundPause(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// OffsetSample is a replica's offset and when it was read.
type OffsetSample struct {
	At     time.Time
	Offset int64
}

// EstimatePause estimates how long the replica needs to apply bytes of lag
// from its offset sampled over a window: bytes at the rate the offset
// moved from the first sample to the last. A replica whose offset did not
// move is known only when it reached target (the master's offset as
// probed) while sampled, at reached after the first sample: it has every
// byte and nothing more came.
func EstimatePause(bytes int64, samples []OffsetSample, target int64, reached time.Duration) PauseEstimate {
	e := PauseEstimate{Bytes: bytes}
	if bytes <= 0 {
		e.Bytes, e.Known = 0, true
		return e
	}
	if len(samples) == 0 {
		return e
	}
	first, last := samples[0], samples[len(samples)-1]
	e.Window = last.At.Sub(first.At)
	if moved := last.Offset - first.Offset; moved > 0 && e.Window > 0 {
		e.Rate = float64(moved) / e.Window.Seconds()
		e.Pause = time.Duration(float64(bytes) / e.Rate * float64(time.Second))
		e.Known = true
		return e
	}
	if last.Offset >= target {
		e.Pause, e.Known = reached, true
	}
	return e
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

// RateWindow is how long MeasureLagRate samples a lagging replica's offset
// for its apply rate: long enough for a few dozen reads, short enough for
// a preflight.
const RateWindow = 150 * time.Millisecond

// MeasureLag fills the Lag of every replica in snaps that follows the
// master in snaps (same history): at once when it has the master's
// offset, else by reading its offset again with read until it gets there
// or bound passes. Replicas are measured in parallel; the whole call takes
// at most bound (or ctx's deadline, when sooner).
func MeasureLag(ctx context.Context, snaps []Snapshot, bound time.Duration, read OffsetReader) {
	MeasureLagRate(ctx, snaps, bound, 0, read)
}

// MeasureLagRate is MeasureLag that also estimates each lagging replica's
// catch-up time (Lag.Pause): it goes on reading the replica's offset for
// at least window, even after the replica reached the master's offset, so
// its apply rate is measured over that window. window is cut short by
// bound. A replica with no lag gets a zero estimate without sampling.
func MeasureLagRate(ctx context.Context, snaps []Snapshot, bound, window time.Duration, read OffsetReader) {
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
			if window > 0 {
				snaps[i].Redis.Lag.Pause = &PauseEstimate{Known: true}
			}
			continue
		}
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			snaps[i].Redis.Lag = catchUp(ctx, snaps[i].Node, bytes, m, bound, window, read)
		}()
	}
	for ; n > 0; n-- {
		<-done
	}
}

// catchUp reads node's offset until it reaches master's and, when window
// is positive, until window has passed, for the apply rate.
func catchUp(ctx context.Context, node string, bytes int64, master replication.Info, bound, window time.Duration, read OffsetReader) *Lag {
	start := time.Now()
	t := time.NewTicker(catchUpPoll)
	defer t.Stop()
	var samples []OffsetSample
	var lag *Lag
	result := func() *Lag {
		if lag == nil {
			lag = &Lag{Bytes: bytes, Seconds: bound.Seconds(), Source: LagNotYet}
		}
		if window > 0 {
			var reached time.Duration
			if lag.Known {
				reached = time.Duration(lag.Seconds * float64(time.Second))
			}
			e := EstimatePause(bytes, samples, master.MasterReplOffset, reached)
			lag.Pause = &e
		}
		return lag
	}
	for {
		select {
		case <-ctx.Done():
			return result()
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
		// Bounded: one sample per poll until the bound.
		samples = append(samples, OffsetSample{At: time.Now(), Offset: in.Offset()})
		if lag == nil && in.Offset() >= master.MasterReplOffset {
			lag = &Lag{Bytes: bytes, Seconds: time.Since(start).Seconds(), Known: true, Source: LagCaughtUp}
		}
		if lag != nil && time.Since(start) >= window {
			return result()
		}
	}
}
