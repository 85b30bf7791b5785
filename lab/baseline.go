package lab

import (
	"fmt"
	"os"
	"path/filepath"
)

// The baseline is the origin document's setup, rewritten by us from its
// description (docs/origin.md), so that `redkeep lab bench` can
// measure what redkeep improves: both nodes BACKUP, a with priority 200 and
// nopreempt, b with 190, advert_int 5, a PING check every 2 s with weight -20,
// and notify scripts that SLAVEOF and sleep for fixed times.
//
// One deliberate fix: the article's check test `[“$ALIVE” == “PONG”]` has no
// spaces inside the brackets and typographic quotes, so it can never succeed
// and the baseline would never become healthy. We write `[ "$ALIVE" == "PONG" ]`.

var baselinePriority = map[string]int{"a": 200, "b": 190}

// writeBaseline writes node n's baseline scripts and returns its keepalived.conf.
func (s *Settings) writeBaseline(n string) (string, error) {
	peer := "b"
	if n == "b" {
		peer = "a"
	}
	view := s.NodeView()
	head := fmt.Sprintf(`#!/bin/bash
# The origin document's script, as described in its summary (redkeep lab baseline).
REDISCLI="redis-cli -h 127.0.0.1 -p %d"
LOGFILE="%s/redis-state.log"
log() { echo "$(date +%%F:%%T)|$$|state:$1" >> "$LOGFILE"; }
`, RedisPort, view)
	scripts := map[string]string{
		"redis_check.sh": `#!/bin/bash
# Fixed from the article: [“$ALIVE” == “PONG”] could never succeed.
ALIVE=$(redis-cli -h 127.0.0.1 -p ` + fmt.Sprint(RedisPort) + ` PING)
if [ "$ALIVE" == "PONG" ]; then
  echo $ALIVE
  exit 0
else
  echo $ALIVE
  exit 1
fi
`,
		"redis_master.sh": head + fmt.Sprintf(`log "[master] Being master...."
log "[master] Run SLAVEOF cmd ..."
$REDISCLI SLAVEOF %[1]s %[2]d >> "$LOGFILE" 2>&1
sleep 10 # the article's delay "to sync data from the old master"
log "[master] Run SLAVEOF NO ONE cmd ..."
$REDISCLI SLAVEOF NO ONE >> "$LOGFILE" 2>&1
`, s.NodeAddr(peer), RedisPort),
		"redis_backup.sh": head + fmt.Sprintf(`log "[backup] Being slave...."
sleep 15 # the article's delay "for the old master to finish"
log "[backup] Run SLAVEOF cmd ..."
$REDISCLI SLAVEOF %[1]s %[2]d >> "$LOGFILE" 2>&1
`, s.NodeAddr(peer), RedisPort),
		"redis_fault.sh": head + fmt.Sprintf(`log "[fault]"
sleep 10
$REDISCLI SLAVEOF %[1]s %[2]d >> "$LOGFILE" 2>&1
`, s.NodeAddr(peer), RedisPort),
		"redis_stop.sh": head + fmt.Sprintf(`log "[stop]"
sleep 10
$REDISCLI SLAVEOF %[1]s %[2]d >> "$LOGFILE" 2>&1
`, s.NodeAddr(peer), RedisPort),
	}
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(s.NodeDir(n), name), []byte(text), 0o755); err != nil {
			return "", err
		}
	}
	nopreempt := ""
	if n == "a" {
		nopreempt = "    nopreempt\n"
	}
	return fmt.Sprintf(`# Baseline keepalived.conf for node %[1]s: the origin document's setup.
global_defs {
    router_id redis_%[1]s
    enable_script_security
    script_user root
}

vrrp_script chk_redis {
    script "%[2]s/redis_check.sh"
    interval 2
    timeout 2
    weight -20
}

vrrp_instance VI_REDIS {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority %[3]d
%[4]s    advert_int 5
    authentication {
        auth_type PASS
        auth_pass redis
    }
    virtual_ipaddress {
        %[5]s/%[6]d dev eth0
    }
    track_script {
        chk_redis
    }
    notify_master %[2]s/redis_master.sh
    notify_backup %[2]s/redis_backup.sh
    notify_fault  %[2]s/redis_fault.sh
    notify_stop   %[2]s/redis_stop.sh
}
`, n, view, baselinePriority[n], nopreempt, s.VIP(), s.Subnet.Bits()), nil
}
