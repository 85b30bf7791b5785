package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/deploy"
)

// Each node has an /etc of its own, copied from the machine's at lab up
// (nodeWrapper binds it over /etc), and a /home of its own: users, groups
// and sudoers drop-ins are the node's, as on a separate host. The console
// logs in as the unprivileged DefaultSSHUser, with the rights deploy
// grants on a real host and no more: the lab grants them with deploy's own
// functions. A baseline lab stands for hosts before redkeep, where an
// operator account has full sudo (AdminSudoers) to run deploy with.

// SSH users the lab can give the console.
const (
	DefaultSSHUser = "redkeep"
	RootSSHUser    = "root"
)

// adminSudoers is the baseline's bootstrap drop-in, in the node's /etc.
const adminSudoers = "lab-admin"

// sshUser is the console's SSH user on the nodes.
func (s *Settings) sshUser() string {
	if s.SSHUser == "" {
		return DefaultSSHUser
	}
	return s.SSHUser
}

// nodeEtc is node n's /etc.
func (s *Settings) nodeEtc(n string) string { return filepath.Join(s.NodeDir(n), "etc") }

// nodeHomes is node n's /home.
func (s *Settings) nodeHomes(n string) string { return filepath.Join(s.NodeDir(n), "home") }

// AdminSudoers is the baseline's bootstrap drop-in giving the console's
// SSH user full sudo on node n, as seen from the root namespace: what an
// operator has before deploy. Removing it leaves deploy's rights only.
func (s *Settings) AdminSudoers(n string) string {
	return filepath.Join(s.nodeEtc(n), "sudoers.d", adminSudoers)
}

// homeOf is user's home on the node, as seen from the root namespace.
func (s *Settings) homeOf(n, user string) string {
	if user == RootSSHUser {
		return s.nodeHome(n)
	}
	return filepath.Join(s.nodeHomes(n), user)
}

// nodeRoot runs a script as root in node n's view of /etc and /home, with
// in as its stdin: what deploy runs over SSH with sudo on a real host. It
// needs no network namespace, so it works before the network exists.
func (s *Settings) nodeRoot(n string) deploy.RootRunner {
	return func(ctx context.Context, script string, in io.Reader) error {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "slave", "sh", "-c",
			`mount --bind "$1" /etc && mount --bind "$2" /home && exec sh -ec "$3"`, "sh", s.nodeEtc(n), s.nodeHomes(n), script)
		cmd.Stdin = in
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("node %s: %w: %s", n, err, strings.TrimSpace(out.String()))
		}
		return nil
	}
}

// ids are a user's uid and gid.
type ids struct{ uid, gid int }

// makeNodeEtc gives node n its own /etc and /home, and the console's SSH
// user with the console's key. It returns that user's ids.
func (s *Settings) makeNodeEtc(ctx context.Context, n string, pub []byte) (ids, error) {
	if _, err := runCmd(ctx, "cp", "-a", "/etc", s.nodeEtc(n)); err != nil {
		return ids{}, fmt.Errorf("node %s: its own /etc: %w", n, err)
	}
	// The machine's own drop-ins for redkeep (a deploy to this machine)
	// are not the node's: the node starts as a host before redkeep.
	for _, f := range []string{deploy.SudoersFile, "/etc/sudoers.d/" + adminSudoers} {
		if err := os.Remove(filepath.Join(s.nodeEtc(n), strings.TrimPrefix(f, "/etc/"))); err != nil && !os.IsNotExist(err) {
			return ids{}, err
		}
	}
	if err := os.MkdirAll(s.nodeHomes(n), 0o755); err != nil {
		return ids{}, err
	}
	user := s.sshUser()
	id := ids{}
	if user != RootSSHUser {
		// A user of that name on this machine comes along in the copy:
		// it keeps its ids but loses its groups and home here. Its
		// password is '*', none that works, rather than useradd's '!',
		// which sshd without PAM takes for a locked account.
		script := fmt.Sprintf(`PATH=$PATH:/usr/sbin:/sbin
id -u %[1]s >/dev/null 2>&1 || useradd --user-group --no-create-home --home-dir /home/%[1]s --shell /bin/bash %[1]s
usermod -G '' --home /home/%[1]s --shell /bin/bash --password '*' %[1]s
`, user)
		if err := s.nodeRoot(n)(ctx, script, nil); err != nil {
			return ids{}, fmt.Errorf("node %s: add user %s: %w", n, user, err)
		}
		var err error
		if id, err = passwdIDs(filepath.Join(s.nodeEtc(n), "passwd"), user); err != nil {
			return ids{}, fmt.Errorf("node %s: %w", n, err)
		}
	}
	home := s.homeOf(n, user)
	ssh := filepath.Join(home, ".ssh")
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{home, 0o750}, {ssh, 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return ids{}, err
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return ids{}, err
		}
		if err := os.Chown(d.path, id.uid, id.gid); err != nil {
			return ids{}, err
		}
	}
	keys := filepath.Join(ssh, "authorized_keys")
	if err := os.WriteFile(keys, pub, 0o600); err != nil {
		return ids{}, err
	}
	return id, os.Chown(keys, id.uid, id.gid)
}

