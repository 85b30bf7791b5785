// Package deploy installs redkeep on a pair's nodes over SSH: the binary,
// config.yaml, the hooks' directories, and keepalived.conf with redkeep's
// hooks, reloaded replica first without moving the VIP; then it verifies
// the pair. Run twice, the second run finds nothing to change.
package deploy

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aymanbagabas/go-udiff"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks"
	rkbuild "github.com/redkeep/redkeep/internal/buildinfo"
	"github.com/redkeep/redkeep/internal/shell"
	"github.com/redkeep/redkeep/internal/termsafe"
)

// DefaultKeepalivedConf is keepalived's config file when the running
// keepalived names none (-f/--use-file).
const DefaultKeepalivedConf = "/etc/keepalived/keepalived.conf"

// Modes deploy gives what it installs.
const (
	modeBinary   = 0o755
	modeConfig   = 0o640 // root-owned, not world-readable: it names the password file
	modePassword = 0o600
	modeDir      = 0o755
	modeKaConf   = 0o644
)

// ConfigMode is config.yaml's mode once installed: root's, readable by
// the SSH user's group (whose user reads it for `hook state`, which the
// console polls), by nobody else.
const ConfigMode = modeConfig

// ErrRefused means a node's checks failed: nothing was changed.
var ErrRefused = errors.New("deploy refused")

// Runner runs shell commands on one node over SSH (nodes.Conn).
type Runner interface {
	Run(ctx context.Context, cmd string) ([]byte, error)
	RunInput(ctx context.Context, cmd string, in io.Reader) ([]byte, error)
}

// Options are one deploy.
type Options struct {
	Cfg *config.Config
	// ConfigText is the config.yaml installed on the nodes (the pair's file).
	ConfigText []byte
	// Node limits the deploy to one node ("": both).
	Node string
	// Binary is the redkeep executable to install.
	Binary string
	// PasswordFile, when set, is a local file copied to redis.password_file
	// on the nodes. Without it no secret leaves this machine.
	PasswordFile string
	DryRun       bool
	// Confirm is asked once the plan is printed; nil means --yes.
	Confirm func() error
	Out     io.Writer
	// Conns reach the nodes, by node name.
	Conns map[string]Runner
	// Healthy reports whether the pair is healthy (the status verdict) and
	// describes it; deploy waits up to VerifyTimeout for it.
	Healthy       func(ctx context.Context) (bool, string)
	VerifyTimeout time.Duration
	Now           func() time.Time
}

// Result is what a deploy did.
type Result struct {
	// Changes counts the changes planned (and made, unless a dry run).
	Changes int
	Took    time.Duration
}

// change is one thing deploy changes on a node.
type change struct {
	what string // "binary", "config", ...
	path string
	why  string
}

// nodePlan is one node's checks and changes.
type nodePlan struct {
	node     *config.Node
	run      Runner
	host     host
	files    nodeFiles
	sudo     string
	problems []string
	changes  []change

	mkdirs                      []string
	binary, password, configNew bool
	configMode                  bool
	kaconf                      string // rendered keepalived.conf
	kaconfNew                   bool
	diff                        string
	// adopt: the node has no hooks state file; once keepalived runs
	// redkeep's hooks, `hook adopt` writes it from keepalived's log.
	adopt bool

	// The SSH user's rights (none when it is root): config.yaml's group,
	// the sudoers drop-in and the log groups to join.
	configGID   int
	sudoers     string
	sudoersNew  bool
	sudoersDiff string
	joinGroups  []string

	staged, backup string // keepalived.conf staged beside it, and its backup
	switched       bool
}

type binaryInfo struct {
	path, sha, goos, goarch, version string
}

func localBinary(path string) (binaryInfo, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return binaryInfo{}, fmt.Errorf("--binary %s: not a Go executable with build info: %w", path, err)
	}
	b := binaryInfo{path: path, version: bi.Main.Version}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			b.goos = s.Value
		case "GOARCH":
			b.goarch = s.Value
		}
	}
	if b.goos == "" || b.goarch == "" {
		return b, fmt.Errorf("--binary %s: its build info names no GOOS/GOARCH", path)
	}
	if b.sha, err = rkbuild.FileSHA256(path); err != nil {
		return b, err
	}
	return b, nil
}

