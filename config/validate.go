package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Bounds on the config's values. The hooks run as root under keepalived, and
// values end up in keepalived.conf and in shell commands on the nodes: each
// is held to a pattern that cannot break out of its token there.
const (
	// MaxValueLen bounds any string in the config (PATH_MAX).
	MaxValueLen = 4096
	// maxNameLen bounds names: the VRRP instance, a Redis user, an
	// environment variable, a systemd unit.
	maxNameLen = 255
)

// The name patterns below are what `^[first][rest]{0,max-1}$` would match.
// As regexps, their counted repetitions cost every redkeep process (a hook
// check runs every second) 5 ms and 14,000 allocations at start.
var (
	nameRE = namePattern("a-z0-9", "a-z0-9-", 31)
	// ifNameRE is what the kernel allows in an interface name (1-15 bytes,
	// no '/', ':' or whitespace, not "." or "..") narrowed to characters no
	// parser treats specially.
	ifNameRE = namePattern("A-Za-z0-9_", "A-Za-z0-9_.-", 15)
	// userRE is a POSIX portable user name, at most 32 (useradd's limit).
	userRE     = namePattern("A-Za-z0-9_.", "A-Za-z0-9_.-", 32)
	instanceRE = namePattern("A-Za-z0-9_", "A-Za-z0-9_.-", 255)
	// hostRE is a DNS name or an ~/.ssh/config alias (253: a DNS name's limit).
	hostRE = namePattern("A-Za-z0-9_", "A-Za-z0-9_.-", 253)
	envRE  = namePattern("A-Za-z_", "A-Za-z0-9_", 255)
	unitRE = namePattern("A-Za-z0-9:_.@-", "A-Za-z0-9:_.@-", 255)
)

// pattern is a name of 1 to max ASCII bytes: the first from one set, the
// rest from another.
type pattern struct {
	first, rest [128]bool
	max         int
}

// namePattern builds a pattern from two sets written as in a regexp's
// brackets: ranges like a-z, and a '-' at the end for itself.
func namePattern(first, rest string, max int) *pattern {
	p := &pattern{max: max}
	p.first, p.rest = charSet(first), charSet(rest)
	return p
}

func charSet(spec string) [128]bool {
	var set [128]bool
	for i := 0; i < len(spec); i++ {
		if i+2 < len(spec) && spec[i+1] == '-' {
			for c := spec[i]; c <= spec[i+2]; c++ {
				set[c] = true
			}
			i += 2
			continue
		}
		set[spec[i]] = true
	}
	return set
}

// MatchString reports whether s is such a name.
func (p *pattern) MatchString(s string) bool {
	if len(s) == 0 || len(s) > p.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		set := &p.rest
		if i == 0 {
			set = &p.first
		}
		if s[i] >= 128 || !set[s[i]] {
			return false
		}
	}
	return true
}

// validator collects located errors while checking a decoded config.
type validator struct {
	file string
	root *yaml.Node
	errs Errors
	// bad holds the fields already refused for their characters or length:
	// one error per field is enough, and no other check sees such a value.
	bad map[string]bool
}

// fail records msg for the field at path (keys and slice indexes).
func (v *validator) fail(msg string, path ...any) {
	field := fieldName(path)
	if v.bad[field] {
		return
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: lineOf(v.root, path...), Field: field, Msg: msg})
}

// checkStrings refuses, in every string of the config whatever its field,
// anything that is not printable UTF-8 (control characters included) and
// anything longer than MaxValueLen. val is walked by its yaml tags.
func (v *validator) checkStrings(val reflect.Value, path []any) {
	switch val.Kind() {
	case reflect.Struct:
		t := val.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			v.checkStrings(val.Field(i), append(path[:len(path):len(path)], tag))
		}
	case reflect.Slice:
		for i := range val.Len() {
			v.checkStrings(val.Index(i), append(path[:len(path):len(path)], i))
		}
	case reflect.String:
		if msg := unprintable(val.String()); msg != "" {
			v.fail(msg, path...)
			v.bad[fieldName(path)] = true
		}
	}
}

// unprintable says what is wrong with s as a config value, "" if nothing.
func unprintable(s string) string {
	if len(s) > MaxValueLen {
		return fmt.Sprintf("%s is %d bytes long, at most %d", show(s), len(s), MaxValueLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Sprintf("%s is not valid UTF-8", show(s))
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Sprintf("contains control character U+%04X", r)
		case !unicode.IsPrint(r):
			return fmt.Sprintf("contains non-printable character U+%04X", r)
		}
	}
	return ""
}

