package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/internal/buildinfo"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/wire"
)

// hookEnv is what every `redkeep hook` subcommand shares: the config, this
// node, and the redis-state logger, set up once in PersistentPreRunE.
// That is also where a hook running as root refuses a config or hooks
// directory that someone else could change, once for every hook.
type hookEnv struct {
	g    *globalFlags
	node string

	cfg  *config.Config
	self *config.Node
	log  *hooks.Logger
}

func newHookCmd(g *globalFlags) *cobra.Command {
	h := &hookEnv{g: g}
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "keepalived's check and notify hooks, and node-local steps, run on a node",
		Long: `Run on a node by keepalived (check, notify) and by the console over SSH
(drain, undrain, state). Every step is logged to hooks.state_log and syslog.`,
		Args: cobra.NoArgs,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := h.setup(cmd); err != nil {
				return err
			}
			// keepalived drops the hooks' stderr: config warnings go to their
			// log, except from the check (every second) and state (every
			// console poll), which would flood it.
			if n := cmd.Name(); h.log != nil && n != "check" && n != "state" && n != "history" && n != "deliver" && n != "watch" {
				for _, w := range h.cfg.Warnings {
					h.log.Logf(hooks.Warn, "config", "warning: %s", w)
				}
			}
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if h.log != nil {
				h.log.Close()
			}
		},
	}
	cmd.PersistentFlags().StringVar(&h.node, "node", "", "this node's name (default: $REDKEEP_NODE, else the node whose host is a local address)")
	cmd.AddCommand(
		newHookCheckCmd(h),
		newHookNotifyCmd(h),
		newHookStateCmd(h, wire.KAMaster),
		newHookStateCmd(h, wire.KABackup),
		newHookStateCmd(h, wire.KAFault),
		newHookStateCmd(h, wire.KAStop),
		newHookDrainCmd(h, true),
		newHookDrainCmd(h, false),
		newHookShowStateCmd(h),
		newHookHistoryCmd(h),
		newHookDeliverCmd(h),
		newHookWatchCmd(h),
		newHookAdoptCmd(h),
	)
	for _, c := range cmd.Commands() {
		annotate(c, annHookEnv)
	}
	// The switchover's and resolve's node-local verbs take --node and log
	// themselves.
	cmd.AddCommand(newHookSwitchoverCmds(h)...)
	cmd.AddCommand(newHookResolveCmd(h))
	cmd.AddCommand(newHookMaintenanceCmd(h))
	return cmd
}

// Annotations of hook subcommands.
const (
	// annHookEnv: the subcommand uses hookEnv's node and logger.
	annHookEnv = "redkeep-hook-env"
	// annReadOnly: the subcommand changes nothing on the node, so root
	// may run it whatever the ownership of the files it reads.
	annReadOnly = "redkeep-hook-read-only"
)

func annotate(c *cobra.Command, ann string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[ann] = "1"
}

