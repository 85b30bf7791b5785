package hooks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/wire"
)

// NotifyArgs is one keepalived notify call: keepalived's generic `notify`
// script gets "INSTANCE|GROUP <name> <state> <priority>".
type NotifyArgs struct {
	Kind     string // INSTANCE or GROUP
	Name     string
	State    string // MASTER, BACKUP, FAULT, STOP (DELETED is read as STOP)
	Priority int
}

// maxNotifyArg caps each notify argument. keepalived's own are short (an
// instance name, a state, a number); anything longer was not written by it.
const maxNotifyArg = 128

// ParseNotifyArgs parses keepalived's generic notify arguments. The priority
// is optional (older keepalived versions do not pass it). The hooks run as
// root and log what they are given, so the arguments are capped in number
// and length, and the name must be printable text.
func ParseNotifyArgs(args []string) (NotifyArgs, error) {
	if len(args) < 3 || len(args) > 4 {
		return NotifyArgs{}, fmt.Errorf("want <INSTANCE|GROUP> <NAME> <STATE> [PRIORITY], got %d arguments", len(args))
	}
	for i, what := range []string{"first argument", "name", "state", "priority"}[:len(args)] {
		if len(args[i]) > maxNotifyArg {
			return NotifyArgs{}, fmt.Errorf("%s is %d bytes, more than keepalived passes (%d)", what, len(args[i]), maxNotifyArg)
		}
	}
	if clean(args[1]) != args[1] {
		return NotifyArgs{}, fmt.Errorf("name %q holds a control character or invalid UTF-8", human.Abbrev(args[1], 40))
	}
	n := NotifyArgs{Kind: strings.ToUpper(args[0]), Name: args[1], State: strings.ToUpper(args[2])}
	switch n.Kind {
	case "INSTANCE", "GROUP":
	default:
		return NotifyArgs{}, fmt.Errorf("first argument %q: want INSTANCE or GROUP", human.Abbrev(args[0], 40))
	}
	switch n.State {
	case wire.KAMaster, wire.KABackup, wire.KAFault, wire.KAStop:
	case wire.KADeleted:
		n.State = wire.KAStop
	default:
		return NotifyArgs{}, fmt.Errorf("state %q: want MASTER, BACKUP, FAULT, STOP or DELETED", human.Abbrev(args[2], 40))
	}
	if len(args) == 4 {
		p, err := strconv.Atoi(args[3])
		if err != nil || p < 0 || p > 255 {
			return NotifyArgs{}, fmt.Errorf("priority %q: want a number 0-255", human.Abbrev(args[3], 40))
		}
		n.Priority = p
	}
	return n, nil
}

// NotifyBudget bounds a whole notify: waiting for an older hook to notice
// it was overtaken, one catch-up wait of hooks.sync_timeout, and a handful
// of Redis calls. keepalived does not wait for notify scripts, but a hook
// must still end (rule 8).
func NotifyBudget(cfg *config.Config) time.Duration {
	return 2*cfg.Hooks.SyncTimeout + 12*cfg.Hooks.RedisTimeout + vipGrace
}

// Notify handles one keepalived state change on node self (docs/safety.md rules
// 1-5): it records the new state, takes the node's transition lock and runs
// Decide's plan. It returns nil when the plan succeeded or a newer notify
// overtook it, an error wrapping ErrRefused when a safety rule stopped it,
// and any other error when a step failed.
func Notify(ctx context.Context, cfg *config.Config, self *config.Node, log *Logger, n NotifyArgs) (err error) {
	role := strings.ToLower(n.State)
	// Counted for the exporter (hookstats), by result.
	overtaken := false
	defer func() {
		_ = hookstats.Add(hookstats.Path(cfg.Hooks.StateFile), role, notifyResult(err, overtaken))
	}()
	if err := ours(cfg, n); err != nil {
		log.Logf(Error, role, "%v", err)
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, NotifyBudget(cfg))
	defer cancel()

	r, err := newRunner(cfg, self, log, cfg.Hooks.RedisTimeout)
	if err != nil {
		log.Logf(Error, role, "cannot start: %v", err)
		return err
	}
	defer r.Close()
	r.role = role
	r.started, r.state = time.Now(), n.State
	if err := r.announce(ctx, n.Name, n.State, n.Priority); err != nil {
		if errors.Is(err, ErrOvertaken) {
			r.logf(Warn, "overtaken before starting, stopping: %v", err)
			overtaken = true
			return nil
		}
		r.logf(Error, "cannot record the state: %v", err)
		return err
	}
	r.logf(Info, "keepalived %s (instance %s, priority %d): generation %d", n.State, n.Name, n.Priority, r.gen)
	if n.State == wire.KAMaster {
		r.watchVIP()
	}

	start := time.Now()
	lock, err := lockWait(ctx, cfg.Hooks.LockFile)
	if err != nil {
		return r.finish(fmt.Errorf("waiting for the transition lock: %w", err))
	}
	defer lock.Unlock()
	if waited := time.Since(start); waited > 10*time.Millisecond {
		r.logf(Info, "took the transition lock after %s", ms(waited))
	}
	// keepalived adds the VIP around the time it runs the MASTER notify;
	// give it a moment before reading its absence as a newer state.
	if n.State == wire.KAMaster && !r.waitVIP(ctx) {
		r.logf(Warn, "the VIP %s did not appear on this node within %s", cfg.VIPAddr(), vipGrace)
	}
	if err := r.stillCurrent(); err != nil {
		overtaken = errors.Is(err, ErrOvertaken)
		return r.finish(err)
	}

	facts := r.observe(ctx, n.State)
	r.logf(Info, "local %s; peer %s", describe(facts.Local), describe(facts.Peer))
	plan := Decide(facts)
	if m, on, err := ReadMaintenance(cfg, time.Now()); err != nil {
		r.logf(Error, "maintenance file unreadable, acting as if maintenance were off: %v", err)
	} else if on {
		return r.finishMaintenance(m, plan)
	}
	r.logf(Info, "plan: %s", plan)
	err = r.execute(ctx, plan, facts)
	overtaken = errors.Is(err, ErrOvertaken)
	return r.finish(err)
}