// Run checks every node, prints the plan, and unless refused, a dry run or
// not confirmed, installs and verifies.
func Run(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	if o.Now == nil {
		o.Now = time.Now
	}
	res := Result{}
	bin, err := localBinary(o.Binary)
	if err != nil {
		return res, err
	}
	if o.PasswordFile != "" && o.Cfg.Redis.PasswordFile == "" {
		return res, errors.New("--password-file: the config sets no redis.password_file to install it as")
	}
	var pwSHA string
	if o.PasswordFile != "" {
		if pwSHA, err = rkbuild.FileSHA256(o.PasswordFile); err != nil {
			return res, fmt.Errorf("--password-file: %w", err)
		}
	}
	var plans []*nodePlan
	for i := range o.Cfg.Nodes {
		n := &o.Cfg.Nodes[i]
		if o.Node != "" && n.Name != o.Node {
			continue
		}
		r := o.Conns[n.Name]
		if r == nil {
			return res, fmt.Errorf("node %s: no connection", n.Name)
		}
		p := &nodePlan{node: n, run: r}
		if err := p.check(ctx, o, bin, pwSHA); err != nil {
			p.problems = append(p.problems, err.Error())
		}
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		return res, fmt.Errorf("--node %s: no such node in the config", o.Node)
	}
	// Replica (no VIP) first, the VIP holder last.
	slices.SortStableFunc(plans, func(a, b *nodePlan) int {
		switch {
		case a.files.HoldsVIP == b.files.HoldsVIP:
			return 0
		case a.files.HoldsVIP:
			return 1
		default:
			return -1
		}
	})
	printPlan(o.Out, o.Cfg, bin, plans)
	refused := false
	for _, p := range plans {
		refused = refused || len(p.problems) > 0
		res.Changes += len(p.changes)
	}
	if refused {
		return res, fmt.Errorf("%w: fix the problems above; nothing was changed", ErrRefused)
	}
	if res.Changes == 0 {
		fmt.Fprintln(o.Out, "nothing to change")
		res.Took = time.Since(start)
		return res, nil
	}
	if o.DryRun {
		fmt.Fprintln(o.Out, "dry run: nothing was changed")
		res.Took = time.Since(start)
		return res, nil
	}
	if o.Confirm != nil {
		if err := o.Confirm(); err != nil {
			return res, err
		}
	}
	err = apply(ctx, o, bin, plans)
	res.Took = time.Since(start)
	return res, err
}

