// Package config holds redkeep's config.yaml schema for one Redis + keepalived
// pair: loading, defaults, validation and node identity. The same file serves the
// console and the hooks on both nodes.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Config is one redkeep pair.
type Config struct {
	// VIP is the virtual address in CIDR form, e.g. 198.51.100.100/24.
	VIP        string     `yaml:"vip"`
	Nodes      []Node     `yaml:"nodes"`
	Keepalived Keepalived `yaml:"keepalived"`
	Redis      Redis      `yaml:"redis"`
	Hooks      Hooks      `yaml:"hooks"`
	Switchover Switchover `yaml:"switchover"`
	Console    Console    `yaml:"console"`
	Notify     Notify     `yaml:"notify"`

	// Pair is the pair's name: its file's name without .yaml in a directory
	// of pair files (and for a single pair file), its name in a pairs list.
	Pair string `yaml:"-"`
	// Path is the file the config was read from ("" when parsed from bytes).
	Path string `yaml:"-"`
	// Warnings are problems that do not stop the config from loading,
	// located like errors: commands print them to stderr, and the hooks,
	// whose stderr keepalived drops, log them.
	Warnings []*Error `yaml:"-"`
}

// Node is one host of the pair.
type Node struct {
	Name string `yaml:"name"`
	// Host is the node's address on the pair's network (an IP): keepalived's
	// unicast peer and the default SSH host.
	Host       string         `yaml:"host"`
	SSH        SSH            `yaml:"ssh"`
	Redis      NodeRedis      `yaml:"redis"`
	Keepalived NodeKeepalived `yaml:"keepalived"`
	// Redkeep is the path of the redkeep binary on the node (keepalived's
	// hooks and the console's remote steps run it).
	Redkeep string `yaml:"redkeep"`
	// ConfigPath is where this config file lives on the node.
	ConfigPath string `yaml:"config_path"`
}

// SSH is how the console reaches a node.
type SSH struct {
	// Host is the SSH destination: an ~/.ssh/config alias or an address.
	// Default: the node's host.
	Host string `yaml:"host"`
	// Port: 0 means ~/.ssh/config's Port for the host, else 22.
	Port int    `yaml:"port"`
	User string `yaml:"user"`
	// IdentityFiles are private keys tried after ssh-agent.
	IdentityFiles []string `yaml:"identity_files"`
	// KnownHosts is the known_hosts file used for strict host key checking.
	KnownHosts string `yaml:"known_hosts"`
	// ConfigFile is an ssh_config file to honour; default ~/.ssh/config.
	ConfigFile string `yaml:"config_file"`
}

// NodeRedis is the node's Redis as seen from the node itself and from its peer.
type NodeRedis struct {
	// Addr is host:port as the node itself (its hooks) reaches its Redis.
	Addr string `yaml:"addr"`
	// PeerAddr is host:port as the other node reaches this Redis (replication).
	PeerAddr string `yaml:"peer_addr"`
}

// NodeKeepalived holds the per-node keepalived settings.
type NodeKeepalived struct {
	Priority  int    `yaml:"priority"`
	Interface string `yaml:"interface"`
}

// Keepalived holds the pair-wide VRRP settings.
type Keepalived struct {
	Instance        string        `yaml:"instance"`
	VirtualRouterID int           `yaml:"virtual_router_id"`
	AdvertInt       time.Duration `yaml:"advert_int"`
	// VRRPVersion is the VRRP protocol version keepalived speaks (2 or 3).
	// Version 3 carries the advert interval in centiseconds, so only it
	// allows a sub-second advert_int; version 2 counts whole seconds.
	VRRPVersion int `yaml:"vrrp_version"`
	// Unicast makes the instances talk unicast between the nodes' hosts
	// instead of multicast.
	Unicast bool  `yaml:"unicast"`
	Check   Check `yaml:"check"`
	// TrackFile is the vrrp_track_file that drains a node: a non-zero number
	// in it puts the node's instance in FAULT, so the peer takes the VIP.
	TrackFile string `yaml:"track_file"`
	// ScriptUser runs the hooks (keepalived's script_user).
	ScriptUser string `yaml:"script_user"`
	// Watch is the node's Redis watcher (`redkeep hook watch`).
	Watch Watch `yaml:"watch"`
}

