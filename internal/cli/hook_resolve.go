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

	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/wire"
)

// newHookResolveCmd is the node-local step of `redkeep resolve`, run over
// SSH on the node whose data set is replaced. It prints one JSON object.
func newHookResolveCmd(h *hookEnv) *cobra.Command {
	var node, operator string
	req := hooks.ResolveRequest{}
	cmd := &cobra.Command{
		Use:   "resolve-follow --keep NODE --local-replid ID --keep-replid ID",
		Short: "Save this node's data set, then make its Redis the kept node's replica (JSON; used by `redkeep resolve`)",
		// Usage errors are found in Args, before the hook setup looks at
		// the node's files.
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return err
			}
			if req.Keep == "" || req.LocalReplID == "" || req.KeepReplID == "" {
				return withCode(exitUsage, errors.New("resolve-follow: --keep, --local-replid and --keep-replid are required"))
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
			// Like a switchover step, it finishes when the console's
			// session dies: a half-done resolve is worse than a done one.
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			ctx, cancel := context.WithTimeout(context.Background(), req.Pause+time.Minute)
			defer cancel()
			log := hooks.NewLogger(cfg.Hooks.StateLog)
			defer log.Close()
			start := time.Now()
			res, err := hooks.Resolve(ctx, cfg, self, log, req)
			ev := wire.Event{Time: start, Event: wire.EventResolve, From: self.Name, To: req.Keep, Operator: operator, Result: wire.ResultOK,
				WritesPausedMS: res.PausedFor.Milliseconds(), TotalMS: res.Took.Milliseconds()}
			switch {
			case err == nil:
				ev.Detail = fmt.Sprintf("data set saved to %s (%d keys); now %s's replica", res.RDB, res.Keys, req.Keep)
			case errors.Is(err, hooks.ErrRefused):
				ev.Result, ev.Detail = wire.ResultRefused, err.Error()
			default:
				ev.Result, ev.Detail = wire.ResultFailed, err.Error()
			}
			if rerr := events.Record(cfg, self, ev); rerr != nil {
				log.Logf(hooks.Warn, "resolve", "event journal: %v", rerr)
			}
			_ = json.NewEncoder(cmd.OutOrStdout()).Encode(struct {
				wire.ResolveResult
				Error string `json:"error,omitempty"`
			}{res, errString(err)})
			switch {
			case err == nil:
				return nil
			case errors.Is(err, hooks.ErrRefused):
				return withCode(exitRefused, err)
			}
			return withCode(exitUnhealthy, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&node, "node", "", "this node's name (default: $REDKEEP_NODE, else by address)")
	f.StringVar(&req.Keep, "keep", "", "the node whose data survives (the peer)")
	f.StringVar(&req.LocalReplID, "local-replid", "", "this node's replid as the preflight saw it")
	f.StringVar(&req.KeepReplID, "keep-replid", "", "the kept node's replid as the preflight saw it")
	f.StringVar(&operator, "operator", "", "who asked, user@console-host, for the event journal")
	f.DurationVar(&req.Pause, "pause", 2*time.Minute, "bound on how long local writes are paused while the data set is saved")
	return cmd
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