// check runs the node's checks and computes its changes.
func (p *nodePlan) check(ctx context.Context, o Options, bin binaryInfo, pwSHA string) error {
	n := p.node
	h, err := probeHost(ctx, p.run)
	if err != nil {
		return fmt.Errorf("cannot probe the host: %w", err)
	}
	p.host = h
	if h.OS != bin.goos || h.Arch != bin.goarch {
		p.problems = append(p.problems, fmt.Sprintf("the host is %s/%s but %s is built for %s/%s: cross-build with `GOOS=%s GOARCH=%s go build -o redkeep-%s-%s .` and pass it with --binary",
			h.OS, h.Arch, bin.path, bin.goos, bin.goarch, h.OS, h.Arch, h.OS, h.Arch))
	}
	if h.Keepalived == "" {
		p.problems = append(p.problems, "keepalived is not installed (apt-get install keepalived)")
	}
	if h.Redis == "" {
		p.problems = append(p.problems, "redis-server is not installed (apt-get install redis-server)")
	}
	if !h.SudoOK {
		return fmt.Errorf("the SSH user is not root and `sudo -n true` fails (%s): deploy needs passwordless sudo on the node", h.SudoErr)
	}
	dirs := managedDirs(o.Cfg, n)
	read := []string{n.ConfigPath}
	if !h.Root {
		p.sudo = "sudo -n "
		// config.yaml holds no secret (validation refuses them there), and
		// the SSH user reads it for `hook state` and `maintenance status`.
		p.configGID = h.GID
		text, err := Sudoers(h.User, n)
		if err != nil {
			return err
		}
		p.sudoers = text
		read = append(read, SudoersFile)
	}
	hash := []string{n.Redkeep, o.Cfg.Hooks.StateFile}
	if pwSHA != "" {
		hash = append(hash, o.Cfg.Redis.PasswordFile)
	}
	f, err := probeFiles(ctx, p.run, p.sudo, o.Cfg.VIPAddr().String(), read, hash, dirs)
	if err != nil {
		return fmt.Errorf("cannot read the node's files: %w", err)
	}
	p.files = f
	if p.sudoers != "" {
		p.checkRights(f, h)
	}
	if f.KeepalivedPID == 0 {
		p.problems = append(p.problems, "keepalived is not running in this node's network: start it with its current config first (deploy reloads it, it never starts it)")
	}

	for _, d := range dirs {
		st := f.Files[d]
		switch {
		case !st.Exists:
			p.mkdirs = append(p.mkdirs, d)
			p.changes = append(p.changes, change{"directory", d, fmt.Sprintf("create, root-owned %04o", modeDir)})
		case st.Kind != "directory":
			p.problems = append(p.problems, fmt.Sprintf("%s is a %s, not a directory", d, st.Kind))
		case st.UID != 0 || st.Mode&0o022 != 0:
			p.problems = append(p.problems, fmt.Sprintf("directory %s is owned by uid %d with mode %04o: the root hooks refuse a directory others can write; make it root-owned and not group/world-writable", d, st.UID, st.Mode))
		}
	}
	if st := f.Files[n.Redkeep]; !st.Exists || st.Kind != "regular file" || st.SHA256 != bin.sha || st.UID != 0 || st.Mode != modeBinary {
		p.binary = true
		why := "install"
		if st.Exists {
			why = fmt.Sprintf("replace (sha256 %s)", short(st.SHA256))
		}
		p.changes = append(p.changes, change{"binary", n.Redkeep, fmt.Sprintf("%s with sha256 %s, root-owned %04o", why, short(bin.sha), modeBinary)})
	}
	if pwSHA != "" {
		if st := f.Files[o.Cfg.Redis.PasswordFile]; !st.Exists || st.SHA256 != pwSHA || st.UID != 0 || st.Mode != modePassword {
			p.password = true
			p.changes = append(p.changes, change{"password", o.Cfg.Redis.PasswordFile, fmt.Sprintf("install from %s (content not shown), root-owned %04o", o.PasswordFile, modePassword)})
		}
	}
	switch st := f.Files[n.ConfigPath]; {
	case !st.Exists || st.Kind != "regular file" || string(st.Content) != string(o.ConfigText):
		p.configNew = true
		p.changes = append(p.changes, change{"config", n.ConfigPath, fmt.Sprintf("install this config, %s %04o", p.configOwner(h), modeConfig)})
	case st.UID != 0 || st.GID != p.configGID || st.Mode != modeConfig:
		p.configMode = true
		p.changes = append(p.changes, change{"config", n.ConfigPath, fmt.Sprintf("owner %d:%d mode %04o -> %s %04o", st.UID, st.GID, st.Mode, p.configOwner(h), modeConfig)})
	}
	conf, err := hooks.KeepalivedConf(o.Cfg, n.Name)
	if err != nil {
		return err
	}
	p.kaconf = conf
	cur := f.Files[f.KeepalivedConf]
	if !cur.Exists || string(cur.Content) != conf {
		p.kaconfNew = true
		p.diff = maskSecrets(udiff.Unified(f.KeepalivedConf, f.KeepalivedConf+" (redkeep)", string(cur.Content), conf))
		how := "install"
		if cur.Exists {
			how = "replace (diff below; the old file kept as a timestamped backup)"
		}
		p.changes = append(p.changes, change{"keepalived.conf", f.KeepalivedConf, how + ", validated with keepalived -t, then keepalived reloaded (SIGHUP)"})
	}
	// A reload runs no notify for the state keepalived keeps, so a node
	// new to redkeep's hooks would have no state file (its keepalived
	// state unknown, a switchover to it refused) until its next transition.
	if st := f.Files[o.Cfg.Hooks.StateFile]; !st.Exists {
		p.adopt = true
		p.changes = append(p.changes, change{"hooks state", o.Cfg.Hooks.StateFile, "none yet: write keepalived's current state from its last transition line once it runs redkeep's hooks (`redkeep hook adopt`)"})
	}
	return nil
}

