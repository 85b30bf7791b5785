package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/internal/loadcheck"
)

// dataEvent is a moment a node stopped or started holding the pair's
// data: its Redis killed (its data set gone, no persistence), its cable
// pulled (it receives no more writes), or seen back in sync; or the moment
// the node acknowledging writes may have changed ("serves": node, or ""
// while either may, e.g. during a switchover or before a takeover is seen).
type dataEvent struct {
	at   time.Time
	node string
	kind string // "kill", "cut", "back" or "serves"
}

// stepRun runs one chaos step under its own write load.
type stepRun struct {
	ChaosStep
	l    *Lab
	opts ChaosOptions
	logf func(format string, args ...any)

	load *loadcheck.Run
	// t0 is the step's first fault or switchover.
	t0     time.Time
	events []dataEvent
	// healed is when the pair was healthy again: every node holds the
	// data from then on.
	healed time.Time
	cut    string // the node whose cable was pulled, if any
}

func (r *stepRun) violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// run starts the load, acts out the plan, heals and judges.
func (r *stepRun) run(ctx context.Context) {
	from, err := r.l.Master(ctx)
	if err != nil {
		r.violate("at the step's start: %v", err)
		return
	}
	r.From = from
	r.serves(from)
	r.load = loadcheck.Start(ctx, loadcheck.Options{Addr: redisAddr(r.l.S.VIP())})
	if err := r.load.WaitAcked(ctx, 100, 10*time.Second); err != nil {
		r.violate("at the step's start, on a healthy pair: %v", err)
	} else {
		r.t0 = time.Now()
		r.act(ctx)
		r.heal(ctx)
	}
	r.finish(ctx)
}

func (r *stepRun) act(ctx context.Context) {
	p := r.Plan
	switch p.Kind {
	case KindFault:
		node := r.From
		if !p.OnMaster {
			node = peerOf(r.From)
		}
		if node == r.From {
			r.serves("")
		}
		if r.inject(ctx, p.Case, node) && node == r.From {
			r.takeover(ctx, peerOf(r.From))
		}
		r.quiet(ctx, true)
	case KindSwitchover:
		r.serves("")
		r.Switchover = r.switchover(ctx, 0, "", "")
		r.quiet(ctx, true)
		if r.Switchover == "done" {
			if m, err := r.l.Master(ctx); err == nil && m == r.From {
				r.violate("the switchover reported done but %s still holds the VIP", m)
			}
		}
	case KindSwitchoverFault:
		node := r.From
		if !p.OnMaster {
			node = peerOf(r.From)
		}
		r.serves("")
		r.Switchover = r.switchover(ctx, p.Delay, p.Case, node)
		if r.quiet(ctx, true) {
			if m, err := r.l.Master(ctx); err == nil {
				r.serves(m)
			}
		}
	case KindDoubleFault:
		to := peerOf(r.From)
		r.serves("")
		if !r.inject(ctx, p.Case, r.From) || !r.takeover(ctx, to) || !r.quiet(ctx, true) {
			return
		}
		r.rejoined(ctx, r.From)
		if p.SecondOnNew {
			// Both nodes are broken now: writes may not flow until the heal.
			r.inject(ctx, p.Second, to)
			r.quiet(ctx, false)
			return
		}
		r.inject(ctx, p.Second, r.From)
		r.quiet(ctx, true)
	}
}

// inject breaks node as kase says and records what that does to its data.
func (r *stepRun) inject(ctx context.Context, kase, node string) bool {
	r.logf("%s on %s%s", kase, node, r.replicaLag(ctx))
	_, err := r.l.Fail(ctx, kase, node)
	// After Fail returns: a write acknowledged before then may have been
	// on node alone.
	at := time.Now()
	r.Nodes = append(r.Nodes, node)
	if err != nil {
		r.violate("could not inject %s on %s: %v", kase, node, err)
		return false
	}
	switch kase {
	case RedisDown, RedisRestart, BothDown, NodeDown:
		r.events = append(r.events, dataEvent{at, node, "kill"})
	case Partition:
		r.events = append(r.events, dataEvent{at, node, "cut"})
		r.cut = node
	}
	return true
}

