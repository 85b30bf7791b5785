package deploy

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/shell"
	"github.com/redkeep/redkeep/wire"
)

// The console logs in as an unprivileged SSH user (docs/safety.md rule 11).
// Reading state and logs needs no root: config.yaml is readable by the
// user's group and the logs by the groups below. The few verbs that change
// a node run through `sudo -n`, allowed by a drop-in deploy writes.

// SudoersFile is the drop-in deploy writes for the SSH user.
const SudoersFile = "/etc/sudoers.d/redkeep"

// modeSudoers is what sudo expects of a drop-in: root's, read-only.
const modeSudoers = 0o440

// LogGroups are the groups that read a host's logs: the journal
// (systemd-journal) and syslog files (adm, as Debian and Ubuntu ship
// /var/log/syslog root:adm 0640). deploy adds the SSH user to those the
// node has, so the console's log panes need no sudo.
var LogGroups = []string{"systemd-journal", "adm"}

// SudoVerbs are the `redkeep hook` verbs the drop-in allows (the
// console's wire.RootVerbs), each followed by its arguments and then the
// node's pinned --config and --node. Nothing else: `hook notify`, `check`,
// `master`, `drain` and the like are keepalived's, and could promote Redis
// or move the VIP outside a switchover's checks; `hook state` and
// `maintenance status` only read world-readable files, as the SSH user.
var SudoVerbs = wire.RootVerbs

// userRE is a user name sudoers and the shell take as a plain word: what
// useradd accepts by default (NAME_REGEX of Debian's adduser), no more.
var userRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`) })

// sudoersPathRE is a path that needs no quoting in sudoers or the shell:
// sudoers gives ',', ':', '=', '\', '*', '?', '[', ']', '!', '#' and blanks
// meanings of their own.
var sudoersPathRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(/[A-Za-z0-9._+-]+)+$`) })

// CheckUser refuses a user name that is not a plain login name.
func CheckUser(name string) error {
	if !userRE().MatchString(name) {
		return fmt.Errorf("SSH user %q: not a plain user name (lowercase letters, digits, '_' and '-', at most 32, not starting with a digit or '-')", name)
	}
	return nil
}

// Sudoers renders the drop-in that lets user run SudoVerbs, and only
// those, with node n's redkeep and its config pinned. sudo's '*' matches
// any arguments, spaces included, so a command line may carry a --config
// of its own before the pinned one: the last --config wins, and the
// pinned one is last; a hook running as root under sudo also refuses any
// config that someone other than root could change (hooks.TrustedConfig).
func Sudoers(user string, n *config.Node) (string, error) {
	if err := CheckUser(user); err != nil {
		return "", err
	}
	if user == "root" {
		return "", fmt.Errorf("SSH user root needs no sudoers drop-in")
	}
	for _, p := range []struct{ key, path string }{{"redkeep", n.Redkeep}, {"config_path", n.ConfigPath}} {
		if !sudoersPathRE().MatchString(p.path) || slices.Contains(strings.Split(p.path, "/"), "..") {
			return "", fmt.Errorf("node %s: %s %q: sudoers needs an absolute path of letters, digits and . _ + - only", n.Name, p.key, p.path)
		}
	}
	if !userRE().MatchString(n.Name) {
		return "", fmt.Errorf("node name %q: not a plain name for sudoers", n.Name)
	}
	alias := "REDKEEP_" + strings.ToUpper(strings.ReplaceAll(user, "-", "_"))
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by redkeep deploy; it is replaced on the next deploy.
# The console's SSH user %[1]s runs the node verbs of a switchover,
# maintenance, resolve and history as root, with this node's config pinned.
# Reading state and logs needs no sudo.
Defaults:%[1]s !requiretty
Cmnd_Alias %[2]s = \
`, user, alias)
	for i, v := range SudoVerbs {
		sep := ", \\"
		if i == len(SudoVerbs)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    %s hook %s * --config %s --node %s%s\n", n.Redkeep, v, n.ConfigPath, n.Name, sep)
	}
	fmt.Fprintf(&b, "%s ALL=(root) NOPASSWD: %s\n", user, alias)
	return b.String(), nil
}

// RootRunner runs a shell script as root on a node, with in as its stdin
// (nil: none).
type RootRunner func(ctx context.Context, script string, in io.Reader) error

// InstallSudoers puts text in place as SudoersFile: staged beside it under
// a name sudo's includedir skips (it holds a '.'), checked with
// `visudo -cf`, made root's 0440 and renamed into place. A drop-in visudo
// refuses never reaches sudo: one broken file in /etc/sudoers.d stops
// every sudo on the host.
func InstallSudoers(ctx context.Context, root RootRunner, text string) error {
	script := fmt.Sprintf(`PATH=$PATH:/usr/sbin:/sbin
install -d -o 0 -g 0 -m 0755 /etc/sudoers.d
t=$(mktemp %s.redkeep-XXXXXX)
trap 'rm -f "$t"' EXIT
cat > "$t"
chown 0:0 "$t"; chmod %04o "$t"
out=$(visudo -cf "$t" 2>&1) || { echo "visudo refuses the drop-in: $out" >&2; exit 1; }
mv -f "$t" %s
trap - EXIT
`, SudoersFile, modeSudoers, SudoersFile)
	if err := root(ctx, script, strings.NewReader(text)); err != nil {
		return fmt.Errorf("%s: %w", SudoersFile, err)
	}
	return nil
}

// JoinGroups adds user to those of groups that exist on the node.
func JoinGroups(ctx context.Context, root RootRunner, user string, groups []string) error {
	if err := CheckUser(user); err != nil {
		return err
	}
	if len(groups) == 0 {
		return nil
	}
	var qs []string
	for _, g := range groups {
		if !userRE().MatchString(g) {
			return fmt.Errorf("group %q: not a plain group name", g)
		}
		qs = append(qs, shell.Quote(g))
	}
	script := fmt.Sprintf(`PATH=$PATH:/usr/sbin:/sbin
gs=
for g in %s; do getent group "$g" >/dev/null && gs="$gs,$g"; done
[ -z "$gs" ] || usermod -aG "${gs#,}" %s
`, strings.Join(qs, " "), shell.Quote(user))
	if err := root(ctx, script, nil); err != nil {
		return fmt.Errorf("add %s to %s: %w", user, strings.Join(groups, ", "), err)
	}
	return nil
}

// missingGroups are the log groups the node has (existing) that user is
// not in (member).
func missingGroups(existing, member []string) []string {
	var out []string
	for _, g := range LogGroups {
		if slices.Contains(existing, g) && !slices.Contains(member, g) {
			out = append(out, g)
		}
	}
	return out
}