// Watch is `redkeep hook watch`: a process on each node holding a
// connection to the local Redis, which writes a non-zero number to
// HealthFile (a vrrp_track_file with weight 0) the moment that Redis
// dies, so keepalived goes FAULT without waiting for the next check.
// Only the check clears the file, once Redis answers again; the check
// also starts the watcher when none runs.
type Watch struct {
	// Enabled: nil (unset) is on. Off, keepalived.conf tracks no health
	// file and the check starts no watcher: detection is the check's alone.
	Enabled *bool `yaml:"enabled"`
	// HealthFile is the track file the watcher sets; default: health
	// beside keepalived.track_file.
	HealthFile string `yaml:"health_file"`
}

// On reports whether the watcher is enabled (the default).
func (w Watch) On() bool { return w.Enabled == nil || *w.Enabled }

// DefaultHealthName is the watcher's track file's name beside
// keepalived.track_file: /run/redkeep/health by default.
const DefaultHealthName = "health"

// HangTimeout is how long the watcher lets a PING go unanswered before it
// calls local Redis hung: as long as the check would take to fail the
// same Redis at the earliest (fall checks in a row, each waiting its
// deadline), so the watcher is never stricter than the check, only sooner.
func (c Check) HangTimeout() time.Duration {
	return c.Deadline + time.Duration(max(c.Fall-1, 0))*c.Interval
}

// Check is the vrrp_script running `redkeep hook check`.
type Check struct {
	Interval time.Duration `yaml:"interval"`
	Fall     int           `yaml:"fall"`
	Rise     int           `yaml:"rise"`
	// Deadline bounds one run of the check; keepalived's own timeout for the
	// script is set a little above it.
	Deadline time.Duration `yaml:"deadline"`
}

// Redis holds the pair's Redis credentials, never inline.
type Redis struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
}

// Hooks holds the node-local files and bounds of the keepalived hooks.
type Hooks struct {
	StateFile string `yaml:"state_file"`
	StateLog  string `yaml:"state_log"`
	LockFile  string `yaml:"lock_file"`
	// MaintenanceFile records maintenance mode on this node (who, why,
	// until when); default: maintenance.json beside StateFile.
	MaintenanceFile string `yaml:"maintenance_file"`
	// EventLog is the node's event journal: one JSON line per transition
	// and operator action (package events), rotated at 1 MiB. Default:
	// events.jsonl in state_log's directory.
	EventLog string `yaml:"event_log"`
	// SyncTimeout bounds how long a promotion waits for the old master's
	// offset before refusing to promote over writes it lacks.
	SyncTimeout time.Duration `yaml:"sync_timeout"`
	// RedisTimeout bounds each Redis call a hook makes.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
}

// Notify says who is told about every event the journal records: a
// command run with the event as JSON on stdin and as REDKEEP_* variables,
// and a webhook POSTed the event as JSON with a Slack-compatible "text".
// Both are delivered by a detached `redkeep hook deliver`, off the
// failover's path, bounded by Timeout.
type Notify struct {
	// Command is an argv; its first element is an absolute path. It runs
	// as the hooks do (root), without a shell.
	Command []string `yaml:"command"`
	// Webhook is an http(s) URL holding no secret: no user:password and no
	// query string. A URL carrying a token (Slack's, Teams') goes in
	// WebhookFile, a root-owned file the hooks read, like redis.password_file.
	Webhook     string        `yaml:"webhook"`
	WebhookFile string        `yaml:"webhook_file"`
	Timeout     time.Duration `yaml:"timeout"`
}

// Enabled reports whether any notification is configured.
func (n Notify) Enabled() bool {
	return len(n.Command) > 0 || n.Webhook != "" || n.WebhookFile != ""
}