// configOwner says who owns config.yaml once installed.
func (p *nodePlan) configOwner(h host) string {
	if p.configGID == 0 {
		return "root:root"
	}
	return fmt.Sprintf("root:%s (the SSH user %s's group, for `hook state`)", h.Group, h.User)
}

// checkRights plans the SSH user's sudoers drop-in and log groups.
func (p *nodePlan) checkRights(f nodeFiles, h host) {
	if !f.SudoersD {
		p.problems = append(p.problems, "/etc/sudoers does not include /etc/sudoers.d (@includedir /etc/sudoers.d): add that line with visudo, then deploy again")
		return
	}
	st := f.Files[SudoersFile]
	if !st.Exists || st.Kind != "regular file" || string(st.Content) != p.sudoers || st.UID != 0 || st.GID != 0 || st.Mode != modeSudoers {
		p.sudoersNew = true
		how := "install"
		if st.Exists {
			how = "replace"
		}
		p.changes = append(p.changes, change{"sudoers", SudoersFile, fmt.Sprintf("%s (below), root-owned %04o, checked with visudo -cf: %s may run `redkeep hook %s` as root, nothing else",
			how, modeSudoers, h.User, strings.Join(SudoVerbs, "|"))})
		p.sudoersDiff = udiff.Unified(SudoersFile, SudoersFile+" (redkeep)", string(st.Content), p.sudoers)
	}
	p.joinGroups = missingGroups(h.LogGroups, h.Member)
	if len(p.joinGroups) > 0 {
		p.changes = append(p.changes, change{"groups", h.User, fmt.Sprintf("add to %s (usermod -aG), to read the journal and syslog files", strings.Join(p.joinGroups, ", "))})
	}
}

// managedDirs are the directories the hooks use, and those of the binary
// and the config.
func managedDirs(cfg *config.Config, n *config.Node) []string {
	var ds []string
	for _, f := range []string{n.Redkeep, n.ConfigPath, cfg.Hooks.StateFile, cfg.Hooks.StateLog, cfg.Hooks.LockFile,
		cfg.Hooks.MaintenanceFile, cfg.Hooks.EventLog, cfg.Keepalived.TrackFile, cfg.Keepalived.Watch.HealthFile} {
		if f == "" {
			continue
		}
		if d := filepath.Dir(f); !slices.Contains(ds, d) {
			ds = append(ds, d)
		}
	}
	return ds
}

