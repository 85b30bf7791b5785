package nodes

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"

	"github.com/redkeep/redkeep/config"
)

// maxJumpHops bounds a ProxyJump chain, so a config that jumps in a circle
// fails with a message instead of recursing.
const maxJumpHops = 4

// Target is one SSH destination with every setting resolved: config.yaml
// first, then the ssh_config file, then OpenSSH's defaults.
type Target struct {
	// Alias is the name the destination was asked for (a Host alias or an address).
	Alias    string
	HostName string
	Port     int
	User     string
	// IdentityFiles are private keys tried after the agent; missing default
	// keys are skipped, missing configured keys are reported.
	IdentityFiles []string
	// explicitKeys is true when IdentityFiles came from config (not defaults).
	explicitKeys bool
	// KnownHosts are the known_hosts files checked strictly.
	KnownHosts []string
	// AgentSock is the ssh-agent socket ("" for none): ssh_config's
	// IdentityAgent, else $SSH_AUTH_SOCK.
	AgentSock string
	// Jump is the ProxyJump host this target is reached through, or nil.
	Jump *Target
}

// Addr is host:port for dialing and for the known_hosts lookup.
func (t *Target) Addr() string {
	return net.JoinHostPort(t.HostName, strconv.Itoa(t.Port))
}

func (t *Target) String() string {
	s := fmt.Sprintf("%s@%s", t.User, t.Addr())
	if t.Alias != t.HostName {
		s = t.Alias + " (" + s + ")"
	}
	if t.Jump != nil {
		s += " via " + t.Jump.String()
	}
	return s
}

// ResolveTarget works out how to reach node over SSH. Explicit config.yaml
// values win over the ssh_config file (node.SSH.ConfigFile, default
// ~/.ssh/config), which wins over OpenSSH's defaults.
func ResolveTarget(node *config.Node) (*Target, error) {
	sc, err := loadSSHConfig(node.SSH.ConfigFile)
	if err != nil {
		return nil, err
	}
	alias := node.SSH.Host
	if alias == "" {
		alias = node.Host
	}
	t, err := resolve(sc, alias, 0)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node.Name, err)
	}
	if node.SSH.Port != 0 {
		t.Port = node.SSH.Port
	}
	if node.SSH.User != "" {
		t.User = node.SSH.User
	}
	if len(node.SSH.IdentityFiles) > 0 {
		t.IdentityFiles = expandAll(node.SSH.IdentityFiles)
		t.explicitKeys = true
	}
	if node.SSH.KnownHosts != "" {
		kh := []string{config.ExpandHome(node.SSH.KnownHosts)}
		// The jump hosts are checked against the same file: one place to
		// trust a host, like OpenSSH's UserKnownHostsFile.
		for j := t; j != nil; j = j.Jump {
			j.KnownHosts = kh
		}
	}
	return t, nil
}

// sshConfig is a parsed ssh_config file, or nil when there is none.
type sshConfig struct {
	path string
	cfg  *ssh_config.Config
}

func loadSSHConfig(path string) (*sshConfig, error) {
	explicit := path != ""
	if !explicit {
		home, err := os.UserHomeDir()
		if err != nil {
			return &sshConfig{}, nil
		}
		path = filepath.Join(home, ".ssh", "config")
	}
	path = config.ExpandHome(path)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return &sshConfig{}, nil
		}
		return nil, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("ssh config %s: %w", path, err)
	}
	return &sshConfig{path: path, cfg: cfg}, nil
}

func (s *sshConfig) get(alias, key string) string {
	if s.cfg == nil {
		return ""
	}
	v, err := s.cfg.Get(alias, key)
	if err != nil {
		return ""
	}
	return v
}

func (s *sshConfig) getAll(alias, key string) []string {
	if s.cfg == nil {
		return nil
	}
	v, err := s.cfg.GetAll(alias, key)
	if err != nil {
		return nil
	}
	return v
}

// resolve applies ssh_config to alias; depth counts ProxyJump hops.
func resolve(sc *sshConfig, alias string, depth int) (*Target, error) {
	if depth > maxJumpHops {
		return nil, fmt.Errorf("ProxyJump chain longer than %d hops (a loop in %s?)", maxJumpHops, sc.path)
	}
	user, port, host := splitUserHostPort(alias)
	t := &Target{Alias: host, HostName: host, Port: config.DefaultSSHPort, User: user}
	if hn := sc.get(host, "HostName"); hn != "" {
		t.HostName = strings.ReplaceAll(hn, "%h", host)
	}
	if port == 0 {
		if p := sc.get(host, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, fmt.Errorf("%s: Host %s: Port %q is not a port number", sc.path, host, p)
			}
			port = n
		}
	}
	if port != 0 {
		t.Port = port
	}
	if t.User == "" {
		t.User = sc.get(host, "User")
	}
	if t.User == "" {
		t.User = currentUser()
	}
	if ids := sc.getAll(host, "IdentityFile"); len(ids) > 0 {
		t.IdentityFiles = expandAll(ids)
		t.explicitKeys = true
	} else {
		t.IdentityFiles = defaultIdentityFiles()
	}
	if kh := sc.get(host, "UserKnownHostsFile"); kh != "" && kh != "none" {
		for _, f := range strings.Fields(kh) {
			t.KnownHosts = append(t.KnownHosts, config.ExpandHome(f))
		}
	}
	if len(t.KnownHosts) == 0 {
		t.KnownHosts = []string{config.ExpandHome("~/.ssh/known_hosts")}
	}
	switch ia := sc.get(host, "IdentityAgent"); ia {
	case "", "SSH_AUTH_SOCK":
		t.AgentSock = os.Getenv("SSH_AUTH_SOCK")
	case "none":
	default:
		t.AgentSock = config.ExpandHome(strings.Trim(ia, `"`))
	}
	if pj := sc.get(host, "ProxyJump"); pj != "" && !strings.EqualFold(pj, "none") {
		// A comma list is a chain: the last hop is the one next to the
		// target, reached through the ones before it.
		hops := strings.Split(pj, ",")
		var prev *Target
		for _, h := range hops {
			j, err := resolve(sc, strings.TrimSpace(h), depth+1)
			if err != nil {
				return nil, fmt.Errorf("ProxyJump %s: %w", h, err)
			}
			if j.Jump == nil {
				j.Jump = prev
			}
			prev = j
		}
		t.Jump = prev
	}
	return t, nil
}

// splitUserHostPort splits OpenSSH's [user@]host[:port] destination form.
func splitUserHostPort(s string) (user string, port int, host string) {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, s = s[:i], s[i+1:]
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return user, n, h
		}
	}
	return user, 0, strings.Trim(s, "[]")
}

func expandAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = config.ExpandHome(p)
	}
	return out
}

func defaultIdentityFiles() []string {
	return expandAll([]string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"})
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