// Switchover holds the defaults of a planned switchover.
type Switchover struct {
	// MaxPause is the pause budget: the preflight refuses when the
	// target's estimated catch-up time exceeds it, and the node-side Redis
	// step unpauses writes and aborts when catching up takes longer.
	MaxPause time.Duration `yaml:"max_pause"`
	// MaxLag is an optional byte limit on the target's lag; 0, the
	// default, is none: the pause budget decides.
	MaxLag  int64         `yaml:"max_lag"`
	Timeout time.Duration `yaml:"timeout"`
	// Bridge: nil (unset) is on. On, the old master keeps the VIP on its
	// loopback device for a moment after keepalived drops it, so packets
	// sent to the VIP before the target announces it get an answer
	// (READONLY) instead of waiting for a TCP retransmit. Off on hosts
	// where something announces loopback addresses (a routing daemon).
	Bridge *bool `yaml:"bridge"`
}

// BridgeOn reports whether the switchover's VIP bridge is on (the default).
func (s Switchover) BridgeOn() bool { return s.Bridge == nil || *s.Bridge }

// Bounds of switchover.max_pause: below MinMaxPause the Redis step's own
// round trips would exceed the budget; above a third of switchover.timeout
// the VIP move and the verification would have no time left.
const MinMaxPause = 10 * time.Millisecond

// CheckMaxPause says why pause is not a usable pause budget for a
// switchover bounded by timeout, or returns nil.
func CheckMaxPause(pause, timeout time.Duration) error {
	switch {
	case pause < MinMaxPause:
		return fmt.Errorf("max pause %s is below %s", pause, MinMaxPause)
	case pause > timeout/3:
		return fmt.Errorf("max pause %s is above a third of the switchover timeout %s (the VIP move and verification need the rest)", pause, timeout)
	}
	return nil
}

// Console holds the operator console's settings.
type Console struct {
	PollInterval time.Duration `yaml:"poll_interval"`
	// LagWarn is the byte lag above which the verdict is degraded.
	LagWarn int64 `yaml:"lag_warn"`
	// Logs on each node to follow.
	Syslog string `yaml:"syslog"`
	// JournalUnit, when set, is followed with journalctl instead of Syslog.
	JournalUnit string `yaml:"journal_unit"`
}

// Defaults, exported so docs and tests can name them.
const (
	DefaultInstance     = "VI_REDIS"
	DefaultAdvertInt    = time.Second
	DefaultVRRPVersion  = 2
	DefaultCheckInt     = time.Second
	DefaultCheckFall    = 1
	DefaultCheckRise    = 2
	DefaultCheckDead    = 800 * time.Millisecond
	DefaultTrackFile    = "/run/redkeep/drain"
	DefaultStateFile    = "/var/lib/redkeep/state.json"
	DefaultStateLog     = "/var/log/redkeep/redis-state.log"
	DefaultLockFile     = "/run/redkeep/hook.lock"
	DefaultEventLog     = "/var/log/redkeep/events.jsonl"
	DefaultNotifyTime   = 5 * time.Second
	MaxNotifyTimeout    = time.Minute
	DefaultSyncTimeout  = 5 * time.Second
	DefaultRedisTimeout = 500 * time.Millisecond
	DefaultMaxPause     = 500 * time.Millisecond
	DefaultLagWarn      = 1 << 20
	DefaultSwTimeout    = 10 * time.Second
	DefaultPoll         = 500 * time.Millisecond
	DefaultSyslog       = "/var/log/syslog"
	DefaultRedkeep      = "/usr/local/bin/redkeep"
	DefaultRemoteConfig = "/etc/redkeep/config.yaml"
	DefaultScriptUser   = "root"
	DefaultSSHPort      = 22
)

// DefaultMaintenanceName is the maintenance file's name in the state file's
// directory: /var/lib/redkeep/maintenance.json by default.
const DefaultMaintenanceName = "maintenance.json"

// Bounds on reading a config: the hooks run as root on every node, so no
// file makes them allocate or print without bound.
const (
	// MaxFileSize is the largest config file read (1 MiB).
	MaxFileSize = 1 << 20
	// MaxPrinted is how many errors an Errors prints; the rest are counted.
	MaxPrinted = 20
)

