// Package configtest writes the config.yaml of a test pair: one builder
// for the tests of every package, so a change to the config's shape is
// made once. Fields left zero are left out, and config's defaults apply.
package configtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Pair is a test pair's config.
type Pair struct {
	// VIP with its prefix length; default 198.51.100.100/24.
	VIP string
	// Nodes a and b; names, hosts, priorities and interfaces default to
	// a/198.51.100.11/150 and b/198.51.100.12/100 on eth0.
	Nodes [2]Node
	// RouterID is keepalived's virtual_router_id; default 51.
	RouterID int
	// TrackFile, StateFile, StateLog and LockFile are the node-local paths
	// of keepalived.track_file and hooks.*.
	TrackFile, StateFile, StateLog, LockFile string
	// EventLog is hooks.event_log (default: beside StateLog).
	EventLog string
	// InKeepalived and InHooks are more lines of the keepalived and hooks
	// sections, each indented by two spaces: "  check: {deadline: 1s}\n".
	InKeepalived, InHooks string
	// Extra is YAML appended as it is (other top-level sections).
	Extra string
}

// Node is one node of a Pair.
type Node struct {
	Name, Host string
	Priority   int
	Interface  string
	// SSH is the node's ssh mapping in flow style: "{port: 22, user: root}".
	SSH string
	// RedisAddr and PeerAddr are redis.addr and redis.peer_addr.
	RedisAddr, PeerAddr string
	// Redkeep and ConfigPath are where the node's redkeep and its config are.
	Redkeep, ConfigPath string
}

// YAML renders the config.
func (p Pair) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vip: %s\nnodes:\n", or(p.VIP, "198.51.100.100/24"))
	defaults := [2]Node{{Name: "a", Host: "198.51.100.11", Priority: 150}, {Name: "b", Host: "198.51.100.12", Priority: 100}}
	for i, n := range p.Nodes {
		fmt.Fprintf(&b, "  - name: %s\n    host: %s\n", or(n.Name, defaults[i].Name), or(n.Host, defaults[i].Host))
		if n.SSH != "" {
			fmt.Fprintf(&b, "    ssh: %s\n", n.SSH)
		}
		if n.RedisAddr != "" || n.PeerAddr != "" {
			var r []string
			if n.RedisAddr != "" {
				r = append(r, fmt.Sprintf("addr: %q", n.RedisAddr))
			}
			if n.PeerAddr != "" {
				r = append(r, fmt.Sprintf("peer_addr: %q", n.PeerAddr))
			}
			fmt.Fprintf(&b, "    redis: {%s}\n", strings.Join(r, ", "))
		}
		prio := n.Priority
		if prio == 0 {
			prio = defaults[i].Priority
		}
		fmt.Fprintf(&b, "    keepalived: {priority: %d, interface: %s}\n", prio, or(n.Interface, "eth0"))
		if n.Redkeep != "" {
			fmt.Fprintf(&b, "    redkeep: %s\n", n.Redkeep)
		}
		if n.ConfigPath != "" {
			fmt.Fprintf(&b, "    config_path: %s\n", n.ConfigPath)
		}
	}
	rid := p.RouterID
	if rid == 0 {
		rid = 51
	}
	fmt.Fprintf(&b, "keepalived:\n  virtual_router_id: %d\n", rid)
	if p.TrackFile != "" {
		fmt.Fprintf(&b, "  track_file: %s\n", p.TrackFile)
	}
	b.WriteString(p.InKeepalived)
	var hooks []string
	for _, kv := range [][2]string{{"state_file", p.StateFile}, {"state_log", p.StateLog}, {"lock_file", p.LockFile}, {"event_log", p.EventLog}} {
		if kv[1] != "" {
			hooks = append(hooks, fmt.Sprintf("  %s: %s\n", kv[0], kv[1]))
		}
	}
	if len(hooks) > 0 || p.InHooks != "" {
		b.WriteString("hooks:\n" + strings.Join(hooks, "") + p.InHooks)
	}
	b.WriteString(p.Extra)
	return b.String()
}

// Write writes the config to dir/name (mode 0644) and returns its path.
func (p Pair) Write(t testing.TB, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(p.YAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Hooks sets the node-local paths to files in dir, as the hooks' tests
// want them: track file, state file, state log and lock.
func (p Pair) Hooks(dir string) Pair {
	p.TrackFile = filepath.Join(dir, "drain")
	p.StateFile = filepath.Join(dir, "state.json")
	p.StateLog = filepath.Join(dir, "redis-state.log")
	p.LockFile = filepath.Join(dir, "hook.lock")
	return p
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