// setup loads the config and, for the subcommands using hookEnv, finds
// this node and opens the logger.
//
// As root, a hook that acts first refuses (exit 3) a config, password file
// or hooks directory that someone other than root could change (docs/safety.md
// rule 11): the config before it is read, the directories before any file
// in them is. Without root there is nothing to defend: the hook has only
// its user's rights, and reading the state (`hook state` over the
// console's unprivileged SSH login) must keep working. Read-only
// subcommands skip the check as root too; the files they read are opened
// without following symlinks and capped in size either way. Not under
// sudo, though: there the SSH user chose the command line (the drop-in's
// '*' lets it add a --config of its own), so every hook checks.
func (h *hookEnv) setup(cmd *cobra.Command) error {
	path, err := config.Find(h.g.configPath)
	if err != nil {
		return withCode(exitUsage, err)
	}
	guard := os.Geteuid() == 0 && (cmd.Annotations[annReadOnly] == "" || underSudo())
	if guard {
		if err := hooks.TrustedConfig(path); err != nil {
			return untrusted(cmd, err)
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if guard {
		if err := hooks.TrustedHookFiles(cfg); err != nil {
			return untrusted(cmd, err)
		}
	}
	h.cfg = cfg
	if cmd.Annotations[annHookEnv] == "" {
		return nil
	}
	self, err := cfg.LocalNode(h.node)
	if err != nil {
		return withCode(exitUsage, err)
	}
	h.self = self
	h.log = hooks.NewLogger(cfg.Hooks.StateLog)
	return nil
}

// underSudo reports whether sudo started this process: sudo sets
// SUDO_UID, and resets the environment the user passed it.
func underSudo() bool { return os.Getenv("SUDO_UID") != "" }

// untrusted refuses to run a hook, telling syslog as well as stderr:
// keepalived drops the hooks' output, and the state log lives in the
// directories that were just refused.
func untrusted(cmd *cobra.Command, err error) error {
	err = fmt.Errorf("refusing to run as root: %w", err)
	l := hooks.NewLogger("")
	l.Logf(hooks.Error, cmd.Name(), "%v", err)
	l.Close()
	return withCode(exitRefused, err)
}

func newHookCheckCmd(h *hookEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "keepalived's vrrp_script: exit 0 when local Redis answers PING and is not loading",
		Long: `Exit 0 when the local Redis answers PING within keepalived.check.deadline and
is not loading, 1 otherwise; always within the deadline. It also reconciles:
a BACKUP node whose Redis is a master follows the peer when that is safe, and
a MASTER node whose Redis is a replica fails the check so the VIP moves to the
master.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := hooks.Check(cmd.Context(), h.cfg, h.self, h.log)
			startWatcher(h)
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			return nil
		},
	}
}

// startWatcher has the check (re)start `redkeep hook watch` when none
// runs: keepalived runs the check every second on every node, on real
// hosts and in the lab alike, so a watcher that died is back within a
// check interval without a service manager. A failure to start it is
// logged once per change; the check's own verdict stands either way.
func startWatcher(h *hookEnv) {
	if !h.cfg.Keepalived.Watch.On() {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		_, err = hooks.StartWatcher(h.cfg, h.self, exe)
	}
	msg := ""
	if err != nil {
		msg = "cannot start the watcher (detection falls back to the check): " + err.Error()
	}
	hooks.NoteOnce(h.log, h.cfg.Hooks.StateFile+".watch", "check", msg)
}

func newHookWatchCmd(h *hookEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "watch",
		Short: "hold a connection to the local Redis and fail keepalived over the moment Redis dies (started by the check)",
		Long: `Hold an idle connection to the local Redis; when it ends and a new connection
is refused (the process died), or a PING stays unanswered as long as the check
would take to fail and a new connection gets no answer either (hung), write 1
to keepalived.watch.health_file: keepalived goes
FAULT at once. Only the check writes 0 again, once Redis answers. The check
starts the watcher when none runs; a second one exits at once. It exits when
its config or binary changes, and the next check starts the new one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Started detached by the check, which has returned: nobody
			// reads its output, so it logs to the state log like the hooks.
			signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			err := hooks.Watch(ctx, h.cfg, h.self, h.log)
			switch {
			case errors.Is(err, hooks.ErrWatcherRunning):
				return nil
			case err != nil:
				h.log.Logf(hooks.Error, "watch", "%v", err)
				return withCode(exitUnhealthy, err)
			}
			return nil
		},
	}
}

func newHookNotifyCmd(h *hookEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "notify <INSTANCE|GROUP> <NAME> <STATE> <PRIORITY>",
		Short: "keepalived's generic notify: act on a MASTER, BACKUP, FAULT or STOP transition",
		Args:  cobra.RangeArgs(3, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := hooks.ParseNotifyArgs(args)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("hook notify: %w", err))
			}
			return notifyExit(runNotify(cmd, h, n))
		},
	}
}