// authPass is compiled when first used, not in every redkeep process's start.
var authPass = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^([-+ ]\s*auth_pass\s+)\S+`) })

// maskSecrets hides VRRP passwords in a diff.
func maskSecrets(diff string) string {
	return authPass().ReplaceAllString(diff, "${1}(hidden)")
}

func short(sha string) string {
	if len(sha) > rkbuild.HashLen {
		return sha[:rkbuild.HashLen]
	}
	if sha == "" {
		return "unknown"
	}
	return sha
}

func printPlan(w io.Writer, cfg *config.Config, bin binaryInfo, plans []*nodePlan) {
	fmt.Fprintf(w, "deploy: pair %s, redkeep %s (%s/%s, sha256 %s)\n", cfg.Pair, bin.path, bin.goos, bin.goarch, short(bin.sha))
	for i, p := range plans {
		role := "VIP holder: last"
		if !p.files.HoldsVIP {
			role = "no VIP: first"
		}
		who := "root"
		if !p.host.Root && p.host.User != "" {
			who = p.host.User + " with sudo -n"
		}
		fmt.Fprintf(w, "node %s (%d of %d, %s): %s/%s, keepalived %s, redis-server %s, as %s\n", p.node.Name, i+1, len(plans), role,
			orDash(p.host.OS), orDash(p.host.Arch), orDash(p.host.Keepalived), orDash(p.host.Redis), who)
		for _, pr := range p.problems {
			fmt.Fprintf(w, "  PROBLEM: %s\n", pr)
		}
		if len(p.problems) > 0 {
			continue
		}
		if len(p.changes) == 0 {
			fmt.Fprintln(w, "  nothing to change")
		}
		for _, c := range p.changes {
			fmt.Fprintf(w, "  %-15s %s: %s\n", c.what, c.path, c.why)
		}
		for _, d := range []string{p.sudoersDiff, p.diff} {
			if d == "" {
				continue
			}
			for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// apply makes the changes: files on every node first, keepalived.conf
// staged and validated on every node; then each node's keepalived.conf
// switched and keepalived reloaded, replica first, back to back; then the
// pair verified. A failure after a switch restores the backups.
func apply(ctx context.Context, o Options, bin binaryInfo, plans []*nodePlan) error {
	stamp := o.Now().UTC().Format("20060102T150405Z")
	for _, p := range plans {
		if err := p.installFiles(ctx, o, bin); err != nil {
			unstage(ctx, plans)
			return fmt.Errorf("stopped on node %s while installing files: %w; keepalived.conf was not changed on any node", p.node.Name, err)
		}
		if p.kaconfNew {
			if err := p.stage(ctx, stamp); err != nil {
				unstage(ctx, plans)
				return fmt.Errorf("stopped on node %s: %w; keepalived.conf was not changed on any node", p.node.Name, err)
			}
			fmt.Fprintf(o.Out, "node %s: files installed; keepalived.conf staged and valid (keepalived -t)\n", p.node.Name)
		} else {
			fmt.Fprintf(o.Out, "node %s: files installed\n", p.node.Name)
		}
	}
	// The switches run back to back: with the peers' VRRP settings
	// different (advert_int, authentication) a reloaded BACKUP ignores the
	// old MASTER's adverts, and would take the VIP after three of its own
	// advert intervals.
	// With a sub-second advert_int that is a fraction of a second (three
	// intervals: 0.3 s by default), sooner than the next reload may come:
	// so the node without the VIP is switched drained (track file 1:
	// FAULT, it never becomes MASTER) and undrained once the VIP holder
	// runs the same settings.
	drained := drainFirst(plans)
	if drained != nil {
		if err := drained.writeTrack(ctx, o.Cfg.Keepalived.TrackFile, "1"); err != nil {
			unstage(ctx, plans)
			return fmt.Errorf("stopped on node %s draining it before its keepalived reload: %w; keepalived.conf was not changed on any node", drained.node.Name, err)
		}
		fmt.Fprintf(o.Out, "node %s: drained (%s = 1) until the VIP holder runs the new keepalived.conf too\n", drained.node.Name, o.Cfg.Keepalived.TrackFile)
	}
	undrain := func() error {
		if drained == nil {
			return nil
		}
		return drained.writeTrack(context.WithoutCancel(ctx), o.Cfg.Keepalived.TrackFile, "0")
	}
	var last time.Time
	for _, p := range plans {
		if !p.kaconfNew {
			continue
		}
		if err := p.switchConf(ctx); err != nil {
			rerr := restore(ctx, o.Out, plans)
			if uerr := undrain(); uerr != nil {
				rerr += fmt.Sprintf("; undraining %s failed: %v (run `redkeep hook undrain` on it)", drained.node.Name, uerr)
			}
			return fmt.Errorf("stopped on node %s switching keepalived.conf: %w; %s", p.node.Name, err, rerr)
		}
		gap := ""
		if !last.IsZero() {
			gap = fmt.Sprintf(" (%s after the previous node's)", time.Since(last).Round(time.Millisecond))
		}
		last = time.Now()
		fmt.Fprintf(o.Out, "node %s: keepalived.conf in place (old one in %s), keepalived reloaded%s\n", p.node.Name, p.backupOrNone(), gap)
	}
	if err := undrain(); err != nil {
		rerr := restore(ctx, o.Out, plans)
		return fmt.Errorf("undraining node %s after the reloads: %w; %s", drained.node.Name, err, rerr)
	}
	if drained != nil {
		fmt.Fprintf(o.Out, "node %s: undrained (%s = 0)\n", drained.node.Name, o.Cfg.Keepalived.TrackFile)
	}
	for _, p := range plans {
		if p.adopt {
			p.adoptState(ctx, o)
		}
	}
	if err := verify(ctx, o, bin, plans); err != nil {
		rerr := restore(ctx, o.Out, plans)
		return fmt.Errorf("verification failed: %w; %s", err, rerr)
	}
	return nil
}

// drainFirst returns the node to keep drained while the pair's keepalived
// reloads: the first one switched, when it does not hold the VIP and the
// VIP holder is switched after it; nil otherwise.
func drainFirst(plans []*nodePlan) *nodePlan {
	var first *nodePlan
	for _, p := range plans {
		switch {
		case !p.kaconfNew:
		case first == nil && !p.files.HoldsVIP:
			first = p
		case first != nil && p.files.HoldsVIP:
			return first
		}
	}
	return nil
}

// writeTrack replaces the node's drain track file with value, atomically
// through a fresh temporary file beside it (keepalived never reads a
// half-written number; nothing planted at a fixed name is followed).
func (p *nodePlan) writeTrack(ctx context.Context, path, value string) error {
	q := shell.Quote(path)
	return p.root(ctx, fmt.Sprintf("t=$(mktemp %s)\nprintf '%%s\\n' %s > \"$t\"\nchmod 0644 \"$t\"\nmv -f \"$t\" %s\n",
		shell.Quote(path+".XXXXXX"), value, q), nil)
}

func (p *nodePlan) backupOrNone() string {
	if p.backup == "" {
		return "none: there was no file"
	}
	return p.backup
}

// adoptState runs `redkeep hook adopt` on the node and says what it did.
// A refusal is reported, not fatal: the pair runs, and the node's state is
// known at its next keepalived transition.
func (p *nodePlan) adoptState(ctx context.Context, o Options) {
	q := shell.Quote
	cmd := fmt.Sprintf("%s%s hook adopt --config %s --node %s", p.sudo, q(p.node.Redkeep), q(p.node.ConfigPath), q(p.node.Name))
	out, err := p.run.RunInput(ctx, cmd, nil)
	if err != nil {
		fmt.Fprintf(o.Out, "node %s: WARNING: %v; its keepalived state stays unknown (and a switchover to it refused) until keepalived's next transition there\n", p.node.Name, err)
		return
	}
	fmt.Fprintf(o.Out, "node %s: %s\n", p.node.Name, termsafe.Clean(strings.TrimSpace(string(out))))
}

// root runs a shell script as root on the node, with in as its stdin.
func (p *nodePlan) root(ctx context.Context, script string, in io.Reader) error {
	_, err := p.run.RunInput(ctx, p.sudo+"sh -c "+shell.Quote("set -e\n"+script), in)
	return err
}

// installFile uploads the local file src to dest through a temp file in
// dest's directory, checks its sha256 there, and renames it into place.
func (p *nodePlan) installFile(ctx context.Context, src, sha, dest string, gid int, mode os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	q := shell.Quote(dest)
	script := fmt.Sprintf(`t=$(mktemp %s.redkeep-XXXXXX)
