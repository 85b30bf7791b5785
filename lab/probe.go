package lab

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redkeep/redkeep/internal/loadcheck"
)

// RedisView is what the lab sees of one node's Redis from the root namespace.
type RedisView struct {
	Up         bool   `json:"up"`
	Err        string `json:"error,omitempty"`
	Role       string `json:"role,omitempty"` // master or replica
	MasterHost string `json:"master_host,omitempty"`
	LinkUp     bool   `json:"link_up,omitempty"`
	Syncing    bool   `json:"syncing,omitempty"`
	Offset     int64  `json:"offset"`
	Keys       int64  `json:"keys"`
}

// newRedis returns a client for a lab Redis that fails fast: the lab polls,
// it never waits on one server.
func newRedis(addr string) *redis.Client {
	loadcheck.QuietRedisLog()
	return redis.NewClient(&redis.Options{
		Addr:            addr,
		Protocol:        2,
		DialTimeout:     300 * time.Millisecond,
		ReadTimeout:     500 * time.Millisecond,
		WriteTimeout:    500 * time.Millisecond,
		MaxRetries:      -1,
		DialerRetries:   1,
		PoolSize:        1,
		DisableIdentity: true,
	})
}

// probeRedis reads INFO replication and keyspace from addr.
func probeRedis(ctx context.Context, addr string) RedisView {
	c := newRedis(addr)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	text, err := c.Info(ctx, "replication", "keyspace").Result()
	if err != nil {
		return RedisView{Err: err.Error()}
	}
	return parseInfo(text)
}

// parseInfo reads the few INFO fields the lab needs to judge a pair.
func parseInfo(text string) RedisView {
	v := RedisView{Up: true}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, val, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch {
		case k == "role":
			v.Role = val
			if val == "slave" {
				v.Role = "replica"
			}
		case k == "master_host":
			v.MasterHost = val
		case k == "master_link_status":
			v.LinkUp = val == "up"
		case k == "master_sync_in_progress":
			v.Syncing = val == "1"
		case k == "master_repl_offset":
			v.Offset, _ = strconv.ParseInt(val, 10, 64)
		case strings.HasPrefix(k, "db"):
			// db0:keys=1,expires=0,avg_ttl=0
			for _, f := range strings.Split(val, ",") {
				if n, ok := strings.CutPrefix(f, "keys="); ok {
					c, _ := strconv.ParseInt(n, 10, 64)
					v.Keys += c
				}
			}
		}
	}
	return v
}

// vrrpState returns the last keepalived state node's syslog reports for the
// instance ("MASTER", "BACKUP", "FAULT", or "" if none yet) from lines like
// "... Keepalived_vrrp[7]: (VI_REDIS) Entering MASTER STATE".
func vrrpState(syslog string) string {
	f, err := os.Open(syslog)
	if err != nil {
		return ""
	}
	defer f.Close()
	state := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "Keepalived_vrrp[") {
			continue
		}
		if _, rest, ok := strings.Cut(line, ") Entering "); ok {
			if st, _, ok := strings.Cut(rest, " STATE"); ok {
				state = st
			}
		}
	}
	return state
}

func redisAddr(host fmt.Stringer) string {
	return net.JoinHostPort(host.String(), strconv.Itoa(RedisPort))
}
