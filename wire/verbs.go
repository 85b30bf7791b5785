package wire

import "strings"

// RootVerbs are the `redkeep hook` verbs the console runs on a node with
// root's rights: they take locks, change Redis roles, write the
// maintenance file or replace a dataset. An SSH user other than root runs
// them through `sudo -n`, which deploy's sudoers drop-in allows for these
// and nothing else. Every other verb the console runs (state, history,
// maintenance status) only reads, as the SSH user.
var RootVerbs = []string{"switchover-lock", "switchover-run", "maintenance on", "maintenance off", "resolve-follow"}

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
