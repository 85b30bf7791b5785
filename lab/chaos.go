package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Kinds of chaos steps.
const (
	KindFault           = "fault"            // one fault, on the master or on the replica
	KindSwitchover      = "switchover"       // a planned switchover
	KindSwitchoverFault = "switchover+fault" // a fault on one node while a switchover runs
	KindDoubleFault     = "fault+fault"      // a fault on the master, then after the takeover a second one before the heal
)

// ReplicationGrace is how long after its acknowledgement a write may still
// be only on the node that acknowledged it: a fault that destroys or cuts
// off that node within this time may take the write with it. On the lab
// bridge replication takes well under a millisecond; the margin is for a
// busy machine. (The end-to-end tests allow a second, which at one write
// every 5 ms hid a replica that had none of a step's writes.)
const ReplicationGrace = 200 * time.Millisecond

// masterDown is longer than keepalived's master-down timer (3 x advert_int
// plus skew, about 3.6 s): a takeover that a fault has set in motion has
// happened by then.
const masterDown = 4 * time.Second

// ChaosPlan is one step of the soak as its seed decides it. Nodes are
// named by their role when the step starts, so a seed replays the same
// schedule whichever node is master.
type ChaosPlan struct {
	Kind string `json:"kind"`
	// Case is the (first) fault; empty for a plain switchover.
	Case string `json:"case,omitempty"`
	// OnMaster: the fault hits the master (else the replica); in a
	// switchover, the old master (else the target).
	OnMaster bool `json:"on_master"`
	// Delay is, in switchover+fault, the time from the switchover's first
	// execution step (after its preflight) to the fault.
	Delay time.Duration `json:"delay_ns,omitempty"`
	// Second is, in fault+fault, the second fault: on the new master when
	// SecondOnNew, else redis-restart on the old master.
	Second      string `json:"second,omitempty"`
	SecondOnNew bool   `json:"second_on_new,omitempty"`
}

// Name is the plan in one word: the case, "switchover", "switchover+CASE"
// or "CASE+CASE".
func (p ChaosPlan) Name() string {
	switch p.Kind {
	case KindSwitchover:
		return "switchover"
	case KindSwitchoverFault:
		return "switchover+" + p.Case
	case KindDoubleFault:
		return p.Case + "+" + p.Second
	}
	return p.Case
}

// ChaosDice draws the soak's steps from a seed: the same seed gives the
// same schedule.
type ChaosDice struct{ r *rand.Rand }

// NewChaosDice returns dice seeded with seed.
func NewChaosDice(seed uint64) *ChaosDice {
	return &ChaosDice{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Next draws the next step: a single fault about half of the time, the
// rest split between switchovers, faults during switchovers and second
// faults before the heal.
func (d *ChaosDice) Next() ChaosPlan {
	cases := CaseNames()
	pick := func(from []string) string { return from[d.r.IntN(len(from))] }
	switch x := d.r.IntN(100); {
	case x < 50:
		// The master twice as often as the replica: it is where failover happens.
		return ChaosPlan{Kind: KindFault, Case: pick(cases), OnMaster: d.r.IntN(3) > 0}
	case x < 65:
		return ChaosPlan{Kind: KindSwitchover}
	case x < 82:
		return ChaosPlan{Kind: KindSwitchoverFault, Case: pick(cases), OnMaster: d.r.IntN(2) == 0,
			Delay: time.Duration(d.r.IntN(501)) * time.Millisecond}
	}
	p := ChaosPlan{Kind: KindDoubleFault, Case: pick(cases), OnMaster: true}
	// redis-restart on the old master needs it to be there and reachable
	// (the lab waits for the restarted server); two partitions would leave
	// clients no side to reach.
	if p.Case != NodeDown && p.Case != Partition && d.r.IntN(3) == 0 {
		p.Second = RedisRestart
		return p
	}
	p.SecondOnNew = true
	for p.Second == "" || (p.Case == Partition && p.Second == Partition) {
		p.Second = pick(cases)
	}
	return p
}

// ChaosStep is one step of the soak and what it showed.
type ChaosStep struct {
	N    int       `json:"step"`
	Plan ChaosPlan `json:"plan"`
	Case string    `json:"case"`
	// Nodes are the nodes faulted, in order.
	Nodes []string  `json:"nodes"`
	From  string    `json:"from"`
	To    string    `json:"to"`
	Start time.Time `json:"start"`
	// OutageMS is the longest stretch of failed writes (first failed write
	// to the next acknowledgement, or to the end of the step), OutageAtMS
	// when it began, counted from the step's first fault or switchover.
	OutageMS   int64 `json:"outage_ms"`
	OutageAtMS int64 `json:"outage_at_ms"`
	// HealMS is the time from the start of the heal to a healthy pair.
	HealMS   int64 `json:"heal_ms"`
	Attempts int64 `json:"attempts"`
	Acked    int   `json:"acked"`
	// Verified is true once every acknowledged write was read back.
	Verified bool `json:"verified"`
	// Lost counts acknowledged writes missing at the end; LostExpected
	// those of them whose every copy the faults destroyed (see
	// stepRun.lossExpected). The others are violations.
	Lost         int    `json:"lost"`
	LostExpected int    `json:"lost_expected"`
	Switchover   string `json:"switchover,omitempty"`
	Split        string `json:"split,omitempty"`
	// Violations are the invariants the step broke.
	Violations []string `json:"violations,omitempty"`
	Notes      []string `json:"notes,omitempty"`
}

// ChaosReport is a whole soak.
type ChaosReport struct {
	Seed       uint64      `json:"seed"`
	Duration   string      `json:"duration"`
	Steps      []ChaosStep `json:"steps"`
	Violations int         `json:"violations"`
}

// ChaosOptions tune Chaos.
type ChaosOptions struct {
	// Duration: no step starts after it has passed.
	Duration time.Duration
	Seed     uint64
	// Recover bounds each wait for a takeover, for writes to flow again
	// and for the hooks to finish (default 30s).
	Recover time.Duration
	// Log receives progress lines; may be nil.
	Log io.Writer
	// Keep leaves the lab running after a violation, for a look at it
	// (remove it with lab down).
	Keep bool
	// KeepGoing rebuilds the lab after a violation and goes on, instead of
	// stopping at the first.
	KeepGoing bool
}

// Chaos starts a lab of its own from s, runs random steps under write load
// through the VIP until opts.Duration has passed or a step breaks an
// invariant, and removes the lab, also when ctx is cancelled. It refuses
// to run where a lab already exists in s.Dir.
func Chaos(ctx context.Context, s Settings, opts ChaosOptions) (steps []ChaosStep, err error) {
	if opts.Recover == 0 {
		opts.Recover = 30 * time.Second
	}
	l := &Lab{S: s, Log: opts.Log}
	if l.Exists() {
		return nil, fmt.Errorf("a lab already runs in %s: the chaos soak needs its own", s.Dir)
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "chaos: %s\n", fmt.Sprintf(format, args...))
		}
	}
	logf("seed %d; lab up in %s", opts.Seed, s.Dir)
	if _, _, err := l.Up(ctx); err != nil {
		if !errors.Is(err, ErrRefused) {
			err = errors.Join(err, l.Down(context.WithoutCancel(ctx)))
		}
		return nil, err
	}
	defer func() {
		if opts.Keep && !opts.KeepGoing && Violations(steps) > 0 && ctx.Err() == nil {
			logf("leaving the lab in %s for a look: remove it with `redkeep lab --dir %s down`", s.Dir, s.Dir)
			return
		}
		logf("lab down")
		err = errors.Join(err, l.Down(context.WithoutCancel(ctx)))
	}()
	dice := NewChaosDice(opts.Seed)
	end := time.Now().Add(opts.Duration)
	for n := 1; time.Now().Before(end) && ctx.Err() == nil; n++ {
		r := &stepRun{l: l, opts: opts, logf: logf, ChaosStep: ChaosStep{N: n, Start: time.Now()}}
		r.Plan = dice.Next()
		r.Case = r.Plan.Name()
		logf("step %d: %s", n, r.Case)
		r.run(ctx)
		if ctx.Err() != nil {
			r.Violations = nil
			r.Notes = append(r.Notes, "interrupted")
		}
		steps = append(steps, r.ChaosStep)
		logf("step %d: %s", n, r.summary())
		if len(r.Violations) == 0 {
			continue
		}
		logf("step %d broke an invariant (repeat with --seed %d); lab state:%s", n, opts.Seed, l.diagnostics())
		for _, node := range NodeNames {
			logf("--- %s redis-state log (last lines)\n%s", node, tail(l.S.StateLog(node), 30, nil))
		}
		if !opts.KeepGoing {
			break
		}
		logf("rebuilding the lab")
		if err := l.Down(context.WithoutCancel(ctx)); err != nil {
			return steps, err
		}
		if _, _, err := l.Up(ctx); err != nil {
			return steps, err
		}
	}
	return steps, ctx.Err()
}

