package actions

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// Nodes is how a switchover reaches the pair: a snapshot of each node, and
// the node's own redkeep to run the node-local steps. The console's SSH
// connections implement it (SSHNodes); tests may run the verbs locally.
type Nodes interface {
	// Snapshots polls every node once. A node that cannot be reached
	// still has a snapshot saying so.
	Snapshots(ctx context.Context) []nodes.Snapshot
	// Redkeep runs `redkeep ARGS` on node, with the node's --config and
	// --node added, and returns its stdout.
	Redkeep(ctx context.Context, node string, args ...string) ([]byte, error)
	// RedkeepStream is Redkeep with stdout delivered as it is written.
	RedkeepStream(ctx context.Context, node string, args ...string) (io.ReadCloser, error)
}

// LagMeasurer is a Nodes that can measure a replica's lag in seconds and
// its apply rate after a snapshot (nodes.MeasureLagRate); the preflight
// shows them and gates on the catch-up time they estimate.
type LagMeasurer interface {
	MeasureLag(ctx context.Context, snaps []nodes.Snapshot)
}

// StepState is where one step stands.
type StepState string

// Step states.
const (
	StepRunning StepState = "running"
	StepDone    StepState = "done"
	StepFailed  StepState = "failed"
)

// Console-side steps; the node-local ones are wire.Step*.
const (
	StepPreflight = "preflight"
	StepLock      = "lock"
	StepUnlock    = "unlock"
	StepConfirm   = "confirm" // the console's final look at the pair
)

// Step is one progress report: a step is reported when it starts and again
// when it ends.
type Step struct {
	Name   string    `json:"name"`
	Node   string    `json:"node,omitempty"`
	State  StepState `json:"state"`
	Detail string    `json:"detail,omitempty"`
	Time   time.Time `json:"time"`
}

// Options are one switchover's parameters.
type Options struct {
	// To is the target node; "" means the node that is not the master.
	To string
	// MaxPause is the pause budget (default switchover.max_pause): the
	// preflight refuses when the target's estimated catch-up exceeds it,
	// and the node-side Redis step unpauses and aborts when catching up
	// takes longer.
	MaxPause time.Duration
	// MaxLag is an optional byte limit (default switchover.max_lag; 0 is
	// none).
	MaxLag int64
	// Timeout bounds the whole switchover.
	Timeout time.Duration
	// Method is the Redis step's method (wire.Method*); "" is auto.
	Method string
	// Owner names the switchover in the lock both nodes hold; default
	// user@host:pid.
	Owner string
}

func (o Options) withDefaults(cfg *config.Config) Options {
	if o.MaxLag <= 0 {
		o.MaxLag = cfg.Switchover.MaxLag
	}
	if o.MaxPause <= 0 {
		o.MaxPause = cfg.Switchover.MaxPause
	}
	if o.Timeout <= 0 {
		o.Timeout = cfg.Switchover.Timeout
	}
	if o.Method == "" {
		o.Method = wire.MethodAuto
	}
	if o.Owner == "" {
		o.Owner = DefaultOwner()
	}
	return o
}

func (o Options) limits() Limits { return Limits{MaxPause: o.MaxPause, MaxLag: o.MaxLag} }

// DefaultOwner names this console in switchover locks: user@host:pid.
func DefaultOwner() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s:%d", name, host, os.Getpid())
}

// Operator names the person at this console for the nodes' event
// journals: user@host, with any character wire.CheckOperator refuses
// replaced by '_'.
func Operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	keep := func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}
	op := strings.Map(keep, strings.TrimLeft(name, "-")) + "@" + strings.Map(keep, host)
	if len(op) > wire.MaxOperator {
		op = op[:wire.MaxOperator]
	}
	return op
}

// RefusedError is a switchover refused by its preflight: nothing changed.
type RefusedError struct{ Plan Plan }

func (e *RefusedError) Error() string {
	var reasons []string
	for _, c := range e.Plan.Failed() {
		r := c.Name
		if c.Node != "" {
			r = c.Node + ": " + r
		}
		v := c.Value
		if len(v) > 100 {
			v = v[:100] + "..."
		}
		reasons = append(reasons, fmt.Sprintf("%s is %s (want %s)", r, v, c.Threshold))
	}
	return "switchover refused, nothing changed: " + strings.Join(reasons, "; ")
}

// FailedError is a switchover that started and did not complete. PairState
// says exactly how the pair was left.
type FailedError struct {
	Step      string
	Err       error
	PairState string
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("switchover failed at %s: %v; pair: %s", e.Step, e.Err, e.PairState)
}
func (e *FailedError) Unwrap() error { return e.Err }

// Result is a finished switchover.
type Result struct {
	Plan Plan
	// Took is the whole switchover, preflight to confirmation.
	Took time.Duration
	// Method is the Redis step's method as the node reported it.
	Method string
	// PairState is the pair as the console saw it at the end.
	PairState string
}

