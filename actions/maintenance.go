package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/wire"
)

// MaintenanceTimeout bounds one maintenance verb on both nodes: an SSH
// round trip and a small file write each.
const MaintenanceTimeout = 10 * time.Second

// MaintenanceOptions are `redkeep maintenance on|off|status`'s parameters.
type MaintenanceOptions struct {
	// Verb is wire.MaintenanceOn, MaintenanceOff or MaintenanceStatus.
	Verb   string
	Reason string
	// For is how long maintenance lasts (on only).
	For time.Duration
	// Host names the console's machine in the record; default its hostname.
	Host string
}

// NodeMaintenance is one node's answer to a maintenance verb.
type NodeMaintenance struct {
	Node  string
	Reply wire.MaintenanceReply
	// Err is why the node could not be reached or its verb failed.
	Err error
}

// OK reports whether the node answered without error.
func (n NodeMaintenance) OK() bool { return n.Err == nil && n.Reply.Error == "" }

// Maintenance runs `redkeep hook maintenance VERB` on every node at once,
// each answering for itself. A node that cannot be reached still has an
// answer saying so; MaintenanceError sums up what that means.
func Maintenance(ctx context.Context, cfg *config.Config, n Nodes, o MaintenanceOptions) []NodeMaintenance {
	args := []string{"hook", "maintenance", o.Verb}
	switch o.Verb {
	case wire.MaintenanceOn:
		args = append(args, "--for", o.For.String(), "--reason", o.Reason)
		fallthrough
	case wire.MaintenanceOff:
		host := o.Host
		if host == "" {
			host = consoleHost()
		}
		args = append(args, "--host", host)
	}
	ctx, cancel := context.WithTimeout(ctx, MaintenanceTimeout)
	defer cancel()
	names := cfg.NodeNames()
	out := make([]NodeMaintenance, len(names))
	var wg sync.WaitGroup
	for i, node := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = maintenanceOn(ctx, n, node, args)
		}()
	}
	wg.Wait()
	return out
}

func maintenanceOn(ctx context.Context, n Nodes, node string, args []string) NodeMaintenance {
	res := NodeMaintenance{Node: node}
	stdout, err := n.Redkeep(ctx, node, args...)
	// The verb prints its reply even when it fails (exit 1): prefer its
	// own words to the SSH exit status.
	if line := bytes.TrimSpace(stdout); len(line) > 0 {
		if jerr := json.Unmarshal(line, &res.Reply); jerr == nil && res.Reply.Node == node {
			if res.Reply.Error != "" {
				res.Err = errors.New(res.Reply.Error)
			}
			return res
		}
	}
	if err == nil {
		err = fmt.Errorf("unreadable reply %q", human.Abbrev(string(stdout), 80))
	}
	res.Err = err
	return res
}

// consoleHost is this machine's name for the record, reduced to what the
// record accepts (no spaces or '@').
func consoleHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	h = strings.Map(func(r rune) rune {
		if r <= ' ' || r == '@' || r == 0x7f {
			return '_'
		}
		return r
	}, h)
	return human.Abbrev(h, 64)
}

// MaintenanceError is nil when every node answered; otherwise it says
// which nodes did what, so `on` never leaves a half state silently: the
// nodes that have maintenance on are named as well as those that do not.
func MaintenanceError(verb string, res []NodeMaintenance, now time.Time) error {
	var good, bad []string
	for _, r := range res {
		if r.OK() {
			good = append(good, r.Node)
			continue
		}
		bad = append(bad, fmt.Sprintf("%s: %v", r.Node, r.Err))
	}
	if len(bad) == 0 {
		return nil
	}
	switch verb {
	case wire.MaintenanceOn:
		var on []string
		for _, r := range res {
			if m := r.Reply.Maintenance; r.OK() && m != nil && m.Active(now) {
				on = append(on, r.Node)
			}
		}
		if len(on) == 0 {
			return fmt.Errorf("maintenance is NOT on on any node (%s)", strings.Join(bad, "; "))
		}
		return fmt.Errorf("maintenance is ON on %s but NOT on the others (%s): a node without it still fails over; run `redkeep maintenance on` again once it is reachable, or `redkeep maintenance off`",
			strings.Join(on, ", "), strings.Join(bad, "; "))
	case wire.MaintenanceOff:
		return fmt.Errorf("maintenance is off on %s; NOT turned off on the others (%s): each expires by itself at its deadline, or run `redkeep maintenance off` again",
			listOrNone(good), strings.Join(bad, "; "))
	}
	return fmt.Errorf("maintenance status unknown on %s", strings.Join(bad, "; "))
}
