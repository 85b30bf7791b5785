// Package exporter is `redkeep exporter`: the Prometheus metrics of one
// node of the pair, gathered on each scrape from what the node itself
// knows (its keepalived state file, its VIP, its keepalived process, its
// Redis and the hooks' counters), under a deadline, so a frozen Redis makes
// a scrape report redkeep_redis_up 0 instead of hanging it.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/hookstats"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/internal/proc"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
	"github.com/redkeep/redkeep/wire"
)

// DefaultScrapeTimeout bounds one scrape's gathering: well below
// Prometheus's default scrape_timeout of 10 s.
const DefaultScrapeTimeout = 2 * time.Second

// maxReplicas caps the per-replica series a master reports: a pair has one
// replica; anything attached beyond a few is not ours to chart.
const maxReplicas = 8

// Options configure a Collector.
type Options struct {
	Cfg  *config.Config
	Self *config.Node
	// Password is the Redis password ("" for none).
	Password string
	// ScrapeTimeout bounds each scrape's gathering; DefaultScrapeTimeout
	// when zero.
	ScrapeTimeout time.Duration
	// Version is this redkeep's version and SHA256 the short sha256 of its
	// executable (redkeep_build_info): two "devel" builds differ by it.
	Version, SHA256 string
	// Log receives collection problems, once each time they change; nil
	// discards them.
	Log io.Writer

	// VIPHeld and KeepalivedRunning are the node's facts; nil asks the
	// machine (the same checks `redkeep hook state` makes).
	VIPHeld           func() (bool, error)
	KeepalivedRunning func() bool
}

var silenceGoRedis sync.Once

// Collector gathers one node's metrics on each scrape.
type Collector struct {
	o      Options
	client *redis.Client
	// peer is the other node's Redis, asked only by a replica measuring
	// its lag; nil when the config has no other node.
	peer     *redis.Client
	peerNode *config.Node

	mu      sync.Mutex
	lastErr string
}

