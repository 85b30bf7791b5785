package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/lab"
)

// labFlags are shared by every lab subcommand.
type labFlags struct {
	dir    string
	prefix string
}

func (f *labFlags) open(cmd *cobra.Command) (*lab.Lab, error) {
	s := lab.DefaultSettings()
	s.Dir = f.dir
	s.Prefix = f.prefix
	l, err := lab.New(s)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	l.Log = cmd.ErrOrStderr()
	return l, nil
}

// ownLab is the directory and prefix of a command that runs a lab of its
// own (bench): --dir and --prefix when given, else its defaults, so it
// never touches the lab of `lab up`.
func (f *labFlags) ownLab(cmd *cobra.Command, dir, prefix string) (string, string) {
	if cmd.Flags().Changed("dir") {
		dir = f.dir
	}
	if cmd.Flags().Changed("prefix") {
		prefix = f.prefix
	}
	return dir, prefix
}

// labContext cancels on ctrl-c or SIGTERM, so waits end and errors say why.
func labContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func newLabCmd(g *globalFlags) *cobra.Command {
	f := &labFlags{}
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "A real two-node pair on this machine (network namespaces, keepalived, redis-server, sshd)",
		Long: `The lab runs nodes a and b in network namespaces joined by a bridge, each with
redis-server, keepalived (with this redkeep as its hooks), sshd and a syslog file
of its own. It needs root and the packages keepalived, redis-server and
openssh-server. All its state lives in --dir.`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&f.dir, "dir", lab.DefaultDir, "the lab's directory")
	cmd.PersistentFlags().StringVar(&f.prefix, "prefix", lab.DefaultPrefix, "prefix of the lab's namespaces and interfaces")
	cmd.AddCommand(
		newLabUpCmd(f),
		newLabDownCmd(f),
		newLabStatusCmd(f),
		newLabFailCmd(f),
		newLabHealCmd(f),
		newLabBenchCmd(f),
		newLabChaosCmd(f),
		newLabSoakCmd(f),
		newLabSyslogdCmd(),
	)
	return cmd
}

// labUp starts the lab (or finds it running) and prints where it is.
func labUp(cmd *cobra.Command, f *labFlags, subnet string, baseline bool, journalNode, sshUser string) (*lab.Status, error) {
	if err := lab.Requirements(); err != nil {
		return nil, withCode(exitUsage, err)
	}
	l, err := f.open(cmd)
	if err != nil {
		return nil, err
	}
	if !l.Exists() {
		p, err := lab.ParseSubnet(subnet)
		if err != nil {
			return nil, withCode(exitUsage, err)
		}
		l.S.Subnet = p
		l.S.Baseline = baseline
		l.S.JournalNode = journalNode
		l.S.SSHUser = sshUser
		if err := l.S.Validate(); err != nil {
			return nil, withCode(exitUsage, err)
		}
	}
	ctx, cancel := labContext(cmd)
	defer cancel()
	st, running, err := l.Up(ctx)
	if err != nil {
		if errors.Is(err, lab.ErrRefused) {
			return nil, withCode(exitRefused, err)
		}
		return nil, withCode(exitUnhealthy, err)
	}
	out := cmd.OutOrStdout()
	if running {
		fmt.Fprintln(out, "The lab is already running.")
	} else {
		fmt.Fprintln(out, "The lab is up.")
	}
	st.Print(out)
	fmt.Fprintf(out, "\nConsole:  redkeep -c %s\nStatus:   redkeep -c %s status\nBreak it: redkeep lab fail CASE   (%s)\nRemove:   redkeep lab down\n",
		st.Config, st.Config, strings.Join(lab.CaseNames(), ", "))
	if !st.Healthy {
		return st, withCode(exitUnhealthy, errors.New("the lab is not healthy: try `redkeep lab heal`"))
	}
	return st, nil
}

func newLabUpCmd(f *labFlags) *cobra.Command {
	var subnet, journalNode, sshUser string
	var baseline bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the lab and wait for a healthy pair (a master, b its replica)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := labUp(cmd, f, subnet, baseline, journalNode, sshUser)
			return err
		},
	}
	cmd.Flags().StringVar(&journalNode, "journal-node", lab.DefaultJournalNode, fmt.Sprintf("the node that keeps its logs in a journal of its own, with no syslog file (a, b, or %s)", lab.JournalNone))
	cmd.Flags().StringVar(&subnet, "subnet", lab.DefaultSubnet, "the lab's IPv4 network; refused if anything on this machine uses it")
	cmd.Flags().BoolVar(&baseline, "baseline", false, "run the origin document's shell scripts instead of redkeep's hooks")
	cmd.Flags().StringVar(&sshUser, "ssh-user", lab.DefaultSSHUser, fmt.Sprintf("the console's SSH user on the nodes: %s, with the rights redkeep deploy grants (sudo -n for the node verbs), or %s", lab.DefaultSSHUser, lab.RootSSHUser))
	return cmd
}

