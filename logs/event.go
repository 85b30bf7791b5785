// Package logs follows log sources on nodes (over SSH) and locally (fsnotify)
// and parses their lines into typed events: keepalived, redis-server, and
// redkeep's redis-state log.
//
// Parser turns one line into an Event and never fails: what it does not
// understand passes through as KindRaw. Followers deliver lines: File (a
// local file, like tail -F, with fsnotify), RemoteFile (tail -F on a node
// through a Streamer such as nodes.Conn) and Journal (journalctl -f -o
// json). Pump joins a follower and a parser; NodeTails and FollowAll build
// and run what the console follows on each node.
//
// Memory is bounded everywhere: lines are capped (MaxLine), each follower
// holds one read buffer and one partial line, and every hand-over is a
// blocking send on a bounded channel, so a slow consumer slows the reading
// (backpressure) instead of growing a queue.
package logs

import (
	"strconv"
	"time"
)

// Source names where a line came from.
type Source string

// Sources.
const (
	SourceSyslog  Source = "syslog"
	SourceState   Source = "redis-state"
	SourceJournal Source = "journal"
	// SourceRedis is redis-server's own log file (its logfile setting).
	SourceRedis Source = "redis-log"
)

// Kind is what a parsed line means.
type Kind string

// Kinds of events.
const (
	KindRaw        Kind = "raw"        // not understood; Message is the line
	KindTransition Kind = "transition" // keepalived entered State
	KindScript     Kind = "script"     // vrrp_script result (OK true/false)
	KindPriority   Kind = "priority"   // effective priority changed
	KindRedisRole  Kind = "redis-role" // redis-server changed role
	KindRedisSync  Kind = "redis-sync" // redis-server sync progress
	KindHook       Kind = "hook"       // a redkeep hook step (redis-state log)
	KindDaemon     Kind = "daemon"     // keepalived or redis-server started or stopped
	KindNotice     Kind = "notice"     // from the follower itself: rotation, reconnect, gap
)

// Level is how much an event matters to an operator.
type Level int

// Levels.
const (
	LevelInfo Level = iota
	LevelWarn
	LevelError
)

// String names the level as the console shows it.
func (l Level) String() string {
	switch l {
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Event is one log line, parsed.
type Event struct {
	Node   string
	Source Source
	// Time is the line's own timestamp when it has one, else when it was read.
	Time  time.Time
	Kind  Kind
	Level Level

	// Host and Program come from the syslog or journald header, when the
	// line has one.
	Host    string
	Program string

	Instance string // keepalived instance, for transitions and priority changes
	// State is MASTER, BACKUP, FAULT or STOP for transitions; "master" or
	// "replica" for KindRedisRole; the bracketed role for hook lines;
	// "start" or "stop" for KindDaemon.
	State       string
	Script      string // vrrp_script name, for KindScript
	OK          bool   // for KindScript and KindRedisSync (a step that succeeded)
	Priority    int    // new effective priority, for KindPriority
	OldPriority int    // previous effective priority, for KindPriority
	Peer        string // host:port of the master or replica a Redis line names
	PID         int    // the writing process, when the line says

	Message string // human summary
	Raw     string // the line as read
}