// New returns the collector of node o.Self.
func New(o Options) (*Collector, error) {
	if o.Cfg == nil || o.Self == nil {
		return nil, errors.New("exporter: no config or node")
	}
	if o.ScrapeTimeout == 0 {
		o.ScrapeTimeout = DefaultScrapeTimeout
	}
	if o.ScrapeTimeout < 0 {
		return nil, fmt.Errorf("exporter: scrape timeout %s: must be positive", o.ScrapeTimeout)
	}
	if o.VIPHeld == nil {
		vip := switchover.TrackFileVIP{VIP: o.Cfg.VIPAddr()}
		o.VIPHeld = vip.Held
	}
	if o.KeepalivedRunning == nil {
		o.KeepalivedRunning = func() bool { return proc.Running("/proc", "keepalived") }
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	// Every call is bounded by the scrape's context as well; no retries,
	// so a frozen server costs one timeout, not several.
	// go-redis would log every failed dial of every scrape; report logs a
	// problem once, when it changes.
	silenceGoRedis.Do(func() { redis.SetLogger(&logging.VoidLogger{}) })
	newClient := func(addr string) *redis.Client {
		return redis.NewClient(&redis.Options{
			Addr:                  addr,
			Username:              o.Cfg.Redis.Username,
			Password:              o.Password,
			DialTimeout:           o.ScrapeTimeout,
			ReadTimeout:           o.ScrapeTimeout,
			WriteTimeout:          o.ScrapeTimeout,
			MaxRetries:            -1,
			DialerRetries:         1,
			PoolSize:              2,
			ContextTimeoutEnabled: true,
		})
	}
	c := &Collector{o: o, client: newClient(o.Self.Redis.Addr)}
	for i := range o.Cfg.Nodes {
		if n := &o.Cfg.Nodes[i]; n.Name != o.Self.Name && n.Redis.PeerAddr != "" {
			c.peerNode, c.peer = n, newClient(n.Redis.PeerAddr)
			break
		}
	}
	return c, nil
}

// Close closes the collector's Redis connections.
func (c *Collector) Close() error {
	if c.peer != nil {
		_ = c.peer.Close()
	}
	return c.client.Close()
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("redkeep_"+name, help, labels, nil)
}

// The metrics. Each scrape reports them all; the registry adds the node
// and pair labels (NewRegistry).
var (
	descUp    = desc("up", "1 when this node's files (keepalived state file, hook counters) could be read; the exporter's log says what failed otherwise.")
	descBuild = desc("build_info", "This redkeep's version and the short sha256 of its executable (what redkeep status and the switchover compare across nodes), always 1.", "version", "sha256", "goversion")

	descKAState   = desc("keepalived_state", "keepalived state last handled by a notify hook on this node (state file): 1 for the current state, 0 for the others; all 0 before the first notify.", "state")
	descKASince   = desc("last_transition_timestamp_seconds", "When the notify hook for the current keepalived state started (the state file's since), Unix time.")
	descNotifyRes = desc("notify_last_result", "Outcome of the last notify hook (state file's last_result): 1 for the current one.", "result")
	descKARunning = desc("keepalived_running", "1 when a keepalived process runs in this node's network namespace.")
	descVIP       = desc("vip_held", "1 when the VIP is on one of this node's interfaces.")
	descDrained   = desc("drained", "1 when keepalived's track file drains this node (a non-zero number in it).")

	descRedisUp     = desc("redis_up", "1 when this node's Redis answered INFO within the scrape timeout.")
	descRole        = desc("redis_role", "Redis role of this node's server: 1 for the current role; all 0 when Redis is down.", "role")
	descLoading     = desc("redis_loading", "1 while Redis loads its data set.")
	descOffset      = desc("redis_repl_offset_bytes", "Redis master_repl_offset: the replication stream position this server has reached.")
	descReplicas    = desc("redis_connected_replicas", "Replicas connected to this server (INFO connected_slaves).")
	descReplicaLag  = desc("redis_replica_lag_bytes", "On a master: bytes of the replication stream a replica has not acknowledged (master_repl_offset minus its offset).", "replica")
	descReplicaAck  = desc("redis_replica_ack_age_seconds", "On a master: seconds since a replica last acknowledged (INFO slaveN lag). Not how old its data is: an idle replica in sync reads up to about 1.", "replica")
	descLinkUp      = desc("redis_master_link_up", "On a replica: 1 when its link to the master is up.")
	descLastIO      = desc("redis_master_last_io_seconds", "On a replica: seconds since it last heard from its master (master_last_io_seconds_ago). Not how far behind it is: it climbs on an idle pair in sync until the master's next replication PING.")
	descLagSecs     = desc("redis_replication_lag_seconds", "On a replica: how old its data is. 0 when it had its master's offset at the scrape, else how long it took to reach the offset the master had then (measured as redkeep status does); when it did not get there within the bound, the bound (a lower bound: see redkeep_redis_replication_lag_known).")
	descLagKnown    = desc("redis_replication_lag_known", "On a replica: 1 when redkeep_redis_replication_lag_seconds was measured to the end, 0 when it is a lower bound.")
	descSyncing     = desc("redis_sync_in_progress", "On a replica: 1 while a full resync from the master runs.")
	descHookRuns    = desc("hook_runs_total", "Runs of the keepalived hooks on this node by kind (check, master, backup, fault, stop) and result (ok, failed, refused, overtaken).", "kind", "result")
	descSwitchovers = desc("switchovers_total", "Planned switchovers run from this node (the old master) by result (ok, failed, refused).", "result")

	descMaintenance   = desc("maintenance_active", "1 while this node is in maintenance mode (redkeep maintenance on, before its deadline): its hooks change no Redis role and its check does not fail.")
	descMaintDeadline = desc("maintenance_deadline_timestamp_seconds", "While this node's maintenance record is on: when it expires by itself, Unix time. It stays after the deadline until maintenance is turned off, so a window that ran over shows (the hooks act again from the deadline on).")
)

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descBuild, descKAState, descKASince, descNotifyRes, descKARunning, descVIP, descDrained,
		descRedisUp, descRole, descLoading, descOffset, descReplicas, descReplicaLag, descReplicaAck, descLinkUp, descLastIO, descLagSecs, descLagKnown, descSyncing,
		descHookRuns, descSwitchovers, descMaintenance, descMaintDeadline} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

type redisResult struct {
	info replication.Info
	err  error
}

