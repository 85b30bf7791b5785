package actions

import (
	"errors"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/nodes"
)

// TestCommandSudo: for an SSH user other than root the verbs that change
// a node go through `sudo -n`, with the config and node last where the
// sudoers drop-in pins them; the verbs that only read do not; root needs
// no sudo at all. A sudo refusal names the node, the verb, what sudo
// said and the fix.
func TestCommandSudo(t *testing.T) {
	cfg := &config.Config{Nodes: []config.Node{{Name: "a", Redkeep: "/usr/local/bin/redkeep", ConfigPath: "/etc/redkeep/config.yaml"}}}
	for _, c := range []struct {
		user     string
		args     []string
		wantSudo bool
	}{
		{"redkeep", []string{"hook", "switchover-lock", "acquire", "--owner", "x"}, true},
		{"redkeep", []string{"hook", "switchover-run", "--to", "b"}, true},
		{"redkeep", []string{"hook", "maintenance", "on", "--reason", "it's"}, true},
		{"redkeep", []string{"hook", "resolve-follow", "--keep", "b"}, true},
		{"redkeep", []string{"hook", "maintenance", "status"}, false},
		{"redkeep", []string{"hook", "history", "--json"}, true},
		{"redkeep", []string{"hook", "state", "--json"}, false},
		{"root", []string{"hook", "switchover-run", "--to", "b"}, false},
	} {
		s := UseConns(cfg, map[string]*nodes.Conn{"a": nodes.NewConn(&nodes.Target{User: c.user, HostName: "a"}, nodes.Options{})})
		cmd, _, fix, err := s.command("a", c.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.HasPrefix(cmd, "sudo -n /usr/local/bin/redkeep hook "); got != c.wantSudo {
			t.Errorf("%s %q: %s, want sudo %v", c.user, c.args, cmd, c.wantSudo)
		}
		if !strings.HasSuffix(cmd, " --config /etc/redkeep/config.yaml --node a") {
			t.Errorf("%s %q: %s does not end with the pinned config and node", c.user, c.args, cmd)
		}
		refused := errors.New("ssh redkeep@a: \"sudo -n ...\": Process exited with status 1: sudo: a password is required")
		err = fix(refused)
		var se *nodes.SudoError
		switch {
		case !c.wantSudo && err != refused:
			t.Errorf("%s %q: error changed without sudo: %v", c.user, c.args, err)
		case c.wantSudo && (!errors.As(err, &se) || !strings.Contains(err.Error(), "sudo refused `redkeep "+strings.Join(c.args[:2], " ")) || !strings.Contains(err.Error(), "on node a") ||
			!strings.Contains(err.Error(), "sudo: a password is required") || !strings.Contains(err.Error(), "run `redkeep deploy`")):
			t.Errorf("%s %q: refusal reads %v", c.user, c.args, err)
		}
		if other := errors.New("exit status 1: Error: no such node"); fix(other) != other {
			t.Errorf("%s %q: a redkeep error was taken for sudo's", c.user, c.args)
		}
	}
}
