package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/loadcheck"
)

// RestartAfterFailover is the scenario "the old master's Redis comes back
// empty after a failover": redis-down on the master, wait for the peer to
// take over, then restart the old master's Redis with no data.
const RestartAfterFailover = "redis-restart-after-failover"

// ScenarioCases are the cases the end-to-end tests and the benchmark run
// under load, in order.
// redis-restart on the master itself is the origin document's empty-master
// hazard: the replica must not resync from the empty server. A partition
// cuts the master off from the peer and from every client: it took no
// writes of its own, so after the heal it must follow the node that kept
// serving, every time, though its offset moved on by replication PINGs.
var ScenarioCases = []string{RedisDown, KeepalivedKill, KeepalivedStop, BothDown, NodeDown, RestartAfterFailover, RedisRestart, Partition}

// LossExpected reports whether a case may lose acknowledged writes: only
// when the old master's data died with it before reaching the replica.
func LossExpected(kase string) bool { return kase == BothDown || kase == NodeDown }

// CaseResult is one failure case run under write load.
type CaseResult struct {
	Case string
	From string // the master that was failed
	To   string // the master at the end
	// Injected is when the failure was injected.
	Injected time.Time
	// Healing is when the lab started healing (zero if it never got there).
	Healing time.Time
	// Window is the longest stretch of failed writes (first failed write sent
	// to next acknowledgement) that began before the heal: the failover.
	Window time.Duration
	// HealWindow is the longest stretch that began during the heal, e.g.
	// when the stale VIP of a SIGKILLed keepalived is dropped.
	HealWindow time.Duration
	// Load is the load checker's verified result.
	Load *loadcheck.Result
	// LostAfterInjection counts lost writes acknowledged after the failure
	// was injected: never allowed, whatever the case.
	LostAfterInjection int
	// TwoMasters lists moments after the transition when both Redis servers
	// were reachable masters.
	TwoMasters []string
	// Split is set when a partition ended in a split brain: the cut-off
	// node executed writes as its link went down (requests that arrived
	// just before the cut; their replies and their replication never left
	// it). The hooks keep both sides; the case resolves it as an operator
	// would, keeping the side that served (`redkeep resolve`), which saves
	// the other's data set on its node first.
	Split string
	// Err is set when the case could not run to the end.
	Err error
}

// Lost is the number of acknowledged writes lost.
func (r *CaseResult) Lost() int {
	if r.Load == nil {
		return 0
	}
	return len(r.Load.Lost)
}

// ScenarioOptions tune RunCase.
type ScenarioOptions struct {
	// Recover bounds the wait for writes to flow again after the failure.
	Recover time.Duration
	// Log receives progress lines; may be nil.
	Log func(format string, args ...any)
}

// RunCase runs one failure case against the current master under write
// load through the VIP, heals the lab, and verifies every acknowledged write
// on the final master. The returned result is filled as far as the case got.
func (l *Lab) RunCase(ctx context.Context, kase string, opts ScenarioOptions) *CaseResult {
	res := &CaseResult{Case: kase}
	logf := opts.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Recover == 0 {
		opts.Recover = 30 * time.Second
	}
	s := &l.S
	from, err := l.Master(ctx)
	if err != nil {
		res.Err = err
		return res
	}
	res.From = from
	run := loadcheck.Start(ctx, loadcheck.Options{Addr: redisAddr(s.VIP())})
	// finish stops the load and verifies it on whichever node holds the VIP,
	// even after an error: what was lost matters most when a case went wrong.
	finish := func(err error) *CaseResult {
		res.Load = run.Stop()
		res.Err = err
		to, verr := l.verifyOnHolder(ctx, res.Load)
		res.To = to
		if verr != nil {
			if res.Err == nil {
				res.Err = verr
			}
			return res
		}
		res.Window, res.HealWindow = splitOutages(res.Load.Outages, res.Healing)
		for _, w := range res.Load.Lost {
			if w.At.After(res.Injected) {
				res.LostAfterInjection++
			}
		}
		return res
	}
	if err := run.WaitAcked(ctx, 100, 10*time.Second); err != nil {
		return finish(fmt.Errorf("before the failure: %w", err))
	}
	res.Injected = time.Now()
	logf("%s on %s", kase, from)
	if kase == RestartAfterFailover {
		_, err = l.Fail(ctx, RedisDown, from)
	} else {
		_, err = l.Fail(ctx, kase, from)
	}
	if err != nil {
		return finish(err)
	}
	// Every case moves the master. Wait for the peer to have taken over
	// before judging or healing: after a SIGKILL the old master keeps the
	// VIP and its Redis keeps taking writes until the peer's master-down
	// timer fires, and healing first would hide that takeover.
	to := "a"
	if from == "a" {
		to = "b"
	}
	if err := l.waitTakeover(ctx, to, opts.Recover); err != nil {
		return finish(fmt.Errorf("after %s on %s: %w", kase, from, err))
	}
	if err := run.WaitAcked(ctx, 100, opts.Recover); err != nil {
		return finish(fmt.Errorf("after %s on %s, writes did not recover: %w", kase, from, err))
	}
	logf("%s took over; writes flow again %s after the failure", to, time.Since(res.Injected).Round(time.Millisecond))
	if err := l.settle(ctx, opts.Recover); err != nil {
		return finish(err)
	}
	res.TwoMasters = append(res.TwoMasters, l.watchMasters(ctx, time.Second)...)
	if kase == RestartAfterFailover {
		logf("restarting %s's Redis, empty", from)
		if _, err := l.Fail(ctx, RedisRestart, from); err != nil {
			return finish(err)
		}
		if err := run.WaitAcked(ctx, 100, opts.Recover); err != nil {
			return finish(fmt.Errorf("after %s's Redis restarted empty, writes stopped: %w", from, err))
		}
	}
	logf("healing")
	res.Healing = time.Now()
	if kase == Partition {
		split, err := l.reconnectPartition(ctx, from, to)
		if err != nil {
			return finish(fmt.Errorf("after the partition of %s healed: %w", from, err))
		}
		if res.Split = split; split != "" {
			logf("%s", split)
		}
	}
	if _, err := l.Heal(ctx); err != nil {
		return finish(fmt.Errorf("heal after %s: %w", kase, err))
	}
	if err := run.WaitAcked(ctx, 100, opts.Recover); err != nil {
		return finish(fmt.Errorf("after heal: %w", err))
	}
	res.TwoMasters = append(res.TwoMasters, l.watchMasters(ctx, time.Second)...)
	return finish(nil)
}

