package logs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/config"
)

// Tail is one log of one node: how to follow it and how to parse its lines.
type Tail struct {
	Follower Follower
	Parser   Parser
}

// NodeTails returns the logs the console follows on the named node: the
// journald units of console.journal_unit (comma-separated) when set, else
// the syslog file (keepalived, redis-server and the hooks' syslog copies),
// or their entries in the journal on a node that has no such file
// (JournalFallback); and the hooks' redis-state log. s reaches the node; each log starts with
// its last backlog lines.
func NodeTails(c *config.Config, node string, s Streamer, backlog int) ([]Tail, error) {
	found := false
	for _, n := range c.Nodes {
		found = found || n.Name == node
	}
	if !found {
		return nil, fmt.Errorf("logs: no node %q in the config", node)
	}
	var tails []Tail
	if units := splitUnits(c.Console.JournalUnit); len(units) > 0 {
		tails = append(tails, Tail{
			Follower: &Journal{Streamer: s, Units: units, Backlog: backlog},
			Parser:   Parser{Node: node, Source: SourceJournal},
		})
	} else if c.Console.Syslog != "" {
		tails = append(tails, Tail{
			Follower: &SystemLog{Streamer: s, Path: c.Console.Syslog, Matches: JournalFallback, Backlog: backlog},
			// Syslog lines or journal JSON, whichever the node has.
			Parser: Parser{Node: node},
		})
	}
	if c.Hooks.StateLog != "" {
		tails = append(tails, Tail{
			Follower: &RemoteFile{Streamer: s, Path: c.Hooks.StateLog, Backlog: backlog},
			Parser:   Parser{Node: node, Source: SourceState},
		})
	}
	return tails, nil
}

// JournalFallback is what is followed in the journal of a node without a
// syslog file (journalctl matches): the keepalived and redis-server units
// (the hooks run as keepalived's children, so their messages belong to its
// unit), systemd's own messages about those units, or any entry logged
// under keepalived's, Redis's or redkeep's syslog identifier, which also
// finds them on a host that runs them outside those units.
var JournalFallback = []string{
	"_SYSTEMD_UNIT=keepalived.service", "_SYSTEMD_UNIT=redis-server.service", "+",
	"UNIT=keepalived.service", "UNIT=redis-server.service", "+",
	"SYSLOG_IDENTIFIER=Keepalived", "SYSLOG_IDENTIFIER=Keepalived_vrrp", "SYSLOG_IDENTIFIER=Keepalived_healthcheckers",
	"SYSLOG_IDENTIFIER=redis-server", "SYSLOG_IDENTIFIER=redis", "SYSLOG_IDENTIFIER=redkeep",
}

func splitUnits(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// FollowAll pumps every tail into out until ctx ends, then returns. A tail
// that stops with an error is reported on out as an error notice and the
// others go on.
func FollowAll(ctx context.Context, tails []Tail, out chan<- Event) {
	var wg sync.WaitGroup
	for i := range tails {
		t := &tails[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Pump(ctx, t.Follower, &t.Parser, out); err != nil && ctx.Err() == nil {
				ev := Event{Node: t.Parser.Node, Source: t.Parser.Source, Time: time.Now(), Kind: KindNotice, Level: LevelError,
					Message: "stopped following: " + err.Error()}
				select {
				case out <- ev:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Wait()
}