// runNotify runs a notify that SIGTERM or SIGINT (keepalived stopping, an
// operator's ctrl-c) ends early but cleanly: the hook's context is
// cancelled, so it stops at its next step and still unpauses the peer.
func runNotify(cmd *cobra.Command, h *hookEnv, n hooks.NotifyArgs) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return hooks.Notify(ctx, h.cfg, h.self, h.log, n)
}

// newHookStateCmd is `hook master|backup|fault|stop`, for keepalived's
// notify_master etc., which pass no arguments.
func newHookStateCmd(h *hookEnv, state string) *cobra.Command {
	return &cobra.Command{
		Use:   strings.ToLower(state),
		Short: "keepalived's notify_" + strings.ToLower(state) + ": act on the " + state + " transition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := hooks.NotifyArgs{Kind: "INSTANCE", Name: h.cfg.Keepalived.Instance, State: state, Priority: h.self.Keepalived.Priority}
			return notifyExit(runNotify(cmd, h, n))
		},
	}
}

// notifyExit maps a notify's outcome to the exit code: keepalived ignores
// it, but people and tests running the hook by hand do not.
func notifyExit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, hooks.ErrRefused):
		return withCode(exitRefused, err)
	default:
		return withCode(exitUnhealthy, err)
	}
}

func newHookDrainCmd(h *hookEnv, drain bool) *cobra.Command {
	use, short := "undrain", "write 0 to keepalived's track file: leave FAULT, come back as BACKUP"
	if drain {
		use, short = "drain", "write 1 to keepalived's track file: FAULT, the peer takes the VIP at once"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f := hooks.Undrain
			if drain {
				f = hooks.Drain
			}
			if err := f(h.cfg); err != nil {
				h.log.Logf(hooks.Error, use, "%s failed: %v", use, err)
				return withCode(exitUnhealthy, err)
			}
			h.log.Logf(hooks.Info, use, "track file %s: %s", h.cfg.Keepalived.TrackFile, use+"ed")
			return nil
		},
	}
}

func newHookShowStateCmd(h *hookEnv) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "state",
		Short: "print this node's hook state, VIP, keepalived and redkeep build (version and sha256)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns := hooks.ReadNodeState(h.cfg, h.self, buildinfo.ID())
			out := cmd.OutOrStdout()
			if !asJSON {
				fmt.Fprintln(out, termsafe.Clean(ns.String())) // the state file quotes what Redis said
				return nil
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(ns)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for the console")
	annotate(cmd, annReadOnly)
	return cmd
}

func newHookAdoptCmd(h *hookEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "adopt",
		Short: "write this node's state file from keepalived's last transition, when it has none (deploy runs it after a reload)",
		Long: `A keepalived reloaded with SIGHUP keeps its state and runs no notify hook,
so a node migrated to redkeep's hooks has no state file until its next
transition. adopt writes it once from keepalived's last transition line for
the instance (the syslog file, else the journal), and only when the node's VIP
and drain agree with that line. A node that has a state file is left alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src := hooks.AdoptSource{Syslog: h.cfg.Console.Syslog}
			if h.cfg.Console.JournalUnit != "" {
				src.Syslog = ""
			}
			a, err := hooks.Adopt(cmd.Context(), h.cfg, h.self, src)
			if err != nil {
				h.log.Logf(hooks.Warn, "adopt", "keepalived state not adopted: %v", err)
				return withCode(exitRefused, fmt.Errorf("keepalived state not adopted: %w", err))
			}
			out := cmd.OutOrStdout()
			if !a.Written {
				fmt.Fprintf(out, "state file %s present (%s): nothing to adopt\n", h.cfg.Hooks.StateFile, a.State.State)
				return nil
			}
			h.log.Logf(hooks.Info, "adopt", "keepalived %s adopted into %s from %s", a.State.State, h.cfg.Hooks.StateFile, a.Evidence)
			fmt.Fprintf(out, "keepalived %s written to %s (from %s)\n", a.State.State, h.cfg.Hooks.StateFile, termsafe.Clean(a.Evidence))
			return nil
		},
	}
}