// Violations counts the violations in steps.
func Violations(steps []ChaosStep) int {
	n := 0
	for _, s := range steps {
		n += len(s.Violations)
	}
	return n
}

// PrintChaos writes the soak's table, one row a step.
func PrintChaos(w io.Writer, rep ChaosReport) {
	fmt.Fprintf(w, "chaos soak: seed %d, duration %s, %d steps, %d violations\n", rep.Seed, rep.Duration, len(rep.Steps), rep.Violations)
	fmt.Fprintf(w, "%4s %-33s %-5s %-6s %9s %7s %7s %6s %5s %8s  %s\n", "step", "case", "nodes", "master", "outage ms", "at ms", "heal ms", "acked", "lost", "expected", "notes")
	for _, s := range rep.Steps {
		var notes []string
		for _, v := range s.Violations {
			notes = append(notes, "VIOLATION: "+firstLine(v))
		}
		if s.Switchover != "" {
			notes = append(notes, "switchover "+firstLine(s.Switchover))
		}
		if s.Split != "" {
			notes = append(notes, "split brain resolved")
		}
		notes = append(notes, s.Notes...)
		lost := fmt.Sprint(s.Lost)
		if !s.Verified {
			lost = "?"
		}
		fmt.Fprintf(w, "%4d %-33s %-5s %-6s %9d %7d %7d %6d %5s %8d  %s\n", s.N, s.Case, s.nodes(), s.From+"->"+s.To,
			s.OutageMS, s.OutageAtMS, s.HealMS, s.Acked, lost, s.LostExpected, strings.Join(notes, "; "))
	}
}

func (s *ChaosStep) summary() string {
	b := fmt.Sprintf("%s on %s, %s->%s: outage %d ms, heal %d ms, %d acked, %d lost (%d expected)",
		s.Case, s.nodes(), s.From, s.To, s.OutageMS, s.HealMS, s.Acked, s.Lost, s.LostExpected)
	if s.Switchover != "" {
		b += "; switchover " + s.Switchover
	}
	if s.Split != "" {
		b += "; " + s.Split
	}
	for _, v := range s.Violations {
		b += "; VIOLATION: " + v
	}
	return b
}

// nodes lists the nodes faulted, "-" for none.
func (s *ChaosStep) nodes() string {
	if len(s.Nodes) == 0 {
		return "-"
	}
	return strings.Join(s.Nodes, ",")
}

func peerOf(n string) string {
	if n == "a" {
		return "b"
	}
	return "a"
}