// Gather collects the facts a preflight decides over: one snapshot per node
// and each node's switchover lock.
func Gather(ctx context.Context, cfg *config.Config, n Nodes) Facts {
	f := Facts{Locks: map[string]*wire.SwitchoverLock{}, LockErrs: map[string]string{}, Now: time.Now()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.Snapshots = n.Snapshots(ctx)
		if m, ok := n.(LagMeasurer); ok {
			m.MeasureLag(ctx, f.Snapshots)
		}
	}()
	for _, node := range cfg.NodeNames() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reply, err := lockCall(ctx, n, node, wire.LockStatus)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				f.LockErrs[node] = err.Error()
			case reply.Held != nil:
				f.Locks[node] = reply.Held
			}
		}()
	}
	wg.Wait()
	return f
}

type nodeReply struct {
	node  string
	reply wire.LockReply
	err   error
}

// onEach runs fn for every node at once: one slow node does not hold up the
// other, and the lock is taken on both within one round trip.
func onEach(names []string, fn func(node string) (wire.LockReply, error)) []nodeReply {
	out := make([]nodeReply, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := fn(name)
			out[i] = nodeReply{node: name, reply: r, err: err}
		}()
	}
	wg.Wait()
	return out
}

// lockCall runs `redkeep hook switchover-lock OP` on node.
func lockCall(ctx context.Context, n Nodes, node, op string, args ...string) (wire.LockReply, error) {
	out, err := n.Redkeep(ctx, node, append([]string{"hook", "switchover-lock", op}, args...)...)
	var reply wire.LockReply
	if jerr := json.Unmarshal(out, &reply); jerr != nil {
		if err == nil {
			err = fmt.Errorf("switchover-lock %s on %s: unreadable reply %q: %w", op, node, human.Abbrev(strings.TrimSpace(string(out)), 200), jerr)
		}
		return reply, err
	}
	if reply.Error != "" {
		return reply, fmt.Errorf("switchover-lock %s on %s: %s", op, node, reply.Error)
	}
	return reply, err
}

// DryRun runs the preflight only: it changes nothing.
func DryRun(ctx context.Context, cfg *config.Config, n Nodes, o Options) Plan {
	o = o.withDefaults(cfg)
	return Preflight(cfg, Gather(ctx, cfg, n), o.To, o.limits())
}