// Error is a config problem, located in the file.
type Error struct {
	File  string // config file, "" if unknown
	Line  int    // 1-based, 0 if unknown
	Field string // dotted path, e.g. nodes[1].redis.addr
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(escapeControls(e.File))
	} else {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", escapeControls(e.Field))
	}
	fmt.Fprintf(&b, ": %s", escapeControls(e.Msg))
	return b.String()
}

// Errors is every problem found in one config.
type Errors []*Error

// Error prints the first MaxPrinted errors, one a line, and counts the rest.
func (es Errors) Error() string {
	n := min(len(es), MaxPrinted)
	msgs := make([]string, n, n+1)
	for i, e := range es[:n] {
		msgs[i] = e.Error()
	}
	switch more := len(es) - n; {
	case more == 1:
		msgs = append(msgs, "... and 1 more error")
	case more > 1:
		msgs = append(msgs, fmt.Sprintf("... and %d more errors", more))
	}
	return strings.Join(msgs, "\n")
}

// ErrNotFound is returned by Find when no config file exists on the search path.
var ErrNotFound = errors.New("no config file found")

// Find returns the config path to use: explicit, else $REDKEEP_CONFIG, else
// ./config.yaml, else /etc/redkeep/config.yaml.
func Find(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if env := os.Getenv("REDKEEP_CONFIG"); env != "" {
		return env, nil
	}
	for _, p := range []string{"config.yaml", DefaultRemoteConfig} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: pass --config, set $REDKEEP_CONFIG, or create ./config.yaml or %s", ErrNotFound, DefaultRemoteConfig)
}

// Load reads, defaults and validates the config at path. It reads at most
// MaxFileSize bytes.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes, defaults and validates config bytes; file names the source in errors.
func Parse(data []byte, file string) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: file, Msg: "file is larger than 1 MiB; a pair's config is a few hundred lines"}}
	}
	if e := checkText(data); e != nil {
		e.File = file
		return nil, Errors{e}
	}
	root, err := parseDocument(data, file)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, Errors{{File: file, Msg: "file is empty"}}
	}
	if isPairsList(root) {
		return nil, Errors{{File: file, Line: lineOf(root, "pairs"), Field: "pairs",
			Msg: "this file lists several pairs; a node's hooks read one pair's file (the console, status and switchover read this one, with --pair NAME to pick a pair)"}}
	}
	if errs := checkShape(root, file); errs != nil {
		return nil, errs
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, data, root, err)
	}
	c.Path = file
	c.applyDefaults()
	if errs := c.validate(root); len(errs) > 0 {
		return nil, errs
	}
	return &c, nil
}

// parseDocument parses the one YAML document in data; nil if there is none.
// A second document is refused: it would be silently ignored otherwise.
func parseDocument(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root, next yaml.Node
	if err := dec.Decode(&root); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, yamlError(file, data, nil, err)
	}
	if err := dec.Decode(&next); errors.Is(err, io.EOF) {
		return &root, nil
	} else if err != nil {
		return nil, yamlError(file, data, nil, err)
	}
	return nil, Errors{{File: file, Line: next.Line, Msg: "a second YAML document starts here; a config is one document"}}
}

// checkText refuses bytes that are not text: invalid UTF-8 and control
// characters other than tab and line ends, located by line (yaml.v3 reports
// them without one).
func checkText(data []byte) *Error {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return &Error{Line: line, Msg: "the file is not valid UTF-8 text"}
		case r == '\n':
			line++
		case r == '\t' || r == '\r':
		case unicode.IsControl(r) || r == 0xFFFE || r == 0xFFFF:
			return &Error{Line: line, Msg: fmt.Sprintf("control character U+%04X is not allowed in a config file", r)}
		}
		i += size
	}
	return nil
}