// reconnectPartition ends the partition of node cut and waits until the
// hooks have healed the pair or a split brain shows, which it resolves
// keeping node kept (the side clients reached) with the lab's redkeep, and
// returns the split's description.
func (l *Lab) reconnectPartition(ctx context.Context, cut, kept string) (string, error) {
	if err := l.Reconnect(ctx, cut); err != nil {
		return "", err
	}
	split, err := l.healthyOrSplit(ctx)
	if err != nil || split == "" {
		return "", err
	}
	return l.resolveKeeping(ctx, split, kept)
}

// healthyOrSplit waits until the pair is healthy (returning "") or
// `redkeep status` reports a split brain that `redkeep resolve` can end
// (returning its description).
func (l *Lab) healthyOrSplit(ctx context.Context) (string, error) {
	bin, err := l.S.executable()
	if err != nil {
		return "", err
	}
	var split string
	err = waitFor(ctx, l.wait(), "a healthy pair or a split brain", func() (bool, error) {
		if st, err := l.Status(ctx); err == nil && st.Healthy {
			return true, nil
		}
		out, _ := exec.CommandContext(ctx, bin, "status", "--json", "-c", l.S.ConfigPath()).Output()
		var v struct {
			Reasons []struct{ Code, Text string } `json:"reasons"`
		}
		if json.Unmarshal(out, &v) != nil {
			return false, nil
		}
		for _, r := range v.Reasons {
			if r.Code == "split-brain" && strings.Contains(r.Text, "redkeep resolve") {
				split = r.Text
				return true, nil
			}
		}
		return false, nil
	})
	return split, err
}

// resolveKeeping ends the split brain split as an operator would, with
// `redkeep resolve --keep kept`, and returns the split's description with
// where the other side's data set was saved.
func (l *Lab) resolveKeeping(ctx context.Context, split, kept string) (string, error) {
	bin, err := l.S.executable()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, bin, "resolve", "-c", l.S.ConfigPath(), "--keep", kept, "--yes").CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 && strings.Contains(string(out), "not split") {
		// The split the console saw had a side it could not read yet
		// ("may be writes"); the hooks read it, found only PINGs and
		// healed the pair before the resolve came.
		if st, serr := l.Status(ctx); serr == nil && st.Healthy {
			return split + "; healed by the hooks before the resolve", nil
		}
	}
	if err != nil {
		return split, fmt.Errorf("redkeep resolve --keep %s: %w\n%s", kept, err, out)
	}
	saved := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, " is saved on ") {
			saved = ": " + strings.TrimSpace(line)
		}
	}
	return split + "; resolved keeping " + kept + saved, nil
}

// verifyOnHolder reads every write load acknowledged back from the Redis of
// the node holding the VIP (filling load.Lost), deletes the run's keys there,
// and returns that node.
func (l *Lab) verifyOnHolder(ctx context.Context, load *loadcheck.Result) (string, error) {
	st, err := l.Status(ctx)
	if err != nil || st.VIPHolder == "" {
		return "", fmt.Errorf("at the end: no single VIP holder to verify the writes on (%v)", err)
	}
	addr := redisAddr(l.S.NodeAddr(st.VIPHolder))
	if err := load.Verify(ctx, addr); err != nil {
		return st.VIPHolder, err
	}
	_ = load.Cleanup(ctx, addr)
	return st.VIPHolder, nil
}