// lagMargin is kept free at the end of a scrape's deadline by the lag
// measurement, so a slow peer never costs the local figures.
func lagMargin(timeout time.Duration) time.Duration { return max(100*time.Millisecond, timeout/5) }

// Collect gathers the node's metrics, within the scrape timeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.ScrapeTimeout)
	defer cancel()
	// Redis is the only source that can stall; it is asked while the local
	// files are read, and given up on at the deadline whatever the client
	// does.
	rc := make(chan redisResult, 1)
	lagc := make(chan *nodes.Lag, 1)
	go func() {
		info, err := replication.Fetch(ctx, c.client)
		rc <- redisResult{info, err}
		if err == nil && info.Role == replication.RoleReplica && info.LinkUp {
			lagc <- c.measureLag(ctx, info)
		}
	}()

	var problems []string
	cfg := c.o.Cfg
	gauge(ch, descBuild, 1, c.o.Version, c.o.SHA256, runtime.Version())

	st, haveState, err := hooks.ReadState(cfg.Hooks.StateFile)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, s := range []string{wire.KAMaster, wire.KABackup, wire.KAFault, wire.KAStop} {
		gauge(ch, descKAState, b2f(haveState && st.State == s), s)
	}
	if haveState {
		gauge(ch, descKASince, float64(st.Since.UnixMilli())/1000)
		for _, r := range []string{wire.ResultRunning, wire.ResultOK, wire.ResultRefused, wire.ResultFailed} {
			gauge(ch, descNotifyRes, b2f(st.LastResult == r), r)
		}
	}
	gauge(ch, descKARunning, b2f(c.o.KeepalivedRunning()))
	held, err := c.o.VIPHeld()
	if err != nil {
		problems = append(problems, "VIP: "+err.Error())
	} else {
		gauge(ch, descVIP, b2f(held))
	}
	drained := false
	if b, err := nodefile.Read(cfg.Keepalived.TrackFile); err == nil {
		v := strings.TrimSpace(string(b))
		drained = v != "" && v != "0"
	}
	gauge(ch, descDrained, b2f(drained))

	counts, err := hookstats.Read(hookstats.Path(cfg.Hooks.StateFile))
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		for _, k := range append([]string{hookstats.KindCheck}, hookstats.NotifyKinds...) {
			for _, r := range hookstats.Results(k) {
				ch <- prometheus.MustNewConstMetric(descHookRuns, prometheus.CounterValue, float64(counts[hookstats.Key{Kind: k, Result: r}]), k, r)
			}
		}
		for _, r := range hookstats.Results(hookstats.KindSwitchover) {
			ch <- prometheus.MustNewConstMetric(descSwitchovers, prometheus.CounterValue, float64(counts[hookstats.Key{Kind: hookstats.KindSwitchover, Result: r}]), r)
		}
	}
	m, inMaint, err := hooks.ReadMaintenance(cfg, time.Now())
	if err != nil {
		problems = append(problems, err.Error())
	}
	gauge(ch, descMaintenance, b2f(inMaint))
	if m.On {
		gauge(ch, descMaintDeadline, float64(m.Until.UnixMilli())/1000)
	}
	gauge(ch, descUp, b2f(len(problems) == 0))

	var res redisResult
	select {
	case res = <-rc:
	case <-ctx.Done():
		res.err = fmt.Errorf("INFO on %s: no answer within %s", c.o.Self.Redis.Addr, c.o.ScrapeTimeout)
	}
	if res.err != nil && errors.Is(res.err, context.DeadlineExceeded) {
		res.err = fmt.Errorf("INFO on %s: no answer within %s", c.o.Self.Redis.Addr, c.o.ScrapeTimeout)
	}
	c.redisMetrics(ch, res)
	if res.err == nil && res.info.Role == replication.RoleReplica && res.info.LinkUp {
		select {
		case lag := <-lagc:
			if lag != nil {
				gauge(ch, descLagSecs, lag.Seconds)
				gauge(ch, descLagKnown, b2f(lag.Known))
			}
		case <-ctx.Done():
		}
	}
	if res.err != nil {
		problems = append(problems, "redis: "+res.err.Error())
	}
	c.report(problems)
}

