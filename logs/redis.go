package logs

import (
	"strings"
	"time"
)

// Redis log layouts: 3.0 and later write "PID:ROLE DD Mon YYYY HH:MM:SS.mmm L
// msg"; 2.x wrote "[PID] DD Mon HH:MM:SS.mmm L msg" without a year.
const (
	redisTimeLayout   = "02 Jan 2006 15:04:05.000"
	redis26TimeLayout = "02 Jan 15:04:05.000"
)

// parseRedisLine parses a line of redis-server's own log file and reports
// whether it had that layout.
func parseRedisLine(line string, ev *Event, loc *time.Location) bool {
	var pid int
	var rest, layout string
	if strings.HasPrefix(line, "[") {
		end := strings.IndexByte(line, ']')
		if end < 2 {
			return false
		}
		n, ok := atoi(line[1:end])
		if !ok {
			return false
		}
		pid, rest, layout = n, strings.TrimPrefix(line[end+1:], " "), redis26TimeLayout
	} else {
		colon := strings.IndexByte(line, ':')
		if colon < 1 || colon+3 > len(line) || line[colon+2] != ' ' {
			return false
		}
		n, ok := atoi(line[:colon])
		if !ok {
			return false
		}
		switch line[colon+1] {
		case 'M', 'S', 'C', 'X':
		default:
			return false
		}
		pid, rest, layout = n, line[colon+3:], redisTimeLayout
	}
	// Timestamp, a space, the level character, a space, the message.
	if len(rest) < len(layout)+3 || rest[len(layout)] != ' ' || rest[len(layout)+2] != ' ' {
		return false
	}
	t, err := time.ParseInLocation(layout, rest[:len(layout)], loc)
	if err != nil {
		return false
	}
	if layout == redis26TimeLayout {
		t = nearestYear(t, ev.Time)
	}
	level := rest[len(layout)+1]
	switch level {
	case '.', '-', '*', '#':
	default:
		return false
	}
	msg := rest[len(layout)+3:]
	ev.Time, ev.PID, ev.Message = t, pid, msg
	if ev.Program == "" {
		ev.Program = "redis-server"
	}
	if !parseRedisMessage(msg, ev) && level == '#' && strings.HasPrefix(msg, "WARNING") {
		ev.Level = LevelWarn
	}
	return true
}

// redisRule maps the start of a redis-server message to an event.
type redisRule struct {
	prefix string
	kind   Kind
	level  Level
	ok     bool
	state  string // for KindRedisRole and KindDaemon
	// peer, when set, is the text after which the message names host:port.
	peer    string
	summary string
}

