// Package events is a node's event journal and its notifications
// (docs/safety.md rule 12): every transition and operator action is one
// JSON line (wire.Event) appended to hooks.event_log, and, when notify is
// configured, handed to a detached deliverer that runs notify.command and
// POSTs notify.webhook off the failover's path.
//
// Callers use one function, Record: it appends and queues, bounded in
// time, and returns an error only for the caller to log; it never fails a
// hook.
//
// Concurrency: several hook processes append at once (a notify, the
// check, a switchover step). Each line is written with one write(2) on an
// O_APPEND descriptor while holding an exclusive flock on path+".lock";
// the lock also serializes rotation (path -> path.1 -> path.2 at
// MaxFileSize), so no line goes into a file being renamed away. Lines are
// capped at wire.MaxEventLine (< PIPE_BUF), but the lock, not O_APPEND
// atomicity, is what this relies on.
//
// Delivery: Record writes the event into a spool directory beside the
// journal (at most MaxSpool files; beyond that it is dropped and counted)
// and starts `redkeep hook deliver` in its own session without waiting for
// it. At most one deliverer runs per node (a non-blocking flock); a second
// one exits at once and leaves the spool to the first, which looks again
// after releasing its lock. Each event is tried once per channel, bounded
// by notify.timeout; failures are logged and counted (DeliveryStats),
// never retried.
package events
