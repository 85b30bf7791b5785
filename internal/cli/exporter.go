package cli

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redkeep/redkeep/exporter"
	"github.com/redkeep/redkeep/internal/buildinfo"
)

// exporterOptions are `redkeep exporter`'s flags.
type exporterOptions struct {
	node          string
	listen        string
	scrapeTimeout time.Duration
	passwordFile  string
}

// maxScrapeTimeout keeps a scrape's gathering inside Prometheus's own
// default scrape_timeout (10 s), with room to answer.
const maxScrapeTimeout = 8 * time.Second

func newExporterCmd(g *globalFlags) *cobra.Command {
	o := &exporterOptions{}
	cmd := &cobra.Command{
		Use:   "exporter [--listen IP:PORT]",
		Short: "Serve this node's Prometheus metrics (/metrics, /healthz) until SIGTERM",
		Long: `Serve this node's metrics for Prometheus: keepalived state, VIP, Redis role,
offsets and replication, the hooks' runs and results, switchovers, version.
Each scrape gathers within --scrape-timeout; a Redis that does not answer in
time shows as redkeep_redis_up 0. Runs as an unprivileged user: it reads the
config, the state file, the hooks' counters and the track file, and asks the
local Redis for INFO. See docs/prometheus/ for alerting rules and a systemd unit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExporter(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "this node's name (default: $REDKEEP_NODE, else the node whose host is a local address)")
	f.StringVar(&o.listen, "listen", exporter.DefaultListen, "IP:PORT to serve on; 0.0.0.0:PORT for every address")
	f.DurationVar(&o.scrapeTimeout, "scrape-timeout", exporter.DefaultScrapeTimeout, "bound on gathering one scrape (at most 8s)")
	f.StringVar(&o.passwordFile, "redis-password-file", "", "read the Redis password from this file instead of the config's (e.g. a systemd credential)")
	g.addPairFlag(cmd, pairFlagUsage)
	return cmd
}

func runExporter(cmd *cobra.Command, g *globalFlags, o *exporterOptions) error {
	addr, err := exporter.ParseListen(o.listen)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if o.scrapeTimeout <= 0 || o.scrapeTimeout > maxScrapeTimeout {
		return withCode(exitUsage, fmt.Errorf("--scrape-timeout %s: want more than 0 and at most %s", o.scrapeTimeout, maxScrapeTimeout))
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	self, err := cfg.LocalNode(o.node)
	if err != nil {
		return withCode(exitUsage, err)
	}
	var password string
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return withCode(exitUsage, fmt.Errorf("--redis-password-file: %w", err))
		}
		password = strings.TrimRight(string(b), "\r\n")
	} else if password, err = cfg.RedisPassword(); err != nil {
		return withCode(exitUsage, err)
	}
	errOut := g.io.Err
	c, err := exporter.New(exporter.Options{
		Cfg: cfg, Self: self, Password: password,
		ScrapeTimeout: o.scrapeTimeout, Version: buildinfo.Version(), SHA256: buildinfo.HashOf(buildinfo.ID()), Log: errOut,
	})
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	h := exporter.Handler(exporter.NewRegistry(c), o.scrapeTimeout, errOut)
	err = exporter.Serve(ctx, addr, h, o.scrapeTimeout, func(a net.Addr) {
		fmt.Fprintf(errOut, "redkeep exporter: node %s, serving http://%s/metrics\n", self.Name, a)
	})
	if err != nil {
		return withCode(exitUnhealthy, fmt.Errorf("exporter: %w", err))
	}
	fmt.Fprintln(errOut, "redkeep exporter: stopped")
	return nil
}
