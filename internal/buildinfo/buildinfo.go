// Package buildinfo says which redkeep this is. The console compares it across
// nodes: a switchover runs the same binary on both, so versions must match.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// version is set by -ldflags "-X github.com/redkeep/redkeep/internal/buildinfo.version=v1.2.3".
var version string

var computed = sync.OnceValue(func() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return "devel-" + rev
})

// Version is redkeep's version: the release tag, else the VCS revision it was
// built from ("+dirty" when the tree had changes), else "devel".
func Version() string { return computed() }
