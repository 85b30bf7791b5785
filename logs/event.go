// Package logs follows log sources on nodes (over SSH) and locally (fsnotify)
// and parses their lines into typed events: keepalived, redis-server, and
// redkeep's redis-state log.
package logs

import "time"

// Source names where a line came from.
type Source string

// Sources.
const (
	SourceSyslog  Source = "syslog"
	SourceState   Source = "redis-state"
	SourceJournal Source = "journal"
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
)

// Level is how much an event matters to an operator.
type Level int

// Levels.
const (
	LevelInfo Level = iota
	LevelWarn
	LevelError
)

// Event is one log line, parsed.
type Event struct {
	Node   string
	Source Source
	// Time is the line's own timestamp when it has one, else when it was read.
	Time  time.Time
	Kind  Kind
	Level Level

	Instance string // keepalived instance, for transitions
	State    string // MASTER, BACKUP, FAULT, STOP for transitions; the role for hook lines
	OK       bool   // for KindScript
	Priority int    // for KindPriority
	PID      int    // for hook lines

	Message string // human summary
	Raw     string // the line as read
}
