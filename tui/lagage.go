package tui

import (
	"time"

	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

// offsetHistory is a master's replication offsets as the console's polls
// saw them, newest last: what the replica's lag in seconds is read from.
// Redis's own figures are not a lag: a replica's master_last_io_seconds_ago
// counts the seconds since the last byte (it climbs on an idle pair until
// the next PING), and the master's lag= the seconds since the last ACK.
type offsetHistory struct {
	samples []offsetSample
}

type offsetSample struct {
	at     time.Time
	replid string
	offset int64
}

// historyLen bounds the history: at the default 500 ms poll, 64 samples
// reach half a minute back.
const historyLen = 64

// add records s when it is a master's.
func (h *offsetHistory) add(s nodes.Snapshot) {
	in := s.Redis.Info
	if !s.Redis.Up || in.Role != replication.RoleMaster || s.Time.IsZero() {
		return
	}
	if n := len(h.samples); n > 0 && !s.Time.After(h.samples[n-1].at) {
		return
	}
	if len(h.samples) == historyLen {
		h.samples = append(h.samples[:0], h.samples[1:]...)
	}
	h.samples = append(h.samples, offsetSample{at: s.Time, replid: in.ReplID, offset: in.MasterReplOffset})
}

// age is how old a replica's data is at time at, when its offset on
// history replid is offset: the time since the master last was at or below
// that offset, by the polls up to at. It is zero when the replica had all
// the master had at the latest poll (so it is known to within one poll
// interval). known is false when the replica is behind every sample; age
// is then the span the history covers, a lower bound.
func (h *offsetHistory) age(replid string, offset int64, at time.Time) (age time.Duration, known bool) {
	newest := true
	var oldest time.Time
	for i := len(h.samples) - 1; i >= 0; i-- {
		s := h.samples[i]
		if s.at.After(at) {
			continue
		}
		if s.replid != replid {
			break
		}
		if s.offset <= offset {
			if newest {
				return 0, true
			}
			return at.Sub(s.at), true
		}
		newest, oldest = false, s.at
	}
	if oldest.IsZero() {
		return 0, false
	}
	return at.Sub(oldest), false
}