// yamlError turns yaml.v3's "yaml: line N: msg" errors into located Errors;
// root, when the document parsed, names their fields.
func yamlError(file string, data []byte, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs Errors
		for i, m := range te.Errors {
			// Naming a field searches the document: only for those printed.
			r := root
			if i >= MaxPrinted {
				r = nil
			}
			errs = append(errs, lineMsg(file, data, r, m))
		}
		return errs
	}
	return Errors{lineMsg(file, data, root, strings.TrimPrefix(err.Error(), "yaml: "))}
}

// parserProblems are yaml.v3's parser errors, whose line it reports 0-based
// (its scanner errors and type errors are 1-based).
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// aliasRE finds the anchor named in yaml.v3's errors about an alias, which
// it reports without a line. Compiled when first needed: every redkeep
// process loads the config, few of them fail to.
var aliasRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:unknown anchor|anchor) '([^']*)' (?:referenced|value contains itself)$`)
})

func lineMsg(file string, data []byte, root *yaml.Node, m string) *Error {
	var line int
	if n, _ := fmt.Sscanf(m, "line %d:", &line); n == 1 {
		if i := strings.Index(m, ":"); i >= 0 {
			m = strings.TrimSpace(m[i+1:])
		}
	}
	switch {
	case parserProblems[m]:
		// 0-based, and left out when 0: line 1.
		line++
	case line > 0:
	case aliasRE().MatchString(m):
		line = aliasLine(data, aliasRE().FindStringSubmatch(m)[1])
	case !unlocated(m):
		// A scanner or parser error on the first line: yaml.v3 leaves line 0 out.
		line = 1
	}
	return &Error{File: file, Line: line, Field: fieldOf(root, line, m), Msg: friendlier(m)}
}

// fieldOf names the field that yaml.v3's error m on line is about, found in
// the document by the line and by what the error quotes: the key of an
// unknown or duplicate field, the tag and value of a mistyped one. "" when
// there is no document or no such field.
func fieldOf(root *yaml.Node, line int, m string) string {
	if root == nil || line == 0 {
		return ""
	}
	var match func(key, val *yaml.Node) bool
	keyIs := func(name string) func(key, val *yaml.Node) bool {
		return func(key, _ *yaml.Node) bool { return key != nil && key.Line == line && key.Value == name }
	}
	if rest, ok := strings.CutPrefix(m, "field "); ok {
		if i := strings.LastIndex(rest, " not found in type "); i >= 0 {
			match = keyIs(rest[:i])
		}
	} else if rest, ok := strings.CutPrefix(m, "mapping key "); ok {
		if i := strings.LastIndex(rest, " already defined"); i >= 0 {
			if name, err := strconv.Unquote(rest[:i]); err == nil {
				match = keyIs(name)
			}
		}
	} else if rest, ok := strings.CutPrefix(m, "cannot unmarshal "); ok {
		// "!!str `abc` into int", "!!seq into string"; yaml.v3 shortens
		// values longer than 10 to 7 and "...".
		tag, rest, _ := strings.Cut(rest, " ")
		value, quoted := "", strings.HasPrefix(rest, "`")
		if quoted {
			value, _, _ = strings.Cut(rest[1:], "` into ")
		}
		match = func(_, val *yaml.Node) bool {
			if val.Line != line || val.ShortTag() != tag {
				return false
			}
			if short, ok := strings.CutSuffix(value, "..."); ok && len(val.Value) > 10 {
				return strings.HasPrefix(val.Value, short)
			}
			return !quoted || val.Value == value
		}
	}
	if match == nil {
		return ""
	}
	// The deepest match: a list that starts on the line of its first item's
	// mistyped value is not what the error is about. Nodes come in line
	// order, so the search stops past the line; path is one shared stack.
	var found, path []any
	var walk func(n *yaml.Node)
	try := func(key, val *yaml.Node) {
		if match(key, val) && (found == nil || len(path) > len(found)) {
			found = slices.Clone(path)
		}
		walk(val)
	}
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content) && n.Content[i].Line <= line; i += 2 {
				path = append(path, n.Content[i].Value)
				try(n.Content[i], n.Content[i+1])
				path = path[:len(path)-1]
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if c.Line > line {
					break
				}
				path = append(path, i)
				try(nil, c)
				path = path[:len(path)-1]
			}
		}
	}
	walk(root)
	if found == nil {
		return ""
	}
	return fieldName(found)
}