// notifyResult is the hookstats result of a notify that returned err;
// overtaken notifies return nil but are counted apart.
func notifyResult(err error, overtaken bool) string {
	switch {
	case overtaken:
		return hookstats.ResultOvertaken
	case err == nil:
		return hookstats.ResultOK
	case errors.Is(err, ErrRefused):
		return hookstats.ResultRefused
	default:
		return hookstats.ResultFailed
	}
}

// ours refuses a notify for anything but this pair's VRRP instance
// (keepalived.instance): a notify line copied into another instance, or a
// sync group's, must not move this pair's Redis roles. The generated
// keepalived.conf defines no sync group, so no group is ours.
func ours(cfg *config.Config, n NotifyArgs) error {
	want := cfg.Keepalived.Instance
	switch {
	case n.Kind == "GROUP":
		return refuse("keepalived sync group %q is %s: redkeep runs no sync group and acts on its instance %q only; nothing done", n.Name, n.State, want)
	case n.Name != want:
		return refuse("keepalived instance %q is %s: not this pair's instance %q (keepalived.instance); nothing done", n.Name, n.State, want)
	}
	return nil
}

// finishMaintenance ends a notify during maintenance: the state file
// records keepalived's state (announce did), but no step of plan runs.
func (r *runner) finishMaintenance(m wire.Maintenance, plan Plan) error {
	msg := fmt.Sprintf("maintenance (%s): would have: %s", m, plan)
	r.logf(Warn, "%s", msg)
	if err := r.updateState(func(s *wire.State) {
		s.LastResult = wire.ResultOK
		s.LastAction = "ran no step: " + msg
	}); err != nil && !errors.Is(err, ErrOvertaken) {
		r.logf(Error, "cannot record the result: %v", err)
	}
	return nil
}

// finish logs the outcome, records it in the state file (unless a newer
// hook owns the file) and returns what the command should exit with.
func (r *runner) finish(err error) error {
	result, level := wire.ResultOK, Info
	switch {
	case err == nil:
	case errors.Is(err, ErrOvertaken):
		r.logf(Warn, "overtaken, stopping: %v", err)
		return nil
	case errors.Is(err, ErrRefused):
		result, level = wire.ResultRefused, Warn
	default:
		result, level = wire.ResultFailed, Error
	}
	msg := "done"
	if err != nil {
		msg = err.Error()
	}
	r.logf(level, "%s: %s", result, msg)
	if uerr := r.updateState(func(s *wire.State) {
		s.LastResult = result
		s.LastAction = msg
	}); uerr != nil && !errors.Is(uerr, ErrOvertaken) {
		r.logf(Error, "cannot record the result: %v", uerr)
	}
	// The event's time is when the notify started: before any line it
	// logged, so history can tell the journal's events from the state
	// log's.
	r.record(wire.Event{Time: r.started, Event: wire.EventTransition, From: r.prevState, To: r.state, Result: result, Detail: msg,
		WritesPausedMS: ceilMS(r.pausedFor), TotalMS: ceilMS(time.Since(r.started))})
	return err
}

// ceilMS rounds d up to whole milliseconds: a pause of 0.3 ms was a pause.
func ceilMS(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

// record puts ev in the node's journal and hands it to notifications;
// a failure is logged, never the hook's.
func (r *runner) record(ev wire.Event) {
	if err := events.Record(r.cfg, r.self, ev); err != nil {
		r.logf(Warn, "event journal: %v", err)
	}
}