func (c *Collector) redisMetrics(ch chan<- prometheus.Metric, res redisResult) {
	up := res.err == nil
	gauge(ch, descRedisUp, b2f(up))
	in := res.info
	for _, r := range []replication.Role{replication.RoleMaster, replication.RoleReplica} {
		gauge(ch, descRole, b2f(up && in.Role == r), string(r))
	}
	if !up {
		return
	}
	gauge(ch, descLoading, b2f(in.Loading))
	gauge(ch, descOffset, float64(in.MasterReplOffset))
	gauge(ch, descReplicas, float64(in.ConnectedReplicas))
	switch in.Role {
	case replication.RoleMaster:
		seen := map[string]bool{}
		for _, r := range in.Replicas {
			name := c.replicaName(r)
			if seen[name] || len(seen) == maxReplicas {
				continue
			}
			seen[name] = true
			gauge(ch, descReplicaLag, float64(max(0, in.MasterReplOffset-r.Offset)), name)
			gauge(ch, descReplicaAck, float64(r.Lag), name)
		}
	case replication.RoleReplica:
		gauge(ch, descLinkUp, b2f(in.LinkUp))
		gauge(ch, descSyncing, b2f(in.SyncInProgress))
		if in.LastIOSecs >= 0 {
			gauge(ch, descLastIO, float64(in.LastIOSecs))
		}
	}
}

// measureLag measures how old a replica's data is the way the console and
// redkeep status do (nodes.MeasureLag): the master's offset is read from
// the peer, then the local offset until it gets there, within what is
// left of the scrape less lagMargin. nil when it cannot be known (the
// peer does not answer, or is not this replica's master).
func (c *Collector) measureLag(ctx context.Context, local replication.Info) *nodes.Lag {
	if c.peer == nil {
		return nil
	}
	end, _ := ctx.Deadline()
	end = end.Add(-lagMargin(c.o.ScrapeTimeout))
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	master, err := replication.Fetch(ctx, c.peer)
	if err != nil || master.Role != replication.RoleMaster {
		return nil
	}
	bound := min(nodes.CatchUpBound, time.Until(end))
	if bound <= 0 {
		return nil
	}
	snaps := []nodes.Snapshot{
		{Node: c.peerNode.Name, Redis: nodes.Redis{Up: true, Info: master}},
		{Node: c.o.Self.Name, Redis: nodes.Redis{Up: true, Info: local}},
	}
	nodes.MeasureLag(ctx, snaps, bound, func(ctx context.Context, _ string) (replication.Info, error) {
		return replication.FetchRole(ctx, c.client)
	})
	return snaps[1].Redis.Lag
}

// replicaName names a replica by its node when its address is a node's
// (host or redis.peer_addr), else by ip:port as Redis reports it.
func (c *Collector) replicaName(r replication.Replica) string {
	port := strconv.Itoa(r.Port)
	for _, n := range c.o.Cfg.Nodes {
		if n.Name == c.o.Self.Name {
			continue
		}
		host, p, err := net.SplitHostPort(n.Redis.PeerAddr)
		if err == nil && host == r.IP && p == port || n.Host == r.IP {
			return n.Name
		}
	}
	return termsafe.Clean(net.JoinHostPort(r.IP, port))
}

// report logs the scrape's problems when they differ from the last
// scrape's: a Redis down for an hour is one line, not one per scrape.
func (c *Collector) report(problems []string) {
	msg := strings.Join(problems, "; ")
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg == c.lastErr {
		return
	}
	c.lastErr = msg
	if msg == "" {
		fmt.Fprintln(c.o.Log, "redkeep exporter: every source answers again")
		return
	}
	fmt.Fprintln(c.o.Log, "redkeep exporter:", termsafe.Clean(msg))
}

// Labels are the labels every redkeep_ metric of node self carries: its
// node name and its pair, named by the pair's VIP address (what operators
// know a pair by, and unique among the pairs of one network).
func Labels(cfg *config.Config, self *config.Node) prometheus.Labels {
	return prometheus.Labels{"node": self.Name, "pair": cfg.VIPAddr().String()}
}

// NewRegistry returns a private registry (never the global default) with
// c's metrics, labelled with Labels, and the Go and process collectors.
func NewRegistry(c *Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	prometheus.WrapRegistererWith(Labels(c.o.Cfg, c.o.Self), reg).MustRegister(c)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