// escapeControls escapes non-printable characters, such as those of the
// values yaml.v3 quotes in its messages: an error stays one line, and a
// terminal printing it runs no escape sequence.
func escapeControls(m string) string {
	if strings.IndexFunc(m, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return m
	}
	var b strings.Builder
	for _, r := range m {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// unlocated tells yaml.v3's errors that have no line (about the input's
// bytes, aliases, or the document as a whole) from its scanner and parser
// errors, which leave out only line 1.
func unlocated(m string) bool {
	for _, p := range []string{
		// reader (checkText refuses their causes first)
		"control characters are not allowed", "invalid leading UTF-8 octet", "incomplete UTF-8 octet sequence",
		"invalid trailing UTF-8 octet", "invalid Unicode character", "input error",
		// decoder
		"unknown anchor", "anchor '", "document contains excessive aliasing", "!!binary value", "map merge requires",
		"invalid map key", "invalid array", "attempted to go past", "cannot decode node",
	} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// aliasLine is the line of the first use of alias *name in data, 0 if none.
func aliasLine(data []byte, name string) int {
	re := regexp.MustCompile(`\*` + regexp.QuoteMeta(name) + `(?:$|[\s,\]}])`)
	for i, l := range strings.Split(string(data), "\n") {
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// sections names the struct types of the schema as a reader of the YAML sees them.
var sections = map[string]string{
	"Config": "the top level", "Node": "a node", "SSH": "ssh", "NodeRedis": "a node's redis",
	"NodeKeepalived": "a node's keepalived", "Keepalived": "keepalived", "Check": "keepalived.check", "Watch": "keepalived.watch",
	"Redis": "redis", "Hooks": "hooks", "Switchover": "switchover", "Console": "console",
	"pairEntry": "a pair", "pairsFile": "a file with a pairs list (it holds nothing else)",
	"Notify": "notify",
}

// friendlier rewrites yaml.v3's Go-flavoured messages in the config's terms.
func friendlier(m string) string {
	if rest, ok := strings.CutPrefix(m, "field "); ok && strings.Contains(rest, " not found in type config.") {
		i := strings.LastIndex(rest, " not found in type config.")
		field, typ := rest[:i], rest[i+len(" not found in type config."):]
		msg := fmt.Sprintf("unknown field %q in %s", field, sections[typ])
		if typ == "Redis" && strings.Contains(field, "pass") {
			msg += " (secrets never go in config.yaml: use password_file or password_env)"
		}
		return msg
	}
	if strings.HasPrefix(m, "cannot unmarshal !!str `") && strings.HasSuffix(m, "into time.Duration") {
		v := strings.TrimSuffix(strings.TrimPrefix(m, "cannot unmarshal !!str `"), "` into time.Duration")
		return fmt.Sprintf("%q is not a duration (write e.g. 500ms, 1s, 2m)", v)
	}
	return strings.ReplaceAll(m, "config.", "")
}

func (c *Config) applyDefaults() {
	k := &c.Keepalived
	if k.Instance == "" {
		k.Instance = DefaultInstance
	}
	if k.AdvertInt == 0 {
		k.AdvertInt = DefaultAdvertInt
	}
	if k.VRRPVersion == 0 {
		k.VRRPVersion = DefaultVRRPVersion
	}
	if k.Check.Interval == 0 {
		k.Check.Interval = DefaultCheckInt
	}
	if k.Check.Fall == 0 {
		k.Check.Fall = DefaultCheckFall
	}
	if k.Check.Rise == 0 {
		k.Check.Rise = DefaultCheckRise
	}
	if k.Check.Deadline == 0 {
		k.Check.Deadline = DefaultCheckDead
	}
	if k.TrackFile == "" {
		k.TrackFile = DefaultTrackFile
	}
	if k.ScriptUser == "" {
		k.ScriptUser = DefaultScriptUser
	}
	if k.Watch.HealthFile == "" {
		k.Watch.HealthFile = filepath.Join(filepath.Dir(k.TrackFile), DefaultHealthName)
	}
	h := &c.Hooks
	if h.StateFile == "" {
		h.StateFile = DefaultStateFile
	}
	if h.StateLog == "" {
		h.StateLog = DefaultStateLog
	}
	if h.LockFile == "" {
		h.LockFile = DefaultLockFile
	}
	if h.MaintenanceFile == "" {
		h.MaintenanceFile = filepath.Join(filepath.Dir(h.StateFile), DefaultMaintenanceName)
	}
	if h.EventLog == "" {
		// Beside the state log: a pair (or a test, or the lab) that moves
		// the hooks' log moves its journal with it.
		h.EventLog = filepath.Join(filepath.Dir(h.StateLog), filepath.Base(DefaultEventLog))
	}
	if c.Notify.Timeout == 0 {
		c.Notify.Timeout = DefaultNotifyTime
	}
	if h.SyncTimeout == 0 {
		h.SyncTimeout = DefaultSyncTimeout
	}
	if h.RedisTimeout == 0 {
		h.RedisTimeout = DefaultRedisTimeout
	}
	if c.Switchover.MaxPause == 0 {
		c.Switchover.MaxPause = DefaultMaxPause
	}
	if c.Switchover.Timeout == 0 {
		c.Switchover.Timeout = DefaultSwTimeout
	}
	if c.Console.PollInterval == 0 {
		c.Console.PollInterval = DefaultPoll
	}
	if c.Console.LagWarn == 0 {
		c.Console.LagWarn = DefaultLagWarn
		if c.Switchover.MaxLag > 0 {
			c.Console.LagWarn = c.Switchover.MaxLag
		}
	}
	if c.Console.Syslog == "" {
		c.Console.Syslog = DefaultSyslog
	}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.SSH.Host == "" {
			n.SSH.Host = n.Host
		}
		if n.Redkeep == "" {
			n.Redkeep = DefaultRedkeep
		}
		if n.ConfigPath == "" {
			n.ConfigPath = DefaultRemoteConfig
		}

		if n.Redis.Addr == "" {
			n.Redis.Addr = "127.0.0.1:6379"
		}
		if n.Redis.PeerAddr == "" && n.Host != "" {
			n.Redis.PeerAddr = hostPort(n.Host, "6379")
		}
	}
}

func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// Node returns the node called name.
func (c *Config) Node(name string) (*Node, error) {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("no node %q in %s (nodes: %s)", name, c.Path, strings.Join(c.NodeNames(), ", "))
}

// Peer returns the other node of the pair.
func (c *Config) Peer(name string) (*Node, error) {
	if _, err := c.Node(name); err != nil {
		return nil, err
	}
	for i := range c.Nodes {
		if c.Nodes[i].Name != name {
			return &c.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("node %q has no peer in %s", name, c.Path)
}

// NodeNames lists the node names in config order.
func (c *Config) NodeNames() []string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	return names
}

// VIPPrefix returns the parsed VIP; valid after Load.
func (c *Config) VIPPrefix() netip.Prefix {
	p, _ := netip.ParsePrefix(c.VIP)
	return p
}

// VIPAddr returns the VIP without its prefix length.
func (c *Config) VIPAddr() netip.Addr { return c.VIPPrefix().Addr() }

// RedisPassword reads the password from the file or environment variable
// named in the config; "" when none is configured.
func (c *Config) RedisPassword() (string, error) {
	switch {
	case c.Redis.PasswordFile != "":
		b, err := os.ReadFile(c.Redis.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("redis.password_file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case c.Redis.PasswordEnv != "":
		v, ok := os.LookupEnv(c.Redis.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("redis.password_env: $%s is not set", c.Redis.PasswordEnv)
		}
		return v, nil
	}
	return "", nil
}

// ExpandHome replaces a leading ~/ with the user's home directory.
func ExpandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
