package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)

// validator collects located errors while checking a decoded config.
type validator struct {
	file string
	root *yaml.Node
	errs Errors
}

// fail records msg for the field at path (keys and slice indexes).
func (v *validator) fail(msg string, path ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: lineOf(v.root, path...), Field: fieldName(path), Msg: msg})
}

func fieldName(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", p)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// lineOf finds the line of the deepest existing node on path, so a missing
// field is reported at its parent.
func lineOf(root *yaml.Node, path ...any) int {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	for _, p := range path {
		if n == nil {
			break
		}
		var next *yaml.Node
		switch p := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
						line = n.Content[i].Line
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && p < len(n.Content) {
				next = n.Content[p]
				line = next.Line
			}
		}
		n = next
	}
	return line
}

func (c *Config) validate(root *yaml.Node) Errors {
	v := &validator{file: c.Path, root: root}

	vip, vipErr := netip.ParsePrefix(c.VIP)
	switch {
	case c.VIP == "":
		v.fail("required: the virtual IP in CIDR form, e.g. 198.51.100.100/24", "vip")
	case vipErr != nil:
		v.fail(fmt.Sprintf("%q is not an address in CIDR form (e.g. 198.51.100.100/24)", c.VIP), "vip")
	}

	if len(c.Nodes) != 2 {
		v.fail(fmt.Sprintf("a pair has exactly two nodes, found %d", len(c.Nodes)), "nodes")
	}
	seen := map[string]int{}
	hosts := map[string]int{}
	prios := map[int]int{}
	for i, n := range c.Nodes {
		switch {
		case n.Name == "":
			v.fail("required: a short node name (lowercase letters, digits, '-')", "nodes", i, "name")
		case !nameRE.MatchString(n.Name):
			v.fail(fmt.Sprintf("%q is not a valid node name (lowercase letters, digits, '-', at most 31)", n.Name), "nodes", i, "name")
		default:
			if j, dup := seen[n.Name]; dup {
				v.fail(fmt.Sprintf("duplicate node name %q (also nodes[%d])", n.Name, j), "nodes", i, "name")
			}
			seen[n.Name] = i
		}
		host, hostErr := netip.ParseAddr(n.Host)
		switch {
		case n.Host == "":
			v.fail("required: the node's IP address on the pair's network", "nodes", i, "host")
		case hostErr != nil:
			v.fail(fmt.Sprintf("%q is not an IP address (keepalived and replication need one; put a DNS name or ssh alias in ssh.host)", n.Host), "nodes", i, "host")
		default:
			if j, dup := hosts[n.Host]; dup {
				v.fail(fmt.Sprintf("duplicate host %s (also nodes[%d])", n.Host, j), "nodes", i, "host")
			}
			hosts[n.Host] = i
			if vipErr == nil {
				if !vip.Contains(host) {
					v.fail(fmt.Sprintf("host %s is outside the VIP's subnet %s", n.Host, vip.Masked()), "nodes", i, "host")
				}
				if host == vip.Addr() {
					v.fail(fmt.Sprintf("host %s is the VIP itself", n.Host), "nodes", i, "host")
				}
			}
		}
		if n.SSH.Port < 0 || n.SSH.Port > 65535 {
			v.fail(fmt.Sprintf("port %d is out of range 1-65535", n.SSH.Port), "nodes", i, "ssh", "port")
		}
		checkAddr(v, n.Redis.Addr, "nodes", i, "redis", "addr")
		checkAddr(v, n.Redis.PeerAddr, "nodes", i, "redis", "peer_addr")
		p := n.Keepalived.Priority
		switch {
		case p == 0:
			v.fail("required: keepalived priority 1-254, different on each node", "nodes", i, "keepalived", "priority")
		case p < 1 || p > 254:
			v.fail(fmt.Sprintf("priority %d is out of range 1-254", p), "nodes", i, "keepalived", "priority")
		default:
			if j, dup := prios[p]; dup {
				v.fail(fmt.Sprintf("priority %d equals nodes[%d]'s; give the preferred master the higher one", p, j), "nodes", i, "keepalived", "priority")
			}
			prios[p] = i
		}
		if n.Keepalived.Interface == "" {
			v.fail("required: the network interface that carries the VIP, e.g. eth0", "nodes", i, "keepalived", "interface")
		}
	}

	k := c.Keepalived
	if k.VirtualRouterID < 1 || k.VirtualRouterID > 255 {
		v.fail(fmt.Sprintf("virtual_router_id must be 1-255 and unique on the network, got %d", k.VirtualRouterID), "keepalived", "virtual_router_id")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_.-]+$`).MatchString(k.Instance) {
		v.fail(fmt.Sprintf("%q is not a valid vrrp_instance name", k.Instance), "keepalived", "instance")
	}
	if k.AdvertInt < 10*time.Millisecond || k.AdvertInt > 255*time.Second {
		v.fail(fmt.Sprintf("advert_int %s is out of range 10ms-255s", k.AdvertInt), "keepalived", "advert_int")
	}
	if k.Check.Interval < time.Second || k.Check.Interval%time.Second != 0 {
		v.fail(fmt.Sprintf("check interval %s must be whole seconds, at least 1s (keepalived's unit)", k.Check.Interval), "keepalived", "check", "interval")
	}
	if k.Check.Fall < 1 {
		v.fail("fall must be at least 1", "keepalived", "check", "fall")
	}
	if k.Check.Rise < 1 {
		v.fail("rise must be at least 1", "keepalived", "check", "rise")
	}
	if k.Check.Deadline <= 0 || k.Check.Deadline >= k.Check.Interval {
		v.fail(fmt.Sprintf("deadline %s must be positive and shorter than the check interval %s", k.Check.Deadline, k.Check.Interval), "keepalived", "check", "deadline")
	}
	if !strings.HasPrefix(k.TrackFile, "/") {
		v.fail(fmt.Sprintf("%q must be an absolute path", k.TrackFile), "keepalived", "track_file")
	}

	r := c.Redis
	if r.PasswordFile != "" && r.PasswordEnv != "" {
		v.fail("set password_file or password_env, not both", "redis")
	}

	for _, f := range []struct {
		val  string
		name string
	}{{c.Hooks.StateFile, "state_file"}, {c.Hooks.StateLog, "state_log"}, {c.Hooks.LockFile, "lock_file"}} {
		if !strings.HasPrefix(f.val, "/") {
			v.fail(fmt.Sprintf("%q must be an absolute path", f.val), "hooks", f.name)
		}
	}
	if c.Hooks.SyncTimeout < 0 {
		v.fail("must not be negative", "hooks", "sync_timeout")
	}
	if c.Hooks.RedisTimeout < 0 {
		v.fail("must not be negative", "hooks", "redis_timeout")
	}
	if c.Hooks.RedisTimeout >= k.Check.Deadline && k.Check.Deadline > 0 {
		v.fail(fmt.Sprintf("redis_timeout %s must be shorter than the check deadline %s", c.Hooks.RedisTimeout, k.Check.Deadline), "hooks", "redis_timeout")
	}
	if c.Switchover.MaxLag < 0 {
		v.fail("must not be negative", "switchover", "max_lag")
	}
	if c.Switchover.Timeout < 0 {
		v.fail("must not be negative", "switchover", "timeout")
	}
	if c.Console.PollInterval < 50*time.Millisecond {
		v.fail(fmt.Sprintf("poll_interval %s is below 50ms", c.Console.PollInterval), "console", "poll_interval")
	}
	return v.errs
}

func checkAddr(v *validator, addr string, path ...any) {
	if addr == "" {
		v.fail("required: host:port", path...)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		v.fail(fmt.Sprintf("%q is not host:port", addr), path...)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.fail(fmt.Sprintf("%q has a bad port (1-65535)", addr), path...)
	}
}
