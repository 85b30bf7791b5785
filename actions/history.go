package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/wire"
)

// NodeRunner runs the node's redkeep with args (its --config and --node
// added) and returns its stdout: SSHNodes over SSH, fakes in tests.
type NodeRunner interface {
	Redkeep(ctx context.Context, node string, args ...string) ([]byte, error)
}

// NodeHistory is what `redkeep hook history --json` prints on a node.
type NodeHistory struct {
	Node   string       `json:"node"`
	Events []wire.Event `json:"events"`
	// Skipped counts journal lines that were not events.
	Skipped int `json:"skipped,omitempty"`
}

// History is the pair's merged event history.
type History struct {
	// Events of both nodes, oldest first (newest last).
	Events []wire.Event `json:"events"`
	// Errors say which node's history could not be read, and why.
	Errors []string `json:"errors,omitempty"`
	// Warnings say what was left out of a node's history (lines of its
	// journal that were not events).
	Warnings []string `json:"warnings,omitempty"`
}

// MaxHistory caps the merged history: each node sends at most 5,000.
const MaxHistory = 10000

// FetchHistory asks both nodes at once for their events since the given
// duration ago (0: all) and merges them by time. A node that cannot be
// asked is named in Errors; the other's events are still returned.
func FetchHistory(ctx context.Context, cfg *config.Config, n NodeRunner, since time.Duration) History {
	args := []string{"hook", "history", "--json"}
	if since > 0 {
		args = append(args, "--since", since.String())
	}
	res := make([]NodeHistory, len(cfg.Nodes))
	errs := make([]error, len(cfg.Nodes))
	var wg sync.WaitGroup
	for i := range cfg.Nodes {
		name := cfg.Nodes[i].Name
		wg.Go(func() {
			out, err := n.Redkeep(ctx, name, args...)
			if err != nil {
				errs[i] = fmt.Errorf("node %s: %w", name, err)
				return
			}
			res[i], errs[i] = parseNodeHistory(name, out)
		})
	}
	wg.Wait()
	var h History
	for i := range res {
		if errs[i] != nil {
			h.Errors = append(h.Errors, errs[i].Error())
			continue
		}
		if res[i].Skipped > 0 {
			h.Warnings = append(h.Warnings, fmt.Sprintf("node %s: %d journal lines were not events (skipped)", cfg.Nodes[i].Name, res[i].Skipped))
		}
		h.Events = append(h.Events, res[i].Events...)
	}
	h.Events = Merge(h.Events)
	return h
}

// parseNodeHistory decodes one node's reply, checking every event as the
// journal's reader does and that each is the node's own.
func parseNodeHistory(node string, out []byte) (NodeHistory, error) {
	var raw struct {
		Node    string            `json:"node"`
		Events  []json.RawMessage `json:"events"`
		Skipped int               `json:"skipped"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return NodeHistory{}, fmt.Errorf("node %s: unreadable history: %v: %s", node, err, human.Abbrev(strings.TrimSpace(string(out)), 120))
	}
	if len(raw.Events) > MaxHistory {
		raw.Events = raw.Events[len(raw.Events)-MaxHistory:]
	}
	h := NodeHistory{Node: node, Skipped: raw.Skipped}
	for _, r := range raw.Events {
		ev, err := wire.ParseEvent(r)
		if err != nil {
			h.Skipped++
			continue
		}
		// A node speaks for itself only.
		ev.Node = node
		h.Events = append(h.Events, ev)
	}
	return h, nil
}

// Merge sorts events by time, oldest first, keeping each node's order for
// equal times, and keeps the newest MaxHistory.
func Merge(evs []wire.Event) []wire.Event {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	if len(evs) > MaxHistory {
		evs = evs[len(evs)-MaxHistory:]
	}
	return evs
}
