package nodes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
)

func TestResolveTarget(t *testing.T) {
	dir := t.TempDir()
	sshConfig := filepath.Join(dir, "config")
	writeFile(t, sshConfig, `
Host redis-a
  HostName 10.0.0.11
  User ops
  Port 2222
  IdentityFile /keys/a
  IdentityFile /keys/a2
  ProxyJump bastion

Host redis-b
  HostName %h.example.net
  ProxyJump jump1,admin@jump2:2200

Host bastion
  HostName 10.0.0.1
  User jumper
  UserKnownHostsFile /kh/bastion

Host loop
  ProxyJump loop

Host bad-port
  Port nine

Host *
  IdentityAgent none
`)
	node := func(ssh config.SSH) *config.Node {
		ssh.ConfigFile = sshConfig
		return &config.Node{Name: "a", Host: "10.0.0.11", SSH: ssh}
	}
	t.Run("alias from ssh_config", func(t *testing.T) {
		tg, err := ResolveTarget(node(config.SSH{Host: "redis-a"}))
		if err != nil {
			t.Fatal(err)
		}
		if tg.HostName != "10.0.0.11" || tg.Port != 2222 || tg.User != "ops" || strings.Join(tg.IdentityFiles, ",") != "/keys/a,/keys/a2" || tg.AgentSock != "" {
			t.Errorf("target = %+v", tg)
		}
		if tg.Jump == nil || tg.Jump.HostName != "10.0.0.1" || tg.Jump.User != "jumper" || tg.Jump.Port != 22 || tg.Jump.KnownHosts[0] != "/kh/bastion" {
			t.Errorf("jump = %+v", tg.Jump)
		}
		if got := tg.String(); got != "redis-a (ops@10.0.0.11:2222) via bastion (jumper@10.0.0.1:22)" {
			t.Errorf("String() = %q", got)
		}
	})
	t.Run("config.yaml wins", func(t *testing.T) {
		tg, err := ResolveTarget(node(config.SSH{Host: "redis-a", Port: 22, User: "root", IdentityFiles: []string{"/mine"}, KnownHosts: "/kh/mine"}))
		if err != nil {
			t.Fatal(err)
		}
		if tg.Port != 22 || tg.User != "root" || tg.IdentityFiles[0] != "/mine" || tg.KnownHosts[0] != "/kh/mine" || tg.Jump.KnownHosts[0] != "/kh/mine" {
			t.Errorf("target = %+v, jump %+v", tg, tg.Jump)
		}
	})
	t.Run("jump chain and %h", func(t *testing.T) {
		tg, err := ResolveTarget(node(config.SSH{Host: "redis-b"}))
		if err != nil {
			t.Fatal(err)
		}
		if tg.HostName != "redis-b.example.net" {
			t.Errorf("HostName = %q", tg.HostName)
		}
		j2 := tg.Jump
		if j2 == nil || j2.HostName != "jump2" || j2.User != "admin" || j2.Port != 2200 || j2.Jump == nil || j2.Jump.HostName != "jump1" {
			t.Errorf("jump chain = %v", tg)
		}
	})
	t.Run("no ssh_config entry", func(t *testing.T) {
		tg, err := ResolveTarget(node(config.SSH{Host: "10.0.0.12"}))
		if err != nil {
			t.Fatal(err)
		}
		if tg.HostName != "10.0.0.12" || tg.Port != 22 || tg.User == "" || tg.Jump != nil || tg.explicitKeys {
			t.Errorf("target = %+v", tg)
		}
	})
	t.Run("ProxyJump loop", func(t *testing.T) {
		if _, err := ResolveTarget(node(config.SSH{Host: "loop"})); err == nil || !strings.Contains(err.Error(), "ProxyJump") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("bad port", func(t *testing.T) {
		if _, err := ResolveTarget(node(config.SSH{Host: "bad-port"})); err == nil || !strings.Contains(err.Error(), `Port "nine"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing explicit ssh config", func(t *testing.T) {
		n := node(config.SSH{Host: "x"})
		n.SSH.ConfigFile = filepath.Join(dir, "nope")
		if _, err := ResolveTarget(n); err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("agent from environment", func(t *testing.T) {
		cfg := filepath.Join(dir, "empty")
		writeFile(t, cfg, "")
		n := node(config.SSH{Host: "x"})
		n.SSH.ConfigFile = cfg
		tg, err := ResolveTarget(n)
		if err != nil {
			t.Fatal(err)
		}
		if tg.AgentSock != os.Getenv("SSH_AUTH_SOCK") {
			t.Errorf("AgentSock = %q", tg.AgentSock)
		}
	})
}
