package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// Resolve checks, stable for scripts and tests.
const (
	CheckKeep       = "node to keep"
	CheckSplit      = "split brain"
	CheckBothWrote  = "both sides took writes"
	CheckLoserSaved = "the other side's data set"
)

// TailReader reads what a node's Redis holds past a divergence (SSHNodes
// does, over the node's SSH connection).
type TailReader interface {
	ReadTail(ctx context.Context, node string, in replication.Info, d replication.Divergence) (replication.Tail, error)
}

// ResolvePlan is the preflight of a split brain resolution: which side is
// kept, what the other side loses from its serving data set (it is saved
// on its node first), and every check.
type ResolvePlan struct {
	Keep   string  `json:"keep"`
	Lose   string  `json:"lose"`
	Split  string  `json:"split"`
	Checks []Check `json:"checks"`
	// The two masters' histories as confirmed; the node-local step refuses
	// a pair that changed since.
	KeepReplID string `json:"keep_replid"`
	LoseReplID string `json:"lose_replid"`
	// LoseBytes is the losing side's stream past the fork, LoseWrites its
	// data-changing commands there (-1 when the stream could not be read),
	// LoseKeys its key count.
	LoseBytes  int64 `json:"lose_bytes"`
	LoseWrites int64 `json:"lose_writes"`
	LoseKeys   int64 `json:"lose_keys"`
}

// OK reports whether every check passed.
func (p ResolvePlan) OK() bool { return len(p.Checks) > 0 && len(Plan{Checks: p.Checks}.Failed()) == 0 }

// ResolvePreflight looks at the pair and says whether keeping keep's data
// and replacing the other master's resolves a split brain. It changes
// nothing. The streams past the fork are read through n when it can
// (TailReader), so PINGs are not taken for writes.
func ResolvePreflight(ctx context.Context, cfg *config.Config, n Nodes, keep string) ResolvePlan {
	p := ResolvePlan{Keep: keep, LoseWrites: -1}
	add := func(name, node, value, want string, pass bool) {
		p.Checks = append(p.Checks, Check{Name: name, Node: node, Value: value, Threshold: want, Pass: pass})
	}
	peer, err := cfg.Peer(keep)
	if err != nil {
		add(CheckKeep, keep, err.Error(), "a node of the pair", false)
		return p
	}
	p.Lose = peer.Name
	add(CheckKeep, keep, "keep "+keep+"'s data, replace "+p.Lose+"'s", "a node of the pair", true)

	snaps := n.Snapshots(ctx)
	for _, s := range snaps {
		reach := s.Conn == nodes.ConnConnected
		add(CheckReachable, s.Node, string(s.Conn), string(nodes.ConnConnected), reach)
		up := reach && s.Redis.Up
		val := "up"
		if !up {
			val = "down: " + s.Redis.Err
		}
		add(CheckRedisUp, s.Node, val, "up", up)
		redkeep := ""
		if node, err := cfg.Node(s.Node); err == nil {
			redkeep = node.Redkeep
		}
		if c, ok := hooksCheck(s, redkeep); ok {
			p.Checks = append(p.Checks, c)
		}
	}
	if tr, ok := n.(TailReader); ok {
		nodes.ReadSplitTails(ctx, snaps, tr.ReadTail)
	}
	sp, found := nodes.FindSplit(snaps)
	if !found {
		add(CheckSplit, "", describeMasters(snaps), "two Redis masters whose histories diverged", false)
		return p
	}
	p.Split = sp.String()
	add(CheckSplit, "", p.Split, "two Redis masters whose histories diverged", true)
	for _, side := range sp.Sides {
		switch side.Node {
		case keep:
			p.KeepReplID = side.Info.ReplID
		case p.Lose:
			p.LoseReplID, p.LoseBytes, p.LoseKeys = side.Info.ReplID, side.Bytes, side.Info.Keys
			if side.Tail != nil {
				p.LoseWrites = side.Tail.Writes
			}
		}
	}
	if sp.Real() {
		add(CheckBothWrote, "", "yes", "yes (otherwise the side without writes rejoins by itself)", true)
	} else {
		add(CheckBothWrote, "", "no: "+p.Split, "yes (otherwise the side without writes rejoins by itself)", false)
	}
	lost := fmt.Sprintf("%d keys; %s past the fork", p.LoseKeys, human.Bytes(p.LoseBytes))
	if p.LoseWrites >= 0 {
		lost += fmt.Sprintf(" with %d writes", p.LoseWrites)
	}
	add(CheckLoserSaved, p.Lose, lost+"; saved as an RDB on "+p.Lose+" first", "", true)
	return p
}