trap 'rm -f "$t"' EXIT
cat > "$t"
got=$(sha256sum "$t" | cut -d' ' -f1)
[ "$got" = %s ] || { echo "checksum mismatch after upload: sha256 $got, want %s" >&2; exit 1; }
chown 0:%d "$t"; chmod %04o "$t"
mv -f "$t" %s
trap - EXIT
`, q, sha, sha, gid, mode, q)
	if err := p.root(ctx, script, f); err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	return nil
}

func (p *nodePlan) installFiles(ctx context.Context, o Options, bin binaryInfo) error {
	for _, d := range p.mkdirs {
		if err := p.root(ctx, fmt.Sprintf("install -d -o 0 -g 0 -m %04o %s", modeDir, shell.Quote(d)), nil); err != nil {
			return fmt.Errorf("directory %s: %w", d, err)
		}
	}
	if p.binary {
		if err := p.installFile(ctx, bin.path, bin.sha, p.node.Redkeep, 0, modeBinary); err != nil {
			return err
		}
	}
	if p.password {
		sha, err := rkbuild.FileSHA256(o.PasswordFile)
		if err != nil {
			return err
		}
		if err := p.installFile(ctx, o.PasswordFile, sha, o.Cfg.Redis.PasswordFile, 0, modePassword); err != nil {
			return err
		}
	}
	switch {
	case p.configNew:
		if err := p.installText(ctx, o.ConfigText, p.node.ConfigPath, p.configGID, modeConfig); err != nil {
			return err
		}
	case p.configMode:
		q := shell.Quote(p.node.ConfigPath)
		if err := p.root(ctx, fmt.Sprintf("chown 0:%d %s; chmod %04o %s", p.configGID, q, modeConfig, q), nil); err != nil {
			return fmt.Errorf("%s: %w", p.node.ConfigPath, err)
		}
	}
	if p.sudoersNew {
		if err := InstallSudoers(ctx, p.root, p.sudoers); err != nil {
			return err
		}
	}
	if len(p.joinGroups) > 0 {
		if err := JoinGroups(ctx, p.root, p.host.User, p.joinGroups); err != nil {
			return err
		}
	}
	return nil
}

// installText is installFile for bytes held here.
func (p *nodePlan) installText(ctx context.Context, text []byte, dest string, gid int, mode os.FileMode) error {
	tmp, err := os.CreateTemp("", "redkeep-deploy-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	sha, err := rkbuild.FileSHA256(tmp.Name())
	if err != nil {
		return err
	}
	return p.installFile(ctx, tmp.Name(), sha, dest, gid, mode)
}

// stage writes the new keepalived.conf beside the current one and checks
// it with keepalived -t.
func (p *nodePlan) stage(ctx context.Context, stamp string) error {
	conf := p.files.KeepalivedConf
	staged := conf + ".redkeep-new"
	if err := p.installText(ctx, []byte(p.kaconf), staged, 0, modeKaConf); err != nil {
		return fmt.Errorf("stage keepalived.conf: %w", err)
	}
	p.staged = staged
	if p.files.Files[conf].Exists {
		p.backup = conf + ".redkeep-backup-" + stamp
	}
	out, err := p.run.Run(ctx, p.sudo+"sh -c "+shell.Quote("PATH=$PATH:/usr/sbin:/sbin; keepalived -t -f "+shell.Quote(staged)+" 2>&1"))
	if err != nil {
		return fmt.Errorf("keepalived -t refuses the new keepalived.conf: %w %s", err, abbrev(strings.TrimSpace(string(out))))
	}
	return nil
}

// switchConf backs up the current keepalived.conf, renames the staged one
// into place and reloads keepalived.
func (p *nodePlan) switchConf(ctx context.Context) error {
	conf := shell.Quote(p.files.KeepalivedConf)
	var b strings.Builder
	if p.backup != "" {
		fmt.Fprintf(&b, "cp -p %s %s\n", conf, shell.Quote(p.backup))
	}
	fmt.Fprintf(&b, "mv -f %s %s\n", shell.Quote(p.staged), conf)
	b.WriteString(reloadScript(p.files.KeepalivedPID))
	if err := p.root(ctx, b.String(), nil); err != nil {
		return err
	}
	p.switched, p.staged = true, ""
	return nil
}

// reloadScript sends SIGHUP to keepalived's parent, what `systemctl reload
// keepalived` does, after checking the pid is still keepalived.
func reloadScript(pid int) string {
	return fmt.Sprintf(`[ "$(cat /proc/%[1]d/comm 2>/dev/null)" = keepalived ] || { echo "keepalived (pid %[1]d) is no longer running" >&2; exit 1; }
kill -HUP %[1]d
`, pid)
}