// show quotes a value for an error message, shortened: a message is one line
// of reasonable length whatever the value.
func show(s string) string {
	const maxShown = 64
	if len(s) > maxShown {
		for i := range s {
			if i > maxShown-3 {
				return strconv.Quote(s[:i]) + "..."
			}
		}
	}
	return strconv.Quote(s)
}

// absPath requires p to be an absolute path that keepalived.conf and the
// shell commands run on the nodes can quote as one token: no whitespace,
// quotes, '$' or backslashes (control characters are refused for every
// value).
func (v *validator) absPath(p string, path ...any) {
	switch {
	case !strings.HasPrefix(p, "/"):
		v.fail(fmt.Sprintf("%s must be an absolute path", show(p)), path...)
	case strings.IndexFunc(p, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("'\"`\\$", r) }) >= 0:
		v.fail(fmt.Sprintf("%s must be an absolute path without whitespace, quotes, '$' or backslashes", show(p)), path...)
	}
}

// validHost accepts an IP address (a zone only if it is an interface name),
// a DNS name or an ~/.ssh/config alias.
func validHost(h string) bool {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == "" || ifNameRE.MatchString(a.Zone())
	}
	return hostRE.MatchString(h)
}

func (v *validator) match(re *pattern, s, what string, path ...any) {
	if !re.MatchString(s) {
		v.fail(fmt.Sprintf("%s is not %s", show(s), what), path...)
	}
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

func nodeCountMsg(n int) string { return fmt.Sprintf("a pair has exactly two nodes, found %d", n) }

// maxKeys bounds a mapping's keys: the schema's largest has 8, and yaml.v3
// checks a mapping's keys for duplicates pairwise (100,000 unknown keys,
// which fit in the file, took a minute to refuse). maxItems bounds a list
// (identity_files; nodes has its own bound, a pair).
const (
	maxKeys  = 64
	maxItems = 64
)

// checkShape refuses, before the document is decoded, what would make
// decoding it costly: an oversized mapping or list, and a node list longer
// than a pair (200,000 nodes fit in the file), which is refused by its length
// alone rather than node by node.
func checkShape(root *yaml.Node, file string) Errors {
	var errs Errors
	// line is where the value at path is named: its key's line.
	var walk func(n *yaml.Node, path []any, line int)
	walk = func(n *yaml.Node, path []any, line int) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			if limit := listLimit(path); n.Kind == yaml.SequenceNode && len(n.Content) > limit {
				errs = append(errs, &Error{File: file, Line: line, Field: fieldName(path), Msg: fmt.Sprintf("%d items in one list, at most %d", len(n.Content), limit)})
				return
			}
			for i, c := range n.Content {
				if n.Kind == yaml.SequenceNode {
					walk(c, append(path[:len(path):len(path)], i), c.Line)
				} else {
					walk(c, path, c.Line)
				}
			}
		case yaml.MappingNode:
			if k := len(n.Content) / 2; k > maxKeys {
				errs = append(errs, &Error{File: file, Line: line, Field: fieldName(path), Msg: fmt.Sprintf("%d keys in one mapping, at most %d", k, maxKeys)})
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i], n.Content[i+1]
				p := append(path[:len(path):len(path)], key.Value)
				if isPairRoot(path) && key.Value == "nodes" {
					list := val
					if list.Kind == yaml.AliasNode && list.Alias != nil {
						list = list.Alias
					}
					if list.Kind == yaml.SequenceNode && len(list.Content) > 2 {
						errs = append(errs, &Error{File: file, Line: key.Line, Field: fieldName(p), Msg: nodeCountMsg(len(list.Content))})
						continue
					}
				}
				walk(val, p, key.Line)
			}
		}
	}
	walk(root, nil, root.Line)
	return errs
}

// isPairRoot tells whether path is where a pair's fields are: the top
// level of a pair file, or an item of a pairs list.
func isPairRoot(path []any) bool {
	if len(path) == 0 {
		return true
	}
	if len(path) == 2 && path[0] == "pairs" {
		_, ok := path[1].(int)
		return ok
	}
	return false
}

// listLimit bounds the list at path: MaxPairs for a pairs list, maxItems
// for any other.
func listLimit(path []any) int {
	if len(path) == 1 && path[0] == "pairs" {
		return MaxPairs
	}
	return maxItems
}