func describeMasters(snaps []nodes.Snapshot) string {
	var masters []string
	for _, s := range snaps {
		if s.Redis.Up && s.Redis.Info.Role == replication.RoleMaster {
			masters = append(masters, s.Node)
		}
	}
	switch len(masters) {
	case 0:
		return "no Redis master"
	case 1:
		return "one Redis master (" + masters[0] + "): not split"
	}
	return "two masters with no common history (a restarted server?): nothing of one is in the other"
}

// ErrResolveRefused marks a resolution its preflight refused: nothing changed.
var ErrResolveRefused = errors.New("resolve refused, nothing changed")

// failedChecks lists the failed checks in one line.
func failedChecks(checks []Check) string {
	var out []string
	for _, c := range checks {
		if !c.Pass {
			r := c.Name
			if c.Node != "" {
				r = c.Node + ": " + r
			}
			out = append(out, fmt.Sprintf("%s is %s (want %s)", r, c.Value, c.Threshold))
		}
	}
	return strings.Join(out, "; ")
}

// ResolveResult is a finished resolution.
type ResolveResult struct {
	Plan ResolvePlan        `json:"plan"`
	Node wire.ResolveResult `json:"saved"`
	// Healthy is whether the pair was healthy when Resolve returned, and
	// PairState a line on it.
	Healthy   bool          `json:"healthy"`
	PairState string        `json:"pair_state"`
	Took      time.Duration `json:"took_ns"`
}

// Resolve carries out a confirmed plan: the losing node saves its data set
// and becomes the kept node's replica (its own redkeep does it, under its
// transition lock), then Resolve waits up to wait for a healthy pair: the
// hooks move the VIP to the kept data if the loser held it.
func Resolve(ctx context.Context, cfg *config.Config, n Nodes, plan ResolvePlan, wait time.Duration) (ResolveResult, error) {
	start := time.Now()
	res := ResolveResult{Plan: plan}
	if !plan.OK() {
		return res, fmt.Errorf("%w: %s", ErrResolveRefused, failedChecks(plan.Checks))
	}
	out, err := n.Redkeep(ctx, plan.Lose, "hook", "resolve-follow", "--keep", plan.Keep,
		"--local-replid", plan.LoseReplID, "--keep-replid", plan.KeepReplID, "--operator", Operator())
	var reply struct {
		wire.ResolveResult
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &reply); jerr != nil {
		if err == nil {
			err = fmt.Errorf("unreadable reply: %v: %s", jerr, human.Abbrev(strings.TrimSpace(string(out)), 200))
		}
		return res, fmt.Errorf("resolve on %s failed: %w; pair: unknown, the node's redis-state log says what was done", plan.Lose, err)
	}
	res.Node = reply.ResolveResult
	if reply.Error != "" || err != nil {
		msg := reply.Error
		if msg == "" {
			msg = err.Error()
		}
		state := "unchanged"
		if reply.RDB != "" {
			state = plan.Lose + "'s data set is saved in " + reply.RDB + "; it may still be a master"
		}
		return res, fmt.Errorf("resolve on %s failed: %s; pair: %s", plan.Lose, msg, state)
	}
	deadline := time.Now().Add(wait)
	for {
		snaps := n.Snapshots(ctx)
		v := nodes.Judge(snaps, nodes.Thresholds{LagWarn: cfg.Console.LagWarn})
		res.Healthy = v.Healthy
		res.PairState, _ = DescribePair(cfg, snaps)
		if v.Healthy || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// ReadTail reads node's Redis stream past d over the node's SSH connection.
func (s *SSHNodes) ReadTail(ctx context.Context, node string, in replication.Info, d replication.Divergence) (replication.Tail, error) {
	s.mu.Lock()
	p := s.probers[node]
	s.mu.Unlock()
	if p == nil {
		return replication.Tail{}, fmt.Errorf("node %s: not probed yet", node)
	}
	return p.ReadTail(ctx, in, d)
}
