package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/wire"
)

// newHookMaintenanceCmd is `redkeep hook maintenance on|off|status`, the
// node-local verbs `redkeep maintenance` runs on both nodes over SSH. Each
// prints a wire.MaintenanceReply as JSON.
func newHookMaintenanceCmd(h *hookEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance on|off|status",
		Short: "turn this node's maintenance mode on or off, or show it (JSON; used by `redkeep maintenance`)",
		Args:  cobra.NoArgs,
	}
	var req hooks.MaintenanceRequest
	on := &cobra.Command{
		Use:   "on [--for DUR] [--reason TEXT] [--host HOST]",
		Short: "maintenance on: the hooks change no Redis role and the check does not fail until it expires",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := hooks.MaintenanceDuration(req.For); err != nil {
				return withCode(exitUsage, fmt.Errorf("hook maintenance on: %w", err))
			}
			return setMaintenance(cmd, h, true, req)
		},
	}
	on.Flags().DurationVar(&req.For, "for", wire.DefaultMaintenance, fmt.Sprintf("how long until it expires by itself (at most %s)", wire.MaxMaintenance))
	on.Flags().StringVar(&req.Reason, "reason", "", "why, for the log and the console's banner")
	on.Flags().StringVar(&req.Host, "host", "", "the console host the request comes from")
	off := &cobra.Command{
		Use:   "off [--host HOST]",
		Short: "maintenance off: the hooks act again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return setMaintenance(cmd, h, false, req)
		},
	}
	off.Flags().StringVar(&req.Host, "host", "", "the console host the request comes from")
	status := &cobra.Command{
		Use:   "status",
		Short: "print this node's maintenance record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, active, err := hooks.ReadMaintenance(h.cfg, time.Now())
			reply := wire.MaintenanceReply{Node: h.self.Name, Active: active}
			if err != nil {
				reply.Error = err.Error()
			} else if !m.Since.IsZero() {
				reply.Maintenance = &m
			}
			return printMaintenanceReply(cmd, reply)
		},
	}
	annotate(status, annReadOnly)
	for _, c := range []*cobra.Command{on, off, status} {
		annotate(c, annHookEnv)
		cmd.AddCommand(c)
	}
	return cmd
}

func setMaintenance(cmd *cobra.Command, h *hookEnv, on bool, req hooks.MaintenanceRequest) error {
	req.By = operator()
	now := time.Now()
	reply := wire.MaintenanceReply{Node: h.self.Name}
	m, err := hooks.SetMaintenance(h.cfg, h.self, h.log, on, req, now)
	if err != nil {
		reply.Error = err.Error()
	} else {
		reply.Maintenance, reply.Active = &m, m.Active(now)
	}
	return printMaintenanceReply(cmd, reply)
}

func printMaintenanceReply(cmd *cobra.Command, reply wire.MaintenanceReply) error {
	if err := json.NewEncoder(cmd.OutOrStdout()).Encode(reply); err != nil {
		return withCode(exitUnhealthy, err)
	}
	if reply.Error != "" {
		return withCode(exitUnhealthy, errors.New(reply.Error))
	}
	return nil
}

// operator is who runs a node verb: the user sudo was run by, else this
// process's user (the console's SSH login).
func operator() string {
	if u := os.Getenv("SUDO_USER"); u != "" && u != "root" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return fmt.Sprintf("uid%d", os.Getuid())
}