// replicaLag describes how far the replica is behind the master just
// before a fault, when it is.
func (r *stepRun) replicaLag(ctx context.Context) string {
	a := probeRedis(ctx, redisAddr(r.l.S.NodeAddr("a")))
	b := probeRedis(ctx, redisAddr(r.l.S.NodeAddr("b")))
	if !a.Up || !b.Up || a.Role == b.Role {
		return ""
	}
	m, rep, name := a, b, "b"
	if b.Role == "master" {
		m, rep, name = b, a, "a"
	}
	if m.Offset == rep.Offset && rep.LinkUp {
		return ""
	}
	return fmt.Sprintf(" (replica %s: %d bytes behind, link up %v)", name, m.Offset-rep.Offset, rep.LinkUp)
}

// serves records that from now on node acknowledges the writes ("": either
// node may).
func (r *stepRun) serves(node string) {
	r.events = append(r.events, dataEvent{time.Now(), node, "serves"})
}

func (r *stepRun) takeover(ctx context.Context, to string) bool {
	if err := r.l.waitTakeover(ctx, to, r.opts.Recover); err != nil {
		r.violate("no takeover: %v", err)
		return false
	}
	r.serves(to)
	r.logf("%s took over %s after the fault", to, time.Since(r.t0).Round(time.Millisecond))
	return true
}

// quiet waits for the pair to settle: no notify hook at work, past the
// master-down timer of any takeover under way, hooks done again, then
// (when a node is left to serve) writes flowing through the VIP. Then it
// watches for two Redis masters for a second.
func (r *stepRun) quiet(ctx context.Context, serving bool) bool {
	n := len(r.Violations)
	if err := r.l.settle(ctx, r.opts.Recover); err != nil {
		r.violate("%v", err)
	}
	sleep(ctx, masterDown)
	if err := r.l.settle(ctx, r.opts.Recover); err != nil {
		r.violate("%v", err)
	}
	if serving {
		if err := r.load.WaitAcked(ctx, 100, r.opts.Recover); err != nil {
			r.violate("with a node left to serve, writes did not flow again: %v", err)
		}
	}
	if two := r.l.watchMasters(ctx, time.Second); len(two) > 0 {
		r.violate("two Redis masters after the transition settled (%d samples, first %s)", len(two), two[0])
	}
	return len(r.Violations) == n
}

// rejoined records node as holding the data again if its Redis is a
// replica in sync: a restarted Redis that the hooks made a replica of the
// new master.
func (r *stepRun) rejoined(ctx context.Context, node string) {
	v := probeRedis(ctx, redisAddr(r.l.S.NodeAddr(node)))
	if r.cut != node && v.Up && v.Role == "replica" && v.LinkUp && !v.Syncing {
		r.events = append(r.events, dataEvent{time.Now(), node, "back"})
	}
}

// switchover runs `redkeep switchover --yes --json` on the lab's config;
// with a fault, injects it on node delay after the switchover's first
// execution step (after the preflight; at its end when it refused). It
// returns the outcome: done, refused: why, or failed: why.
func (r *stepRun) switchover(ctx context.Context, delay time.Duration, fault, node string) string {
	bin, err := r.l.S.executable()
	if err != nil {
		r.violate("%v", err)
		return ""
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "switchover", "--yes", "--json", "-c", r.l.S.ConfigPath())
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err == nil {
		r.logf("switchover from %s", r.From)
		err = cmd.Start()
	}
	if err != nil {
		r.violate("start redkeep switchover: %v", err)
		return ""
	}
	executing, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var once sync.Once
		defer once.Do(func() { close(executing) })
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if bytes.HasPrefix(sc.Bytes(), []byte(`{"step"`)) {
				once.Do(func() { close(executing) })
			}
		}
	}()
	if fault != "" {
		<-executing
		sleep(ctx, delay)
		r.inject(ctx, fault, node)
	}
	<-done
	err = cmd.Wait()
	if err != nil {
		r.logf("switchover: %v\n%s", err, strings.TrimSpace(stderr.String()))
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "done"
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return "refused: " + lastLine(stderr.String())
	}
	return "failed: " + lastLine(stderr.String())
}