func unstage(ctx context.Context, plans []*nodePlan) {
	for _, p := range plans {
		if p.staged != "" {
			_ = p.root(context.WithoutCancel(ctx), "rm -f "+shell.Quote(p.staged), nil)
			p.staged = ""
		}
	}
}

// restore puts back the backups of the nodes already switched and reloads
// their keepalived, and says what it did.
func restore(ctx context.Context, out io.Writer, plans []*nodePlan) string {
	ctx = context.WithoutCancel(ctx)
	unstage(ctx, plans)
	var done, failed []string
	for _, p := range plans {
		if !p.switched {
			continue
		}
		if p.backup == "" {
			failed = append(failed, fmt.Sprintf("%s: there was no keepalived.conf before, %s stays", p.node.Name, p.files.KeepalivedConf))
			continue
		}
		script := fmt.Sprintf("cp -p %s %s.redkeep-restore\nmv -f %s.redkeep-restore %s\n", shell.Quote(p.backup), shell.Quote(p.files.KeepalivedConf),
			shell.Quote(p.files.KeepalivedConf), shell.Quote(p.files.KeepalivedConf)) + reloadScript(p.files.KeepalivedPID)
		if err := p.root(ctx, script, nil); err != nil {
			failed = append(failed, fmt.Sprintf("%s: restoring %s from %s failed: %v", p.node.Name, p.files.KeepalivedConf, p.backup, err))
			continue
		}
		p.switched = false
		done = append(done, p.node.Name)
		fmt.Fprintf(out, "node %s: keepalived.conf restored from %s, keepalived reloaded\n", p.node.Name, p.backup)
	}
	switch {
	case len(failed) > 0:
		return "RESTORE FAILED: " + strings.Join(failed, "; ")
	case len(done) > 0:
		return "the old keepalived.conf is restored and reloaded on " + strings.Join(done, ", ") + " (the binary, config.yaml and the SSH user's sudoers drop-in and groups stay installed; the old config does not use them)"
	default:
		return "keepalived.conf was not changed on any node"
	}
}