func newLabDownCmd(f *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove the lab: processes, namespaces, interfaces, files (safe to repeat)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return withCode(exitUsage, errors.New("lab down needs root: run it with sudo"))
			}
			l, err := f.open(cmd)
			if err != nil {
				return err
			}
			existed := l.Exists()
			if err := l.Down(context.WithoutCancel(cmd.Context())); err != nil {
				return withCode(exitUnhealthy, err)
			}
			if existed {
				fmt.Fprintf(cmd.OutOrStdout(), "The lab in %s is gone.\n", l.S.Dir)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "No lab in %s; leftovers, if any, removed.\n", l.S.Dir)
			}
			return nil
		},
	}
}

func newLabStatusCmd(f *labFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Where the lab is and what runs in it (exit 0 healthy, 1 not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := f.open(cmd)
			if err != nil {
				return err
			}
			st, err := l.Status(cmd.Context())
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				st.Print(cmd.OutOrStdout())
			}
			if !st.Healthy {
				return withCode(exitUnhealthy, errSilent)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newLabFailCmd(f *labFlags) *cobra.Command {
	var node string
	var help strings.Builder
	for _, c := range lab.Cases {
		fmt.Fprintf(&help, "  %-16s %s\n", c.Name, c.Help)
	}
	cmd := &cobra.Command{
		Use:       "fail CASE",
		Short:     "Break a node in one of the origin document's ways",
		Long:      "Cases:\n" + help.String() + "\n--node defaults to the node holding the VIP. `redkeep lab heal` undoes any of them.",
		ValidArgs: lab.CaseNames(),
		Args:      cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.open(cmd)
			if err != nil {
				return err
			}
			if !contains(lab.CaseNames(), args[0]) {
				return withCode(exitUsage, fmt.Errorf("unknown case %q: one of %s", args[0], strings.Join(lab.CaseNames(), ", ")))
			}
			ctx, cancel := labContext(cmd)
			defer cancel()
			n, err := l.Fail(ctx, args[0], node)
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s on node %s. Watch: redkeep lab status; undo: redkeep lab heal\n", args[0], n)
			return nil
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "node to break (default: the VIP holder)")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func newLabHealCmd(f *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "heal",
		Short: "Bring back whatever is down and wait for a healthy pair",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := f.open(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := labContext(cmd)
			defer cancel()
			st, err := l.Heal(ctx)
			if st != nil {
				st.Print(cmd.OutOrStdout())
			}
			if err != nil {
				return withCode(exitUnhealthy, err)
			}
			return nil
		},
	}
}

// newLabSyslogdCmd is the per-node syslog receiver the lab starts; hidden
// because only the lab runs it.
func newLabSyslogdCmd() *cobra.Command {
	var sock, file, host string
	cmd := &cobra.Command{
		Use:    "syslogd --socket PATH --file PATH --host NAME",
		Short:  "Receive a lab node's syslog datagrams into its syslog file",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sock == "" || file == "" || host == "" {
				return withCode(exitUsage, errors.New("--socket, --file and --host are required"))
			}
			ctx, cancel := labContext(cmd)
			defer cancel()
			if err := lab.Syslogd(ctx, sock, file, host); err != nil {
				return withCode(exitUnhealthy, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sock, "socket", "", "unixgram socket to listen on")
	cmd.Flags().StringVar(&file, "file", "", "syslog file to append to")
	cmd.Flags().StringVar(&host, "host", "", "host name written on each line")
	return cmd
}

func newDemoCmd(g *globalFlags) *cobra.Command {
	f := &labFlags{dir: lab.DefaultDir, prefix: lab.DefaultPrefix}
	var subnet string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start the lab, then the console on it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := labUp(cmd, f, subnet, false, "", "")
			if err != nil {
				return err
			}
			root := newRootCmd(g.io, "console")
			root.SetArgs([]string{"--config", st.Config, "console"})
			return root.ExecuteContext(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&subnet, "subnet", lab.DefaultSubnet, "the lab's IPv4 network; refused if anything on this machine uses it")
	return cmd
}