// heal brings the pair back: cables in, everything started again; a split
// brain left by a partition is resolved keeping the side that served, as
// an operator would. The pair must then be healthy within the lab's wait.
func (r *stepRun) heal(ctx context.Context) {
	start := time.Now()
	r.logf("healing")
	if err := r.l.restore(ctx); err != nil {
		r.violate("heal: %v", err)
		return
	}
	split, err := r.l.healthyOrSplit(ctx)
	if err != nil {
		r.violate("not healthy after the heal: %v", err)
		return
	}
	if split != "" {
		if r.cut == "" {
			r.violate("split brain without a partition: %s", split)
			return
		}
		if r.Split, err = r.l.resolveKeeping(ctx, split, r.kept()); err != nil {
			r.violate("%v", err)
			return
		}
		r.logf("%s", r.Split)
	}
	if _, err := r.l.WaitHealthy(ctx, r.l.wait()); err != nil {
		r.violate("not healthy after the heal: %v", err)
		return
	}
	took, err := r.l.waitCaughtUp(ctx, r.l.wait())
	if err != nil {
		r.violate("healthy after the heal, but the replica is stalled: %v", err)
		return
	}
	if took > time.Second {
		r.Notes = append(r.Notes, fmt.Sprintf("replica caught up %s after the pair looked healthy", took.Round(time.Millisecond)))
	}
	r.healed = time.Now()
	r.HealMS = r.healed.Sub(start).Milliseconds()
}

// waitCaughtUp waits until the replica has every byte the master had when
// the wait began, and returns how long that took. A partition leaves the
// replica's replication connection stalled: Redis reports the link up
// while TCP waits out its retransmission backoff, seconds after the cable
// is back, and the replica lags all that time.
func (l *Lab) waitCaughtUp(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	master, err := l.Master(ctx)
	if err != nil {
		return 0, err
	}
	replica := peerOf(master)
	start := time.Now()
	target := probeRedis(ctx, redisAddr(l.S.NodeAddr(master))).Offset
	err = waitFor(ctx, timeout, "replica "+replica+" to catch up with master "+master, func() (bool, error) {
		v := probeRedis(ctx, redisAddr(l.S.NodeAddr(replica)))
		if v.Up && v.Offset >= target {
			return true, nil
		}
		return false, fmt.Errorf("replica at offset %d (link up %v), master was at %d", v.Offset, v.LinkUp, target)
	})
	return time.Since(start), err
}

// kept is the side a split brain is resolved to: the node clients
// reached while the other was cut off, unless its data was destroyed.
func (r *stepRun) kept() string {
	other := peerOf(r.cut)
	for _, e := range r.events {
		if e.node == other && e.kind == "kill" {
			return r.cut
		}
	}
	return other
}

