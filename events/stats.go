package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/nodefile"
)

// Stats counts the node's notification deliveries since the journal was
// set up: each channel (command, webhook) of each event counts once.
type Stats struct {
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	// Dropped counts events never queued: the spool was full.
	Dropped       uint64    `json:"dropped"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
	LastDelivered time.Time `json:"last_delivered,omitzero"`
}

// StatsPath is the counters' file, beside the journal, readable by all
// (the metrics exporter need not be root).
func StatsPath(cfg *config.Config) string { return cfg.Hooks.EventLog + ".notify-stats" }

// DeliveryStats reads the node's notification counters; all zero when
// nothing was ever delivered.
func DeliveryStats(cfg *config.Config) (Stats, error) {
	var s Stats
	data, err := nodefile.Read(StatsPath(cfg))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return Stats{}, fmt.Errorf("notify stats %s: %w", StatsPath(cfg), err)
	}
	return s, nil
}

// updateStats changes the counters under the journal's lock.
func updateStats(cfg *config.Config, fn func(*Stats)) error {
	l, err := lock(cfg.Hooks.EventLog+".lock", lockWait)
	if err != nil {
		return err
	}
	defer l.unlock()
	s, err := DeliveryStats(cfg)
	if err != nil {
		s = Stats{} // a damaged file starts over rather than stopping the counts
	}
	fn(&s)
	if len(s.LastError) > 512 {
		s.LastError = human.Truncate(s.LastError, 509) + "..."
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return nodefile.WriteAtomic(StatsPath(cfg), append(data, '\n'))
}
