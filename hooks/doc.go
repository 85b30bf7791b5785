// Package hooks is redkeep on the node: what keepalived runs as root, and
// the few verbs the console runs there over SSH.
//
// keepalived runs two of its entry points and reads a third (the lines
// `redkeep keepalived-conf` renders, see KeepalivedConf):
//
//   - Check, the vrrp_script: exit 0 while this node's Redis is fit to hold
//     the VIP, bounded by a deadline so keepalived never waits on it.
//   - Notify, for every state change (MASTER, BACKUP, FAULT, STOP): it reads
//     both Redis servers, asks Decide for a Plan (pure logic, table-tested in
//     plan_test.go) and runs it with the transition lock held (runner.go),
//     stopping when a newer state has overtaken it.
//   - The track file, which keepalived watches: Drain and Undrain write it,
//     and a planned switchover puts the old master in FAULT through it.
//   - The health track file: Watch (`hook watch`, started by the check
//     through StartWatcher) writes 1 the moment local Redis dies, and only
//     the check writes 0 again (ClearHealth), so a dead Redis fails over
//     without waiting for the next check and a dead watcher changes nothing
//     but the speed.
//
// The console's verbs: ReadNodeState (`hook state`, read-only, fine for an
// unprivileged user) and Resolve, which ends a split brain after saving the
// losing side's data set. The planned switchover's node side is package
// hooks/switchover; what both ends of SSH exchange is package wire.
//
// Everything here keeps the safety rules of docs/safety.md: offsets, never
// sleeps, decide which Redis leads (replication.CaughtUp and friends); a
// node never follows a peer that would wipe its data; one transition at a
// time; every step is logged (Logger, the state file). Running as root, the
// package trusts no file others can change (trust.go) and opens its own
// files without following symlinks or blocking (safefile.go).
package hooks
