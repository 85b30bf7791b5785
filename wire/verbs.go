package wire

import "strings"

// RootVerbs are the `redkeep hook` verbs the console runs on a node with
// root's rights: they take locks, change Redis roles, write the
// maintenance file or replace a dataset; history reads the event journal,
// which hooks running under keepalived (umask 077) create root-only, and
// which holds operators' reasons. An SSH user other than root runs them
// through `sudo -n`, which deploy's sudoers drop-in allows for these and
// nothing else. The verbs the console polls (state, maintenance status)
// read world-readable files as the SSH user: a sudo every poll would
// write its lines to the node's auth log every few seconds.
var RootVerbs = []string{"switchover-lock", "switchover-run", "maintenance on", "maintenance off", "resolve-follow", "history"}

// NeedsRoot reports whether the redkeep arguments args ("hook",
// "maintenance", "on", ...) start with one of RootVerbs.
func NeedsRoot(args []string) bool {
	if len(args) < 2 || args[0] != "hook" {
		return false
	}
	for _, v := range RootVerbs {
		words := strings.Fields(v)
		if len(args)-1 >= len(words) && strings.Join(args[1:1+len(words)], " ") == v {
			return true
		}
	}
	return false
}