func (c *Config) validate(root *yaml.Node) Errors {
	v := &validator{file: c.Path, root: root, bad: map[string]bool{}}
	v.checkStrings(reflect.ValueOf(c).Elem(), nil)

	vip, vipErr := netip.ParsePrefix(c.VIP)
	switch {
	case c.VIP == "":
		v.fail("required: the virtual IP in CIDR form, e.g. 198.51.100.100/24", "vip")
	case vipErr != nil:
		v.fail(fmt.Sprintf("%q is not an address in CIDR form (e.g. 198.51.100.100/24)", c.VIP), "vip")
	}

	if len(c.Nodes) != 2 {
		v.fail(nodeCountMsg(len(c.Nodes)), "nodes")
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
			v.fail(fmt.Sprintf("%s is not an IP address (keepalived and replication need one; put a DNS name or ssh alias in ssh.host)", show(n.Host)), "nodes", i, "host")
		case host.Zone() != "":
			v.fail(fmt.Sprintf("%s has an IPv6 zone; write the address alone (the interface is keepalived.interface)", show(n.Host)), "nodes", i, "host")
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
		if n.SSH.Host != "" && !validHost(n.SSH.Host) {
			v.fail(fmt.Sprintf("%s is not a host name, address or ~/.ssh/config alias", show(n.SSH.Host)), "nodes", i, "ssh", "host")
		}
		if n.SSH.User != "" {
			v.match(userRE, n.SSH.User, "a user name (letters, digits, '.', '_', '-', not starting with '-', at most 32)", "nodes", i, "ssh", "user")
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
		} else {
			v.match(ifNameRE, n.Keepalived.Interface, "a network interface name (letters, digits, '.', '_', '-', at most 15)", "nodes", i, "keepalived", "interface")
		}
		v.absPath(n.Redkeep, "nodes", i, "redkeep")
		v.absPath(n.ConfigPath, "nodes", i, "config_path")
	}

	k := c.Keepalived
	if k.VirtualRouterID < 1 || k.VirtualRouterID > 255 {
		v.fail(fmt.Sprintf("virtual_router_id must be 1-255 and unique on the network, got %d", k.VirtualRouterID), "keepalived", "virtual_router_id")
	}
	v.match(instanceRE, k.Instance, "a vrrp_instance name (letters, digits, '.', '_', '-', at most 255)", "keepalived", "instance")
	v.match(userRE, k.ScriptUser, "a user name (letters, digits, '.', '_', '-', not starting with '-', at most 32)", "keepalived", "script_user")
	switch k.VRRPVersion {
	case 2:
		// VRRPv2's advert interval is a whole number of seconds, 1-255.
		if k.AdvertInt < time.Second || k.AdvertInt > 255*time.Second || k.AdvertInt%time.Second != 0 {
			v.fail(fmt.Sprintf("advert_int %s: with vrrp_version 2 it must be whole seconds, 1s-255s (sub-second needs vrrp_version 3)", k.AdvertInt), "keepalived", "advert_int")
		}
	case 3:
		// VRRPv3's is 12 bits of centiseconds.
		if k.AdvertInt < 10*time.Millisecond || k.AdvertInt > 40950*time.Millisecond || k.AdvertInt%(10*time.Millisecond) != 0 {
			v.fail(fmt.Sprintf("advert_int %s: with vrrp_version 3 it must be a multiple of 10ms, 10ms-40.95s", k.AdvertInt), "keepalived", "advert_int")
		}
	default:
		v.fail(fmt.Sprintf("vrrp_version %d: 2 or 3", k.VRRPVersion), "keepalived", "vrrp_version")
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
	v.absPath(k.TrackFile, "keepalived", "track_file")
	v.absPath(k.Watch.HealthFile, "keepalived", "watch", "health_file")
	if k.Watch.HealthFile != "" && filepath.Clean(k.Watch.HealthFile) == filepath.Clean(k.TrackFile) {
		v.fail(fmt.Sprintf("health_file %s is keepalived.track_file: the watcher's file and the drain must be two files (only the check clears the health file)", show(k.Watch.HealthFile)), "keepalived", "watch", "health_file")
	}

	r := c.Redis
	if r.PasswordFile != "" && r.PasswordEnv != "" {
		v.fail("set password_file or password_env, not both", "redis")
	}
	if r.Username != "" && (len(r.Username) > maxNameLen || strings.IndexFunc(r.Username, unicode.IsSpace) >= 0) {
		v.fail(fmt.Sprintf("%s is not a Redis user name (no whitespace, at most %d)", show(r.Username), maxNameLen), "redis", "username")
	}
	if r.PasswordFile != "" {
		v.absPath(r.PasswordFile, "redis", "password_file")
		// Only where the file is: the console's machine need not have it.
		if fi, err := os.Stat(r.PasswordFile); err == nil && fi.Mode().Perm()&0o044 != 0 && !v.bad["redis.password_file"] {
			c.Warnings = append(c.Warnings, &Error{File: v.file, Line: lineOf(root, "redis", "password_file"), Field: "redis.password_file",
				Msg: fmt.Sprintf("%s is readable by group or others (mode %04o); chmod 600 it", show(r.PasswordFile), fi.Mode().Perm())})
		}
	}
	if r.PasswordEnv != "" {
		v.match(envRE, r.PasswordEnv, "an environment variable name (letters, digits, '_', not starting with a digit)", "redis", "password_env")
	}

	for _, f := range []struct {
		val  string
		name string
	}{{c.Hooks.StateFile, "state_file"}, {c.Hooks.StateLog, "state_log"}, {c.Hooks.LockFile, "lock_file"}, {c.Hooks.MaintenanceFile, "maintenance_file"}, {c.Hooks.EventLog, "event_log"}} {
		v.absPath(f.val, "hooks", f.name)
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
	if c.Switchover.MaxPause < 0 {
		v.fail("must not be negative", "switchover", "max_pause")
	} else if err := CheckMaxPause(c.Switchover.MaxPause, c.Switchover.Timeout); err != nil && c.Switchover.Timeout > 0 {
		v.fail(err.Error(), "switchover", "max_pause")
	}
	if c.Console.PollInterval < 50*time.Millisecond {
		v.fail(fmt.Sprintf("poll_interval %s is below 50ms", c.Console.PollInterval), "console", "poll_interval")
	}
	v.absPath(c.Console.Syslog, "console", "syslog")
	for _, u := range strings.FieldsFunc(c.Console.JournalUnit, func(r rune) bool { return r == ',' || r == ' ' }) {
		if !unitRE.MatchString(u) {
			v.fail(fmt.Sprintf("%s is not a list of systemd unit names (comma-separated; %s is not one)", show(c.Console.JournalUnit), show(u)), "console", "journal_unit")
			break
		}
	}
	v.notify(c.Notify)
	// In file order, so the first errors printed are the first in the file.
	slices.SortStableFunc(v.errs, func(a, b *Error) int { return a.Line - b.Line })
	return v.errs
}

func checkAddr(v *validator, addr string, path ...any) {
	if addr == "" {
		v.fail("required: host:port", path...)
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !validHost(host) {
		v.fail(fmt.Sprintf("%s is not host:port", show(addr)), path...)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.fail(fmt.Sprintf("%s has a bad port (1-65535)", show(addr)), path...)
	}
}

// maxNotifyArgs caps notify.command's argv.
const maxNotifyArgs = 32

// notify checks the notify section: the command runs as root without a
// shell, so its program is an absolute path; the webhook is http(s) and,
// inline, holds no secret.
func (v *validator) notify(n Notify) {
	if len(n.Command) > 0 {
		v.absPath(n.Command[0], "notify", "command", 0)
		if len(n.Command) > maxNotifyArgs {
			v.fail(fmt.Sprintf("%d arguments, at most %d", len(n.Command), maxNotifyArgs), "notify", "command")
		}
	}
	if n.Webhook != "" && n.WebhookFile != "" {
		v.fail("set webhook or webhook_file, not both", "notify")
	}
	if n.Webhook != "" {
		if err := CheckWebhook(n.Webhook); err != nil {
			v.fail(err.Error(), "notify", "webhook")
		} else if u, _ := url.Parse(n.Webhook); u.User != nil || u.RawQuery != "" {
			v.fail(fmt.Sprintf("%s holds credentials (user:password@ or a query string): secrets never go in config.yaml; put the URL in a root-owned file named by webhook_file", show(redactURL(n.Webhook))), "notify", "webhook")
		}
	}
	if n.WebhookFile != "" {
		v.absPath(n.WebhookFile, "notify", "webhook_file")
	}
	if n.Timeout < 0 || n.Timeout > MaxNotifyTimeout {
		v.fail(fmt.Sprintf("timeout %s must be between 0 (default %s) and %s", n.Timeout, DefaultNotifyTime, MaxNotifyTimeout), "notify", "timeout")
	}
}

// CheckWebhook refuses a webhook URL that is not http(s) with a host. The
// hooks check a URL read from notify.webhook_file with it too.
func CheckWebhook(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL", show(redactURL(raw)))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s is not an http:// or https:// URL with a host", show(redactURL(raw)))
	}
	return nil
}

// redactURL keeps a URL's scheme and host for a message: its path, query
// and user info may hold a token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Scheme + "://" + u.Host + "/..."
}