// verify waits for a healthy pair and checks every node runs this build.
func verify(ctx context.Context, o Options, bin binaryInfo, plans []*nodePlan) error {
	want := short(bin.sha)
	var ids []string
	for i := range o.Cfg.Nodes {
		n := &o.Cfg.Nodes[i]
		r := o.Conns[n.Name]
		if r == nil {
			continue
		}
		out, err := r.Run(ctx, shell.Quote(n.Redkeep)+" version")
		if err != nil {
			return fmt.Errorf("node %s: %s version: %w", n.Name, n.Redkeep, err)
		}
		id := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "redkeep "))
		ids = append(ids, n.Name+" "+id)
		if got := rkbuild.HashOf(id); got != want && (o.Node == "" || o.Node == n.Name) {
			return fmt.Errorf("node %s runs redkeep %q, not sha256 %s", n.Name, id, want)
		}
	}
	fmt.Fprintf(o.Out, "builds: %s\n", strings.Join(ids, ", "))
	if o.Healthy == nil {
		return nil
	}
	deadline := time.Now().Add(o.VerifyTimeout)
	for {
		ok, state := o.Healthy(ctx)
		if ok {
			fmt.Fprintf(o.Out, "pair healthy: %s\n", state)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the pair is not healthy after %s: %s", o.VerifyTimeout, state)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}
