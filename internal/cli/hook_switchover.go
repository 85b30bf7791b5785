package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/wire"
)

// newHookSwitchoverCmds are the node-local verbs a console's switchover runs
// on each node over SSH. They print JSON for the console, not for people.
func newHookSwitchoverCmds(h *hookEnv) []*cobra.Command {
	return []*cobra.Command{newHookSwitchoverLockCmd(h), newHookSwitchoverRunCmd(h)}
}

func newHookSwitchoverLockCmd(h *hookEnv) *cobra.Command {
	var node string
	req := switchover.LockRequest{}
	cmd := &cobra.Command{
		Use:   "switchover-lock acquire|release|status",
		Short: "Take, drop or show this node's switchover lock (JSON; used by `redkeep switchover`)",
		// Usage errors are found in Args, before the hook setup looks at
		// the node's files.
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return err
			}
			if args[0] != wire.LockStatus && req.Owner == "" {
				return withCode(exitUsage, errors.New("switchover-lock: --owner is required"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := h.cfg
			self, err := cfg.LocalNode(node)
			if err != nil {
				return withCode(exitUsage, err)
			}
			req.Op = args[0]
			reply := switchover.HandleLock(cfg, self.Name, req, time.Now())
			if err := json.NewEncoder(cmd.OutOrStdout()).Encode(reply); err != nil {
				return withCode(exitUnhealthy, err)
			}
			if reply.Error != "" {
				return withCode(exitUnhealthy, fmt.Errorf("switchover-lock %s: %s", req.Op, reply.Error))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&node, "node", "", "this node's name (default: $REDKEEP_NODE, else by address)")
	f.StringVar(&req.Owner, "owner", "", "who takes the lock, e.g. user@host:pid")
	f.StringVar(&req.From, "from", "", "the switchover's current master")
	f.StringVar(&req.To, "to", "", "the switchover's target")
	f.IntVar(&req.PID, "pid", 0, "the console's process id")
	f.DurationVar(&req.TTL, "ttl", 0, "how long the lock holds unless released")
	return cmd
}

func newHookSwitchoverRunCmd(h *hookEnv) *cobra.Command {
	var node, operator string
	o := switchover.Options{}
	cmd := &cobra.Command{
		Use:   "switchover-run --to NODE --owner ID",
		Short: "Run a switchover from this node, the current master (JSON lines; used by `redkeep switchover`)",
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return err
			}
			if o.To == "" || o.Owner == "" {
				return withCode(exitUsage, errors.New("switchover-run: --to and --owner are required"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := h.cfg
			self, err := cfg.LocalNode(node)
			if err != nil {
				return withCode(exitUsage, err)
			}
			if err := checkOperatorFlag(operator); err != nil {
				return err
			}
			if o.Timeout == 0 {
				o.Timeout = cfg.Switchover.MaxPause
			}
			if o.Timeout < config.MinMaxPause {
				return withCode(exitUsage, fmt.Errorf("switchover-run: --max-pause %s is below %s", o.Timeout, config.MinMaxPause))
			}
			if o.VIPTimeout <= 0 {
				// keepalived needs about one advert interval plus its skew
				// to take over after a priority-0 advert.
				o.VIPTimeout = 3*cfg.Keepalived.AdvertInt + 2*time.Second
			}
			if o.MaxLag <= 0 {
				o.MaxLag = cfg.Switchover.MaxLag
			}
			// The console's SSH session may die mid-run; the switchover must
			// still end in a consistent pair, so losing the terminal or the
			// pipe is no reason to stop. SIGTERM and SIGINT abort, but only
			// before Redis roles change (Switchover.Run).
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			abort, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()

			// Every step also goes to the redis-state log and syslog (rule 7),
			// so the node's own record shows the switchover even when the
			// console that started it is gone.
			log := hooks.NewLogger(cfg.Hooks.StateLog)
			defer log.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			emit := func(st wire.SwitchoverStep) {
				level := hooks.Info
				msg := fmt.Sprintf("%s %s", st.Step, st.State)
				if st.Detail != "" {
					msg += ": " + st.Detail
				}
				if st.State == wire.StateFailed {
					level = hooks.Error
					if st.PairState != "" {
						msg += "; pair left " + st.PairState
					}
				}
				log.Logf(level, "switchover", "%s", msg)
				// A write error means the console is gone: carry on.
				_ = enc.Encode(st)
			}
			sw, err := switchover.New(cfg, self, emit)
			if err != nil {
				return withCode(exitUsage, err)
			}
			start := time.Now()
			err = sw.Run(abort, o)
			ev := wire.Event{Time: start, Event: wire.EventSwitchover, From: self.Name, To: o.To, Operator: operator, Result: wire.ResultOK,
				WritesPausedMS: sw.WritesPaused.Milliseconds(), VIPMovedMS: sw.VIPMoved.Milliseconds(), TotalMS: time.Since(start).Milliseconds()}
			switch switchover.Result(err) {
			case hookstats.ResultOK:
			case hookstats.ResultRefused:
				ev.Result, ev.Detail = wire.ResultRefused, err.Error()
				err = withCode(exitRefused, err)
			default:
				ev.Result, ev.Detail = wire.ResultFailed, err.Error()
				err = withCode(exitUnhealthy, err)
			}
			if rerr := events.Record(cfg, self, ev); rerr != nil {
				log.Logf(hooks.Warn, "switchover", "event journal: %v", rerr)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&node, "node", "", "this node's name (default: $REDKEEP_NODE, else by address)")
	f.StringVar(&o.To, "to", "", "target node")
	f.StringVar(&o.Owner, "owner", "", "the switchover lock owner taken by the console")
	f.Int64Var(&o.MaxLag, "max-lag", 0, "refuse above this many bytes of lag (default: switchover.max_lag; 0 there is no limit)")
	f.DurationVar(&o.Timeout, "max-pause", 0, "pause budget: unpause and abort when the target has not caught up within it (default: switchover.max_pause)")
	f.DurationVar(&o.VIPTimeout, "vip-timeout", 0, "longest wait for the VIP to move (default: 3 x advert_int + 2s)")
	f.StringVar(&o.Method, "method", wire.MethodAuto, "Redis step: auto, failover or pause")
	f.StringVar(&operator, "operator", "", "who asked, user@console-host, for the event journal")
	return cmd
}

// checkOperatorFlag validates --operator of a node verb; "" is allowed (a
// verb run by hand, or by an older console).
func checkOperatorFlag(op string) error {
	if op == "" {
		return nil
	}
	if err := wire.CheckOperator(op); err != nil {
		return withCode(exitUsage, fmt.Errorf("--operator: %w", err))
	}
	return nil
}