// redisRules are checked in order; the first matching prefix wins. Both the
// current wording and the pre-5.0 one ("SLAVE") are listed.
var redisRules = []redisRule{
	{prefix: "MASTER MODE enabled", kind: KindRedisRole, state: "master", summary: "redis is now master"},
	{prefix: "REPLICAOF ", kind: KindRedisRole, state: "replica", peer: "REPLICAOF ", summary: "redis is now a replica of "},
	{prefix: "SLAVE OF ", kind: KindRedisRole, state: "replica", peer: "SLAVE OF ", summary: "redis is now a replica of "},
	{prefix: "Connecting to MASTER ", kind: KindRedisSync, peer: "Connecting to MASTER ", summary: "connecting to master "},
	{prefix: "Reconnecting to MASTER ", kind: KindRedisSync, peer: "Reconnecting to MASTER ", summary: "reconnecting to master "},
	{prefix: "Master replied to PING", kind: KindRedisSync, ok: true, summary: "master answered PING"},
	{prefix: "Successful partial resynchronization", kind: KindRedisSync, ok: true, summary: "partial resync with master succeeded"},
	{prefix: "MASTER <-> REPLICA sync: Master accepted a Partial", kind: KindRedisSync, ok: true, summary: "master accepted a partial resync"},
	{prefix: "MASTER <-> SLAVE sync: Master accepted a Partial", kind: KindRedisSync, ok: true, summary: "master accepted a partial resync"},
	{prefix: "MASTER <-> REPLICA sync: Finished with success", kind: KindRedisSync, ok: true, summary: "sync with master finished"},
	{prefix: "MASTER <-> SLAVE sync: Finished with success", kind: KindRedisSync, ok: true, summary: "sync with master finished"},
	{prefix: "MASTER <-> REPLICA sync: Flushing old data", kind: KindRedisSync, level: LevelWarn, summary: "replica is discarding its data for a full resync"},
	{prefix: "MASTER <-> SLAVE sync: Flushing old data", kind: KindRedisSync, level: LevelWarn, summary: "replica is discarding its data for a full resync"},
	{prefix: "MASTER <-> REPLICA sync started", kind: KindRedisSync, summary: "sync with master started"},
	{prefix: "MASTER <-> SLAVE sync started", kind: KindRedisSync, summary: "sync with master started"},
	{prefix: "Full resync from master", kind: KindRedisSync, summary: "full resync from master"},
	{prefix: "Trying a partial resynchronization", kind: KindRedisSync, summary: "trying a partial resync"},
	{prefix: "Partial resynchronization not possible", kind: KindRedisSync, summary: "partial resync not possible"},
	{prefix: "Connection with master lost", kind: KindRedisSync, level: LevelWarn, summary: "connection with master lost"},
	{prefix: "Connection with replica ", kind: KindRedisSync, level: LevelWarn, peer: "Connection with replica ", summary: "connection lost with replica "},
	{prefix: "Connection with slave ", kind: KindRedisSync, level: LevelWarn, peer: "Connection with slave ", summary: "connection lost with replica "},
	{prefix: "Error condition on socket for SYNC", kind: KindRedisSync, level: LevelError, summary: "sync with master failed"},
	{prefix: "Unable to connect to MASTER", kind: KindRedisSync, level: LevelError, summary: "cannot connect to master"},
	{prefix: "Timeout connecting to the MASTER", kind: KindRedisSync, level: LevelError, summary: "timeout connecting to master"},
	{prefix: "MASTER timeout", kind: KindRedisSync, level: LevelError, summary: "master timed out"},
	{prefix: "Master aborted replication", kind: KindRedisSync, level: LevelError, summary: "master aborted replication"},
	{prefix: "I/O error", kind: KindRedisSync, level: LevelError, summary: "I/O error during sync"},
	{prefix: "Failed trying to load the MASTER synchronization", kind: KindRedisSync, level: LevelError, summary: "loading the master's data failed"},
	{prefix: "Full resync requested by replica ", kind: KindRedisSync, peer: "Full resync requested by replica ", summary: "full resync requested by replica "},
	{prefix: "Replica ", kind: KindRedisSync, peer: "Replica ", summary: "full or partial sync requested by replica "},
	{prefix: "Slave ", kind: KindRedisSync, peer: "Slave ", summary: "full or partial sync requested by replica "},
	{prefix: "Synchronization with replica ", kind: KindRedisSync, ok: true, peer: "Synchronization with replica ", summary: "sync finished with replica "},
	{prefix: "Synchronization with slave ", kind: KindRedisSync, ok: true, peer: "Synchronization with slave ", summary: "sync finished with replica "},
	{prefix: "Partial resynchronization request from ", kind: KindRedisSync, ok: true, peer: "Partial resynchronization request from ", summary: "partial resync accepted for replica "},
	{prefix: "Partial resynchronization not accepted", kind: KindRedisSync, summary: "partial resync refused, replica needs a full sync"},
	{prefix: "Setting secondary replication ID", kind: KindRedisSync, summary: "new replication ID, old history kept"},
	{prefix: "Master replication ID changed", kind: KindRedisSync, summary: "master's replication ID changed"},
	{prefix: "FAILOVER requested to ", kind: KindRedisSync, peer: "FAILOVER requested to ", summary: "FAILOVER requested to "},
	{prefix: "Failover target ", kind: KindRedisSync, ok: true, peer: "Failover target ", summary: "failover target in sync: "},
	{prefix: "Failover request received", kind: KindRedisSync, summary: "failover request received from master"},
	{prefix: "FAILOVER to ", kind: KindRedisSync, level: LevelError, peer: "FAILOVER to ", summary: "FAILOVER failed: "},
	{prefix: "Redis is starting", kind: KindDaemon, state: "start", summary: "redis-server starting"},
	{prefix: "oO0OoO0OoO0Oo Redis is starting", kind: KindDaemon, state: "start", summary: "redis-server starting"},
	{prefix: "Ready to accept connections", kind: KindDaemon, state: "start", ok: true, summary: "redis-server ready"},
	{prefix: "User requested shutdown", kind: KindDaemon, state: "stop", level: LevelWarn, summary: "redis-server shutting down"},
	{prefix: "Received SIGTERM", kind: KindDaemon, state: "stop", level: LevelWarn, summary: "redis-server shutting down (SIGTERM)"},
	{prefix: "Received SIGINT", kind: KindDaemon, state: "stop", level: LevelWarn, summary: "redis-server shutting down (SIGINT)"},
	{prefix: "Redis is now ready to exit", kind: KindDaemon, state: "stop", level: LevelWarn, summary: "redis-server exited"},
}

// parseRedisMessage recognises a redis-server message (without any prefix).
func parseRedisMessage(msg string, ev *Event) bool {
	for i := range redisRules {
		r := &redisRules[i]
		if !strings.HasPrefix(msg, r.prefix) {
			continue
		}
		ev.Kind, ev.Level, ev.OK = r.kind, r.level, r.ok
		if r.state != "" {
			ev.State = r.state
		}
		ev.Message = r.summary
		if r.peer != "" {
			peer := hostPort(msg[len(r.peer):])
			if peer == "" {
				// "Replica ..." and "Slave ..." are common words: without an
				// address this is not the line we meant.
				ev.Kind, ev.Level, ev.OK, ev.State, ev.Message = KindRaw, LevelInfo, false, "", msg
				return false
			}
			ev.Peer = peer
			ev.Message += peer
		}
		if ev.Program == "" {
			ev.Program = "redis-server"
		}
		return true
	}
	return false
}

// hostPort returns the host:port at the start of s ("1.2.3.4:6379 enabled",
// "[::1]:6379.", "redis-b:6379"), or "" when s does not start with one.
func hostPort(s string) string {
	end := strings.IndexAny(s, " ,'")
	if end < 0 {
		end = len(s)
	}
	hp := strings.TrimSuffix(s[:end], ".")
	colon := strings.LastIndexByte(hp, ':')
	if colon < 1 {
		return ""
	}
	if _, ok := atoi(hp[colon+1:]); !ok {
		return ""
	}
	return hp
}