// Run performs a planned switchover: preflight, the lock on both nodes, the
// node-local switchover on the current master (Redis roles, then the VIP,
// then verification there), and a final look from the console. onStep
// receives every step as it starts and ends (it may be nil; it is called
// from Run's goroutine, in order). A refusal is a *RefusedError, a failure
// after the start a *FailedError saying how the pair was left.
func Run(ctx context.Context, cfg *config.Config, n Nodes, o Options, onStep func(Step)) (Result, error) {
	o = o.withDefaults(cfg)
	start := time.Now()
	report := func(name, node string, st StepState, detail string) {
		if onStep != nil {
			onStep(Step{Name: name, Node: node, State: st, Detail: detail, Time: time.Now()})
		}
	}
	if err := config.CheckMaxPause(o.MaxPause, o.Timeout); err != nil {
		return Result{}, fmt.Errorf("switchover: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	report(StepPreflight, "", StepRunning, "")
	plan := Preflight(cfg, Gather(ctx, cfg, n), o.To, o.limits())
	res := Result{Plan: plan}
	if !plan.OK() {
		err := &RefusedError{Plan: plan}
		report(StepPreflight, "", StepFailed, err.Error())
		return res, err
	}
	report(StepPreflight, "", StepDone, fmt.Sprintf("%d checks passed: %s -> %s", len(plan.Checks), plan.From, plan.To))

	// The lock on both nodes: a second console, or this one run twice,
	// sees it in its preflight and refuses. Its expiry frees the pair if
	// this console dies; the node-local run is bounded well inside it.
	report(StepLock, "", StepRunning, "owner "+o.Owner)
	ttl := o.Timeout + 30*time.Second
	lockArgs := []string{"--owner", o.Owner, "--from", plan.From, "--to", plan.To, "--pid", strconv.Itoa(os.Getpid()), "--ttl", ttl.String()}
	var locked []string
	release := func() {
		// Released even when ctx has ended: a fresh, short context.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		report(StepUnlock, "", StepRunning, "")
		var errs []string
		for _, r := range onEach(locked, func(node string) (wire.LockReply, error) {
			return lockCall(rctx, n, node, wire.LockRelease, "--owner", o.Owner)
		}) {
			if r.err != nil {
				errs = append(errs, r.err.Error())
			}
		}
		if len(errs) > 0 {
			report(StepUnlock, "", StepFailed, strings.Join(errs, "; ")+fmt.Sprintf(" (the lock expires by itself within %s)", ttl))
		} else {
			report(StepUnlock, "", StepDone, "")
		}
	}
	acquired := onEach([]string{plan.From, plan.To}, func(node string) (wire.LockReply, error) {
		return lockCall(ctx, n, node, wire.LockAcquire, lockArgs...)
	})
	var refusedBy []Check
	var lockErr error
	for _, r := range acquired {
		switch {
		case r.err != nil:
			report(StepLock, r.node, StepFailed, r.err.Error())
			lockErr = errors.Join(lockErr, r.err)
		case !r.reply.OK:
			refusedBy = append(refusedBy, Check{Name: CheckNoOperation, Node: r.node, Value: r.reply.Held.String(), Threshold: "no switchover lock"})
		default:
			locked = append(locked, r.node)
		}
	}
	if len(refusedBy) > 0 {
		plan.Checks = append(plan.Checks, refusedBy...)
		res.Plan = plan
		rerr := &RefusedError{Plan: plan}
		report(StepLock, "", StepFailed, rerr.Error())
		release()
		return res, rerr
	}
	if lockErr != nil {
		release()
		return res, &FailedError{Step: StepLock, Err: lockErr, PairState: "unchanged (no Redis or VIP step ran)"}
	}
	report(StepLock, "", StepDone, "both nodes locked")
	released := false
	defer func() {
		if !released {
			release()
		}
	}()

	// The node-local run on the current master. Its Redis step keeps
	// writes paused at most the pause budget: the preflight's estimate
	// was a forecast, this bound is the promise.
	vipTimeout := 3*cfg.Keepalived.AdvertInt + 2*time.Second
	runArgs := []string{"hook", "switchover-run", "--to", plan.To, "--owner", o.Owner,
		"--max-lag", strconv.FormatInt(o.MaxLag, 10), "--max-pause", o.MaxPause.String(),
		"--vip-timeout", vipTimeout.String(), "--method", o.Method, "--operator", Operator()}
	last, method, runErr := streamRun(ctx, n, plan.From, runArgs, report)
	res.Method = method

	// The console's own look at the pair, whatever the node said.
	report(StepConfirm, "", StepRunning, "")
	var notStarted *notStartedError
	// The node reported its end (done or failed; it then exits non-zero on
	// a failure, which the stream reads as an error after the last line),
	// or never started: the pair has settled. When the stream broke before
	// that, the node may still be finishing.
	settled := last.State == wire.StateDone || last.State == wire.StateFailed || errors.As(runErr, &notStarted)
	if settled {
		// The node's run is over: let go before looking, or the nodes'
		// checks, which leave a pair under a switchover lock alone, could
		// not mend a pair the run left broken (the chaos soak saw a Redis
		// restarted during a switchover wait out the whole confirmation,
		// 16 s without writes, before the checks moved the VIP).
		release()
		released = true
	}
	// Generous: it returns as soon as the pair is consistent, and a loaded
	// node answering slowly must not turn a done switchover into a failure.
	state, ok := confirm(ctx, cfg, n, plan.To, settled, vipTimeout+10*time.Second)
	res.PairState = state
	res.Took = time.Since(start)
	switch {
	case runErr == nil && last.State == wire.StateDone && last.Step == wire.StepVerify && ok:
		report(StepConfirm, "", StepDone, state)
		return res, nil
	case last.State == wire.StateFailed && last.Step == wire.StepCheck && last.PairState == "unchanged":
		// The node's own check refused: the facts changed since preflight.
		report(StepConfirm, "", StepDone, state)
		plan.Checks = append(plan.Checks, Check{Name: "check on " + plan.From, Node: plan.From, Value: last.Detail, Threshold: "passes"})
		res.Plan = plan
		return res, &RefusedError{Plan: plan}
	}
	report(StepConfirm, "", StepFailed, state)
	err := runErr
	step := last.Step
	if err == nil {
		if last.State == wire.StateFailed {
			err = errors.New(last.Detail)
		} else {
			err = fmt.Errorf("the pair is not as expected after the switchover")
			step = StepConfirm
		}
	}
	if step == "" {
		step = "run"
	}
	pair := state
	if last.PairState != "" {
		pair = fmt.Sprintf("%s (node %s reported: %s)", state, plan.From, last.PairState)
	}
	return res, &FailedError{Step: step, Err: err, PairState: pair}
}

// notStartedError is a node-local run that never started: nothing changed.
type notStartedError struct{ err error }

func (e *notStartedError) Error() string { return e.err.Error() }
func (e *notStartedError) Unwrap() error { return e.err }

// streamRun runs the node-local switchover on node and turns its JSON lines
// into steps. It returns the last step the node reported and the Redis
// method it used; an error means the stream ended without a clean exit
// (the node failed, or the connection to it broke).
func streamRun(ctx context.Context, n Nodes, node string, args []string, report func(string, string, StepState, string)) (last wire.SwitchoverStep, method string, err error) {
	r, err := n.RedkeepStream(ctx, node, args...)
	if err != nil {
		return last, "", &notStartedError{fmt.Errorf("start the switchover on %s: %w", node, err)}
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var st wire.SwitchoverStep
		if jerr := json.Unmarshal(sc.Bytes(), &st); jerr != nil {
			continue // not ours (a warning on stdout); the steps carry the result
		}
		last = st
		if st.Step == wire.StepRedis && st.State == wire.StateDone {
			method, _, _ = strings.Cut(st.Detail, ":")
		}
		detail := st.Detail
		if st.PairState != "" {
			detail += "; pair left " + st.PairState
		}
		report(st.Step, node, StepState(st.State), detail)
	}
	if serr := sc.Err(); serr != nil {
		return last, method, fmt.Errorf("switchover on %s: %w", node, serr)
	}
	return last, method, nil
}

// confirm looks at the pair from the console until it is consistent with
// want as master (VIP holder and Redis master, the other its replica with
// the link up) or, when settled, consistent at all; or until limit. It
// returns a description of the pair and whether want is the master.
func confirm(ctx context.Context, cfg *config.Config, n Nodes, want string, settled bool, limit time.Duration) (string, bool) {
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		snaps := n.Snapshots(cctx)
		cancel()
		desc, master := DescribePair(cfg, snaps)
		if master == want || settled && master != "" || time.Now().After(deadline) {
			return desc, master == want
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DescribePair says in one line how the pair stands, and names the master
// when it is consistent: exactly one VIP holder, it is the only Redis
// master, and the other node replicates from it with the link up.
func DescribePair(cfg *config.Config, snaps []nodes.Snapshot) (desc, master string) {
	by := map[string]nodes.Snapshot{}
	for _, s := range snaps {
		by[s.Node] = s
	}
	var parts, holders, masters []string
	for _, name := range cfg.NodeNames() {
		s, ok := by[name]
		switch {
		case !ok || s.Conn != nodes.ConnConnected && s.Conn != "":
			parts = append(parts, fmt.Sprintf("%s unreachable (%s)", name, s.ConnErr))
			continue
		case !s.Redis.Up:
			parts = append(parts, fmt.Sprintf("%s Redis down", name))
		case s.Redis.Info.Role == replication.RoleMaster:
			masters = append(masters, name)
			parts = append(parts, name+" master")
		case s.Redis.Info.Role == replication.RoleReplica:
			link := "link up"
			if !s.Redis.Info.LinkUp {
				link = "link DOWN"
			}
			parts = append(parts, fmt.Sprintf("%s replica of %s:%d (%s)", name, s.Redis.Info.MasterHost, s.Redis.Info.MasterPort, link))
		default:
			parts = append(parts, name+" role unknown")
		}
		switch {
		case s.HoldsVIP:
			holders = append(holders, name)
			parts[len(parts)-1] += " with the VIP"
		case s.Keepalived.Err != "":
			parts[len(parts)-1] += " (VIP unknown: " + s.Keepalived.Err + ")"
		}
	}
	desc = strings.Join(parts, ", ")
	if len(holders) != 1 || len(masters) != 1 || holders[0] != masters[0] {
		return desc, ""
	}
	m := holders[0]
	mn, _ := cfg.Node(m)
	for _, name := range cfg.NodeNames() {
		if name == m {
			continue
		}
		in := by[name].Redis.Info
		if in.Role != replication.RoleReplica || !in.LinkUp || !sameAddr(in.MasterHost, in.MasterPort, mn.Redis.PeerAddr) {
			return desc, ""
		}
	}
	return "consistent: " + desc, m
}

// StepResult is the last step Start delivers: Done with the pair's state, or
// Failed with the refusal or failure.
const StepResult = "result"

// Start runs the switchover in its own goroutine and delivers every step on
// the returned channel, which is closed when it ends. The last step is
// StepResult, saying how it ended. For the console: each receive is one
// message, so the model never blocks.
func Start(ctx context.Context, cfg *config.Config, n Nodes, o Options) <-chan Step {
	// Generously buffered: a switchover reports a few dozen steps, and a
	// slow reader must not hold up the unlock.
	ch := make(chan Step, 128)
	go func() {
		defer close(ch)
		res, err := Run(ctx, cfg, n, o, func(s Step) { ch <- s })
		last := Step{Name: StepResult, State: StepDone, Detail: res.PairState, Time: time.Now()}
		if err != nil {
			last.State, last.Detail = StepFailed, err.Error()
		}
		ch <- last
	}()
	return ch
}