// finish checks writes flow after the heal, stops the load and reads every
// acknowledged write back from the final master.
func (r *stepRun) finish(ctx context.Context) {
	if r.load == nil {
		return
	}
	if !r.healed.IsZero() {
		if err := r.load.WaitAcked(ctx, 100, r.opts.Recover); err != nil {
			r.violate("after the heal: %v", err)
		}
		if two := r.l.watchMasters(ctx, time.Second); len(two) > 0 {
			r.violate("two Redis masters after the heal (%d samples, first %s)", len(two), two[0])
		}
	}
	res := r.load.Stop()
	r.Attempts, r.Acked = res.Attempts, len(res.Acked)
	if o, ok := longestOutage(res.Outages, time.Now()); ok {
		r.OutageMS = o.End.Sub(o.Start).Milliseconds()
		if !r.t0.IsZero() {
			r.OutageAtMS = o.Start.Sub(r.t0).Milliseconds()
		}
	}
	to, err := r.l.verifyOnHolder(ctx, res)
	r.To = to
	if err != nil {
		r.violate("could not read the acknowledged writes back: %v", err)
		return
	}
	r.Verified = true
	r.Lost = len(res.Lost)
	var unexpected []loadcheck.Write
	for _, w := range res.Lost {
		if r.lossExpected(w.At) {
			r.LostExpected++
		} else {
			unexpected = append(unexpected, w)
		}
	}
	if n := len(res.Lost); n > 0 {
		first, last := res.Lost[0], res.Lost[n-1]
		r.Notes = append(r.Notes, fmt.Sprintf("lost #%d-#%d, acknowledged %s to %s after the step's first fault",
			first.Seq, last.Seq, first.At.Sub(r.t0).Round(time.Millisecond), last.At.Sub(r.t0).Round(time.Millisecond)))
	}
	if len(unexpected) > 0 {
		w := unexpected[0]
		r.violate("%d acknowledged writes lost that a surviving node held (first #%d, acknowledged %s, %s after the step's first fault)",
			len(unexpected), w.Seq, w.At.Format("15:04:05.000"), w.At.Sub(r.t0).Round(time.Millisecond))
	}
}

// longestOutage is the longest stretch of failed writes, an unfinished one
// counted up to end.
func longestOutage(outages []loadcheck.Outage, end time.Time) (loadcheck.Outage, bool) {
	var best loadcheck.Outage
	found := false
	for _, o := range outages {
		if o.End.IsZero() {
			o.End = end
		}
		if !found || o.End.Sub(o.Start) > best.End.Sub(best.Start) {
			best, found = o, true
		}
	}
	return best, found
}

// lossExpected reports whether a write acknowledged at t may be lost: no
// node can still have held it. A node n held it unless, by the step's
// events:
//   - n was not holding the data at t (its Redis killed, or its cable
//     pulled, and not seen back in sync since), or
//   - n's Redis was killed at or after t (its data set died with it), or
//   - the other node, acknowledging writes at t (or either node might
//     have), was killed or cut off within ReplicationGrace after t: it may
//     not have shipped the write to n yet.
//
// With no kill and no cut (switchovers, keepalived faults), nothing may be
// lost; after a partition neither, as the cut-off node keeps its data.
func (r *stepRun) lossExpected(t time.Time) bool {
	for _, n := range NodeNames {
		if !r.out(n, t) && !r.killedAfter(n, t) && !r.peerBrokeWithin(n, t) {
			return false
		}
	}
	return true
}

func (r *stepRun) out(n string, t time.Time) bool {
	if !r.healed.IsZero() && !t.Before(r.healed) {
		return false
	}
	out := false
	for _, e := range r.events {
		if e.node == n && e.kind != "serves" && !e.at.After(t) {
			out = e.kind != "back"
		}
	}
	return out
}

func (r *stepRun) killedAfter(n string, t time.Time) bool {
	for _, e := range r.events {
		if e.node == n && e.kind == "kill" && !e.at.Before(t) {
			return true
		}
	}
	return false
}

func (r *stepRun) peerBrokeWithin(n string, t time.Time) bool {
	for _, e := range r.events {
		if e.node != n && (e.kind == "kill" || e.kind == "cut") && !e.at.Before(t) && e.at.Sub(t) <= ReplicationGrace && r.servingAt(e.node, t) {
			return true
		}
	}
	return false
}

// servingAt reports whether node n may have acknowledged a write at t.
func (r *stepRun) servingAt(n string, t time.Time) bool {
	serving := true
	for _, e := range r.events {
		if e.kind == "serves" && !e.at.After(t) {
			serving = e.node == "" || e.node == n
		}
	}
	return serving
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