// passwdIDs reads user's uid and gid from a passwd file.
func passwdIDs(passwd, user string) (ids, error) {
	b, err := os.ReadFile(passwd)
	if err != nil {
		return ids{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[0] != user {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return ids{}, fmt.Errorf("%s: unreadable entry for %s: %q", passwd, user, line)
		}
		return ids{uid, gid}, nil
	}
	return ids{}, fmt.Errorf("%s: no user %s", passwd, user)
}

// grantRights gives the console's SSH user its rights on node n: in a
// redkeep lab what deploy grants (its drop-in and log groups, rendered
// and installed by deploy's functions); in a baseline lab full sudo, the
// operator's before deploy, and the log groups an operator reading the
// logs is in. Root needs nothing.
func (s *Settings) grantRights(ctx context.Context, n string, cfg *config.Config) error {
	user := s.sshUser()
	if user == RootSSHUser {
		return nil
	}
	root := s.nodeRoot(n)
	if err := deploy.JoinGroups(ctx, root, user, deploy.LogGroups); err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	if s.Baseline {
		text := fmt.Sprintf("# The lab's bootstrap admin rights of %s (a host before redkeep deploy).\n%s ALL=(ALL) NOPASSWD: ALL\n", user, user)
		if err := os.WriteFile(s.AdminSudoers(n), []byte(text), 0o440); err != nil {
			return fmt.Errorf("node %s: %w", n, err)
		}
		return nil
	}
	node, err := cfg.Node(n)
	if err != nil {
		return err
	}
	text, err := deploy.Sudoers(user, node)
	if err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	if err := deploy.InstallSudoers(ctx, root, text); err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	return nil
}

// syslogOwner makes node n's syslog file root:adm 0640, as Debian and
// Ubuntu ship /var/log/syslog: the console's user reads it through the
// adm group.
func (s *Settings) syslogOwner(n string) error {
	gid, err := groupID(filepath.Join(s.nodeEtc(n), "group"), "adm")
	if err != nil {
		return fmt.Errorf("node %s: %w", n, err)
	}
	if err := os.Chown(s.Syslog(n), 0, gid); err != nil {
		return err
	}
	return os.Chmod(s.Syslog(n), 0o640)
}

// groupID reads a group's gid from a group file.
func groupID(groupFile, name string) (int, error) {
	b, err := os.ReadFile(groupFile)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			gid, err := strconv.Atoi(f[2])
			if err != nil {
				return 0, fmt.Errorf("%s: unreadable entry for %s: %q", groupFile, name, line)
			}
			return gid, nil
		}
	}
	return 0, fmt.Errorf("%s: no group %s", groupFile, name)
}