// splitOutages returns the longest finished outage that began before
// healing (all of them when healing is zero) and the longest that began after.
func splitOutages(outages []loadcheck.Outage, healing time.Time) (failover, heal time.Duration) {
	for _, o := range outages {
		d := o.Duration()
		if healing.IsZero() || o.Start.Before(healing) {
			failover = max(failover, d)
		} else {
			heal = max(heal, d)
		}
	}
	return failover, heal
}

// waitTakeover waits until node to is keepalived MASTER, holds the VIP and
// has a Redis master.
func (l *Lab) waitTakeover(ctx context.Context, to string, timeout time.Duration) error {
	return waitFor(ctx, timeout, to+" to take over (keepalived MASTER with the VIP, Redis master)", func() (bool, error) {
		has, err := holdsVIP(ctx, &l.S, to)
		if err != nil || !has || vrrpState(l.S.Syslog(to)) != "MASTER" {
			return false, err
		}
		v := probeRedis(ctx, redisAddr(l.S.NodeAddr(to)))
		return v.Up && v.Role == "master", nil
	})
}

// settle waits until no notify hook runs on either node: the transition is
// complete.
func (l *Lab) settle(ctx context.Context, timeout time.Duration) error {
	return waitFor(ctx, timeout, "the notify hooks to finish", func() (bool, error) {
		for _, n := range NodeNames {
			if l.S.runningHooks(ctx, n) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// watchMasters samples both Redis servers every 100ms for d and returns a
// line for each sample in which both were reachable masters.
func (l *Lab) watchMasters(ctx context.Context, d time.Duration) []string {
	var bad []string
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		a := probeRedis(ctx, redisAddr(l.S.NodeAddr("a")))
		b := probeRedis(ctx, redisAddr(l.S.NodeAddr("b")))
		if a.Up && b.Up && a.Role == "master" && b.Role == "master" {
			bad = append(bad, fmt.Sprintf("%s: a and b both Redis masters", time.Now().Format("15:04:05.000")))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return bad
}

// Summary is one line on the result.
func (r *CaseResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s->%s: window %s (heal %s), lost %d", r.Case, r.From, r.To, r.Window.Round(time.Millisecond), r.HealWindow.Round(time.Millisecond), r.Lost())
	if r.Load != nil {
		fmt.Fprintf(&b, " (%s)", r.Load.Summary())
	}
	if len(r.TwoMasters) > 0 {
		fmt.Fprintf(&b, "; two masters seen %d times", len(r.TwoMasters))
	}
	if r.Split != "" {
		fmt.Fprintf(&b, "; %s", r.Split)
	}
	if r.Err != nil {
		fmt.Fprintf(&b, "; error: %v", r.Err)
	}
	return b.String()
}

// PlannedSwitchover is the bench's case "a planned switchover": `redkeep
// switchover --yes` from the current master to its replica under the same
// write load as the failure cases.
const PlannedSwitchover = "switchover"

// RunSwitchover runs one planned switchover under write load through the
// VIP with the lab's redkeep and verifies every acknowledged write on the
// final master. Window is the longest run of failed writes.
func (l *Lab) RunSwitchover(ctx context.Context, opts ScenarioOptions) *CaseResult {
	res := &CaseResult{Case: PlannedSwitchover}
	if opts.Recover == 0 {
		opts.Recover = 30 * time.Second
	}
	if l.S.Baseline {
		res.Err = errors.New("the origin's scripts have no planned switchover")
		return res
	}
	bin, err := l.S.executable()
	if err != nil {
		res.Err = err
		return res
	}
	from, err := l.Master(ctx)
	if err != nil {
		res.Err = err
		return res
	}
	res.From = from
	run := loadcheck.Start(ctx, loadcheck.Options{Addr: redisAddr(l.S.VIP())})
	finish := func(err error) *CaseResult {
		res.Load = run.Stop()
		res.Err = err
		to, verr := l.verifyOnHolder(ctx, res.Load)
		res.To = to
		if verr != nil && res.Err == nil {
			res.Err = verr
		}
		if res.Load.Verified {
			res.Window, _ = splitOutages(res.Load.Outages, time.Time{})
			res.LostAfterInjection = len(res.Load.Lost)
		}
		return res
	}
	if err := run.WaitAcked(ctx, 100, 10*time.Second); err != nil {
		return finish(fmt.Errorf("before the switchover: %w", err))
	}
	res.Injected = time.Now()
	out, err := exec.CommandContext(ctx, bin, "switchover", "--yes", "-c", l.S.ConfigPath()).CombinedOutput()
	if err != nil {
		return finish(fmt.Errorf("redkeep switchover: %w\n%s", err, out))
	}
	if err := run.WaitAcked(ctx, 100, opts.Recover); err != nil {
		return finish(fmt.Errorf("after the switchover, writes did not recover: %w", err))
	}
	return finish(nil)
}
