package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/deploy"
	"github.com/redkeep/redkeep/nodes"
)

type deployOptions struct {
	node         string
	binary       string
	passwordFile string
	dryRun       bool
	yes          bool
	timeout      time.Duration
	in           io.Reader
	out          io.Writer
}

func newDeployCmd(g *globalFlags) *cobra.Command {
	o := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy [--node N] [--dry-run] [--yes] [--binary PATH] [--password-file F]",
		Short: "Install redkeep on the pair's nodes over SSH and switch keepalived to its hooks",
		Long: `Install redkeep on both nodes (or --node N) over SSH, as root or through
passwordless sudo. Each node is checked first (OS and CPU architecture against
the binary, keepalived and redis-server installed and keepalived running, sudo)
and the plan printed: what changes, file by file, and keepalived.conf as a
unified diff against the node's current file.

Then, once confirmed (type the pair's name, or --yes): the binary (uploaded to
a temp file, its sha256 checked there, renamed into place), config.yaml
(root-owned 0640, group the SSH user's), the hooks' directories (root-owned
0755, created when missing; existing ones others can write to are refused);
for an SSH user other than root a sudoers drop-in, /etc/sudoers.d/redkeep
(checked with visudo -cf), that lets it run only the node verbs the console
needs with the node's config pinned, and membership of the log groups the
node has (systemd-journal, adm); and keepalived.conf
rendered by redkeep: staged beside the current one and checked with
keepalived -t on every node first, then, replica first and the VIP holder
last, the old file kept as keepalived.conf.redkeep-backup-TIMESTAMP, the new
one renamed into place and keepalived reloaded (SIGHUP, as systemctl reload
does). The VIP does not move. Finally both nodes must report this build and
the pair must be healthy; otherwise the backups are restored and reloaded.

Secrets are never copied unless --password-file names the local file to
install as redis.password_file, and never printed (auth_pass lines of the
diff are hidden).

Run again, it reports nothing to change. Exit codes: 0 done or nothing to
change, 1 failed (the message says where it stopped and what was restored),
2 usage or config error, 3 refused by the checks (nothing changed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			o.in, o.out = cmd.InOrStdin(), cmd.OutOrStdout()
			return runDeploy(cmd.Context(), cfg, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "deploy to this node only")
	f.StringVar(&o.binary, "binary", "", "the redkeep executable to install (default: this one); cross-build it for other hosts")
	f.StringVar(&o.passwordFile, "password-file", "", "a local file to install as redis.password_file on the nodes (root-owned 0600)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check and print the plan only; change nothing")
	f.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for a healthy pair afterwards")
	g.addPairFlag(cmd, pairFlagUsage)
	return cmd
}

func runDeploy(ctx context.Context, cfg *config.Config, o *deployOptions) error {
	if o.node != "" {
		if _, err := cfg.Node(o.node); err != nil {
			return withCode(exitUsage, fmt.Errorf("--node: %w", err))
		}
	}
	if o.timeout <= 0 {
		return withCode(exitUsage, fmt.Errorf("deploy: --timeout must be positive, got %s", o.timeout))
	}
	if o.binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("deploy: find this executable (pass --binary): %w", err))
		}
		o.binary = exe
	}
	text, err := pairFile(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	conns := map[string]deploy.Runner{}
	raw := map[string]*nodes.Conn{}
	for i := range cfg.Nodes {
		n := &cfg.Nodes[i]
		c, err := nodes.DialNode(n, nodes.Options{})
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("node %s: %w", n.Name, err))
		}
		defer c.Close()
		conns[n.Name], raw[n.Name] = c, c
	}
	sn := actions.UseConns(cfg, raw)
	defer sn.Close()
	opts := deploy.Options{
		Cfg: cfg, ConfigText: text, Node: o.node, Binary: o.binary, PasswordFile: o.passwordFile,
		DryRun: o.dryRun, Out: o.out, Conns: conns, VerifyTimeout: o.timeout,
		Healthy: func(ctx context.Context) (bool, string) {
			snaps := sn.Snapshots(ctx)
			v := nodes.Judge(snaps, nodes.Thresholds{LagWarn: cfg.Console.LagWarn})
			desc, _ := actions.DescribePair(cfg, snaps)
			if !v.Healthy {
				var rs []string
				for _, r := range v.Reasons {
					rs = append(rs, r.Text)
				}
				desc += " (" + strings.Join(rs, "; ") + ")"
			}
			return v.Healthy, desc
		},
	}
	if !o.yes {
		opts.Confirm = func() error { return confirmDeploy(o.in, o.out, cfg.Pair) }
	}
	res, err := deploy.Run(ctx, opts)
	switch {
	case errors.Is(err, deploy.ErrRefused):
		return withCode(exitRefused, err)
	case errors.Is(err, errNotConfirmed):
		return withCode(exitRefused, err)
	case err != nil:
		return withCode(exitUnhealthy, err)
	}
	if res.Changes > 0 && !o.dryRun {
		fmt.Fprintf(o.out, "deployed: %d changes in %s\n", res.Changes, res.Took.Round(time.Millisecond))
	}
	return nil
}

// pairFile is the config text installed on the nodes: the pair's own file,
// which the hooks read as one pair.
func pairFile(cfg *config.Config) ([]byte, error) {
	if cfg.Path == "" {
		return nil, errors.New("deploy: the pair's config has no file to install")
	}
	b, err := os.ReadFile(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	if _, err := config.Parse(b, cfg.Path); err != nil {
		return nil, fmt.Errorf("deploy installs the pair's own config file on the nodes, and %s is not one a node can read: %w", cfg.Path, err)
	}
	return b, nil
}

var errNotConfirmed = errors.New("deploy not confirmed; nothing changed")

func confirmDeploy(in io.Reader, out io.Writer, pair string) error {
	want := pair
	if want == "" {
		want = "deploy"
	}
	fmt.Fprintf(out, "Install redkeep and switch keepalived to its hooks on these nodes? Type %s to go ahead: ", want)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("%w (no answer: %v)", errNotConfirmed, err)
	}
	if got := strings.TrimSpace(line); got != want {
		return fmt.Errorf("%w (typed %q, not %q)", errNotConfirmed, got, want)
	}
	return nil
}
