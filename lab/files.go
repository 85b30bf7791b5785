package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/deploy"
	"github.com/redkeep/redkeep/hooks"
)

// Paths of the console's SSH material.
func (s *Settings) clientKey() string  { return s.path("console", "id_ed25519") }
func (s *Settings) knownHosts() string { return s.path("console", "known_hosts") }
func (s *Settings) sshConfig() string  { return s.path("console", "ssh_config") }
func (s *Settings) hostKey(n string) string {
	return filepath.Join(s.NodeDir(n), "ssh_host_ed25519_key")
}

// makeFiles creates the lab directory and everything in it that exists
// before the first process starts.
func (s *Settings) makeFiles(ctx context.Context) error {
	// 0755 root-owned all the way: keepalived's enable_script_security
	// refuses scripts under directories others could write to.
	// The nodes' users traverse them (to their homes, the binary, the
	// config): everything they must not read is a file of its own mode.
	for _, d := range []string{s.Dir, s.path("bin"), s.NodeView(), s.NodeDir("a"), s.NodeDir("b")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	// The console's key, known_hosts and ssh_config: root's alone.
	if err := os.MkdirAll(s.path("console"), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(s.path("console"), 0o700); err != nil {
		return err
	}
	// The mount point of the nodes' /home, as on any Debian host.
	if err := os.MkdirAll("/home", 0o755); err != nil {
		return fmt.Errorf("create /home as a mount point for the nodes' homes: %w", err)
	}
	for _, n := range NodeNames {
		if err := os.MkdirAll(s.nodeHome(n), 0o700); err != nil {
			return err
		}
	}
	if err := s.checkDirSecure(); err != nil {
		return err
	}
	if err := s.installRedkeep(); err != nil {
		return err
	}
	// sshd's privilege separation directory, normally made by the package's
	// service unit.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return fmt.Errorf("create /run/sshd for sshd: %w", err)
	}
	if _, err := runCmd(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "redkeep-lab-console", "-f", s.clientKey()); err != nil {
		return err
	}
	pub, err := os.ReadFile(s.clientKey() + ".pub")
	if err != nil {
		return err
	}
	userIDs := map[string]ids{}
	for _, n := range NodeNames {
		if userIDs[n], err = s.makeNodeEtc(ctx, n, pub); err != nil {
			return err
		}
	}
	// Both nodes read the one config.yaml: the user must be the same.
	if userIDs["a"] != userIDs["b"] {
		return fmt.Errorf("user %s has ids %v on a but %v on b", s.sshUser(), userIDs["a"], userIDs["b"])
	}
	var known bytes.Buffer
	for _, n := range NodeNames {
		if _, err := runCmd(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "redkeep-lab-"+n, "-f", s.hostKey(n)); err != nil {
			return err
		}
		hk, err := os.ReadFile(s.hostKey(n) + ".pub")
		if err != nil {
			return err
		}
		// "host keytype key": drop the comment.
		f := strings.Fields(string(hk))
		if len(f) < 2 {
			return fmt.Errorf("unexpected host key in %s.pub", s.hostKey(n))
		}
		fmt.Fprintf(&known, "%s %s %s\n", s.NodeAddr(n), f[0], f[1])
		if err := os.WriteFile(filepath.Join(s.NodeDir(n), "sshd_config"), []byte(s.sshdConfig(n)), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(s.knownHosts(), known.Bytes(), 0o644); err != nil {
		return err
	}
	// An empty ssh_config, so the operator's ~/.ssh/config cannot redirect
	// lab hosts somewhere else.
	if err := os.WriteFile(s.sshConfig(), []byte("# redkeep lab: no ssh_config overrides\n"), 0o644); err != nil {
		return err
	}
	// notify.command of the lab: each node appends the events it is told
	// about to its own notifications file, to show what a notification
	// carries (and for the tests to check they arrive).
	if err := os.WriteFile(s.NotifyCommand(), []byte(notifyScript(s.NodeView())), 0o755); err != nil {
		return err
	}
	cfgText, err := s.configYAML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.ConfigPath(), []byte(cfgText), 0o644); err != nil {
		return err
	}
	cfg, err := config.Load(s.ConfigPath())
	if err != nil {
		return fmt.Errorf("the lab's own config does not load (a bug): %w", err)
	}
	// As deploy installs it: readable by the SSH user's group, for `hook
	// state`. A baseline lab has no redkeep yet: its config is deploy's
	// to install.
	if !s.Baseline && s.sshUser() != RootSSHUser {
		if err := os.Chown(s.ConfigPath(), 0, userIDs["a"].gid); err != nil {
			return err
		}
		if err := os.Chmod(s.ConfigPath(), deploy.ConfigMode); err != nil {
			return err
		}
	}
	for _, n := range NodeNames {
		if err := s.grantRights(ctx, n, cfg); err != nil {
			return err
		}
	}
	for _, n := range NodeNames {
		var conf string
		if s.Baseline {
			conf, err = s.writeBaseline(n)
		} else {
			conf, err = hooks.KeepalivedConf(cfg, n)
		}
		if err != nil {
			return fmt.Errorf("node %s: keepalived.conf: %w", n, err)
		}
		if err := os.WriteFile(filepath.Join(s.NodeDir(n), "keepalived.conf"), []byte(conf), 0o644); err != nil {
			return err
		}
		for _, f := range []string{s.Syslog(n), s.StateLog(n)} {
			if err := appendFile(f, ""); err != nil {
				return err
			}
		}
		if !s.journalOnly(n) {
			if err := s.syslogOwner(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDirSecure refuses a lab directory whose path others could write to:
// keepalived would refuse to run the hooks from it, and rightly so.
func (s *Settings) checkDirSecure() error {
	for d := s.Dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("lab dir %s: %s is writable by group or others (%v); keepalived's script security would refuse the hooks there: use a path like %s",
				s.Dir, d, fi.Mode().Perm(), DefaultDir)
		}
		if d == "/" {
			return nil
		}
	}
}

// installRedkeep copies this build of redkeep into the lab (labBinary),
// root-owned 0755.
func (s *Settings) installRedkeep() error {
	exe, err := s.executable()
	if err != nil {
		return err
	}
	src, err := os.Open(exe)
	if err != nil {
		return fmt.Errorf("install redkeep into the lab: %w", err)
	}
	defer src.Close()
	tmp := s.labBinary() + ".tmp"
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return fmt.Errorf("install redkeep into the lab: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("install redkeep into the lab: %w", err)
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, s.labBinary())
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Settings) sshdConfig(n string) string {
	return fmt.Sprintf(`# sshd for redkeep lab node %[1]s, written by redkeep lab up.
Port %[2]d
ListenAddress %[3]s
HostKey %[4]s
PidFile %[5]s
AuthorizedKeysFile .ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
SyslogFacility AUTH
LogLevel INFO
UseDNS no
Subsystem sftp internal-sftp
# Root's bash would otherwise source ~/.bashrc for every remote command (bash
# does that under sshd at shell level 1); a slow rc file, such as pyenv's
# rehash, would then stall every poll of the console.
SetEnv SHLVL=1
`, n, SSHPort, s.NodeAddr(n), s.hostKey(n), filepath.Join(s.NodeDir(n), "sshd.pid"))
}

// configYAML is the redkeep config of the lab: the console reads it, and the
// hooks on both nodes read it too. Node-local paths point into NodeView,
// which each node sees as its own directory.
func (s *Settings) configYAML() (string, error) {
	t := s.timing()
	data := map[string]any{
		"S":          s,
		"Dir":        s.Dir,
		"VIP":        fmt.Sprintf("%s/%d", s.VIP(), s.Subnet.Bits()),
		"View":       s.NodeView(),
		"Redkeep":    s.RedkeepPath(),
		"Config":     s.ConfigPath(),
		"Key":        s.clientKey(),
		"KnownHosts": s.knownHosts(),
		"SSHConfig":  s.sshConfig(),
		"User":       s.sshUser(),
		"Nodes": []map[string]any{
			{"Name": "a", "Host": s.NodeAddr("a"), "Priority": t.PriorityA},
			{"Name": "b", "Host": s.NodeAddr("b"), "Priority": t.PriorityB},
		},
		"Timing":      t,
		"ExtraConfig": s.ExtraConfig,
		"RedisPort":   RedisPort,
		"SSHPort":     SSHPort,
		"Notify":      s.NotifyCommand(),
	}
	var b strings.Builder
	if err := configTmpl().Execute(&b, data); err != nil {
		return "", fmt.Errorf("render lab config: %w", err)
	}
	return b.String(), nil
}

// configTmpl is parsed when first used, not in every redkeep process's
// start (keepalived runs `redkeep hook check` every second).
var configTmpl = sync.OnceValue(func() *template.Template { return template.Must(template.New("config.yaml").Parse(configText)) })

const configText = `# redkeep config for the lab in {{.Dir}}, written by ` + "`redkeep lab up`" + `.
# The console (redkeep -c {{.Config}}) and the hooks on both nodes read it.
# Each node sees its own directory at {{.View}}, so the node-local paths
# below are the same on both, as on two real hosts.
vip: {{.VIP}}

nodes:
{{- range .Nodes}}
  - name: {{.Name}}
    host: {{.Host}}
    ssh:
      port: {{$.SSHPort}}
      user: {{$.User}}
      identity_files: [{{$.Key}}]
      known_hosts: {{$.KnownHosts}}
      config_file: {{$.SSHConfig}}
    redis:
      addr: 127.0.0.1:{{$.RedisPort}}
      peer_addr: {{.Host}}:{{$.RedisPort}}
    keepalived:
      priority: {{.Priority}}
      interface: eth0
    redkeep: {{$.Redkeep}}
    config_path: {{$.Config}}
{{- end}}

keepalived:
  virtual_router_id: 51
  advert_int: {{.Timing.AdvertInt}}
  vrrp_version: {{.Timing.VRRPVersion}}
  track_file: {{.View}}/drain
{{- if .S.NoWatch}}
  watch:
    enabled: false                 # the check alone detects a dead Redis
{{- end}}

hooks:
  state_file: {{.View}}/state.json
  state_log: {{.View}}/redis-state.log
  lock_file: {{.View}}/hook.lock
  maintenance_file: {{.View}}/maintenance.json
  event_log: {{.View}}/events.jsonl

notify:
  # Each node appends the events it is told about to {{.View}}/notifications.jsonl.
  command: [{{.Notify}}]
  timeout: 5s

console:
  syslog: {{.View}}/syslog
{{- with .ExtraConfig}}

{{.}}
{{- end}}
`

// notifyScript is the lab's notify.command: the event's JSON (stdin) and
// its one-line text ($REDKEEP_TEXT) appended to the node's notifications
// file, one JSON line per event.
func notifyScript(view string) string {
	return `#!/bin/sh
# notify.command of the redkeep lab, written by redkeep lab up: appends the
# event redkeep hands it (JSON on stdin) to this node's notifications file.
set -e
event=$(cat)
printf '%s\n' "$event" >> ` + view + `/notifications.jsonl
`
}
