package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/redkeep/redkeep/internal/shell"
)

// maxFile bounds a file read back from a node (config.yaml,
// keepalived.conf): both are a few kilobytes; config.Parse refuses more
// than 1 MiB.
const maxFile = 1 << 20

// host is what the first, unprivileged look at a node finds.
type host struct {
	OS, Arch   string // GOOS/GOARCH spelling of uname -s/-m
	Root       bool   // the SSH user is root
	SudoOK     bool   // sudo -n true works
	SudoErr    string // what sudo said when it did not
	Keepalived string // path, "" when missing
	Redis      string // redis-server's path, "" when missing
	User       string // the SSH user's name
	GID        int    // its primary group: config.yaml's group
	Group      string
	Member     []string // the groups the user database gives it
	LogGroups  []string // those of LogGroups the node has
}

// probeHost reads uname, the SSH user and the programs, without sudo.
func probeHost(ctx context.Context, r Runner) (host, error) {
	script := `PATH=$PATH:/usr/sbin:/sbin
uname -s; uname -m; id -u
command -v keepalived || echo -
command -v redis-server || echo -
if [ "$(id -u)" = 0 ]; then echo root; elif out=$(sudo -n true 2>&1); then echo sudo-ok; else echo "sudo-no $out" | head -n 1; fi
u=$(id -un); echo "user $u"; echo "gid $(id -g) $(id -gn)"
echo "member $(id -Gn "$u")"
echo "loggroups $(for g in ` + strings.Join(LogGroups, " ") + `; do getent group "$g" >/dev/null && printf '%s ' "$g"; done)"
`
	out, err := r.Run(ctx, script)
	if err != nil {
		return host{}, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) < 6 {
		return host{}, fmt.Errorf("unexpected reply to the host probe: %q", out)
	}
	h := host{OS: goos(lines[0]), Arch: goarch(lines[1]), Root: strings.TrimSpace(lines[2]) == "0"}
	if v := strings.TrimSpace(lines[3]); v != "-" {
		h.Keepalived = v
	}
	if v := strings.TrimSpace(lines[4]); v != "-" {
		h.Redis = v
	}
	switch s := strings.TrimSpace(lines[5]); {
	case s == "root", s == "sudo-ok":
		h.SudoOK = true
	default:
		h.SudoErr = strings.TrimSpace(strings.TrimPrefix(s, "sudo-no"))
	}
	for _, l := range lines[6:] {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "user":
			h.User = strings.TrimSpace(v)
		case "gid":
			id, name, _ := strings.Cut(strings.TrimSpace(v), " ")
			if h.GID, err = strconv.Atoi(id); err != nil {
				return h, fmt.Errorf("unexpected group id from the host probe: %q", l)
			}
			h.Group = name
		case "member":
			h.Member = strings.Fields(v)
		case "loggroups":
			h.LogGroups = strings.Fields(v)
		}
	}
	if h.User == "" {
		return h, fmt.Errorf("unexpected reply to the host probe (no user): %q", out)
	}
	return h, nil
}

func goos(unameS string) string {
	s := strings.ToLower(strings.TrimSpace(unameS))
	return s
}

func goarch(unameM string) string {
	switch m := strings.TrimSpace(unameM); m {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i486", "i586", "i686":
		return "386"
	case "armv6l", "armv7l":
		return "arm"
	default:
		return m // ppc64le, s390x, riscv64: the same spelling
	}
}

// fileState is one file or directory on a node as the privileged probe
// saw it.
type fileState struct {
	Exists  bool
	UID     int
	GID     int
	Mode    uint32 // permission bits
	Kind    string // "regular file", "directory", "symbolic link", ...
	SHA256  string // regular files hashed by the probe
	Content []byte // files read back (config.yaml, keepalived.conf)
}

// nodeFiles is what the privileged probe reads on a node.
type nodeFiles struct {
	HoldsVIP       bool
	SudoersD       bool   // /etc/sudoers includes /etc/sudoers.d
	KeepalivedPID  int    // keepalived's parent in the node's network namespace; 0: not running
	KeepalivedConf string // its -f/--use-file, else the default
	Files          map[string]fileState
}

// probeFiles runs as root (through sudo unless the SSH user is root): it
// finds keepalived and its config, whether the VIP is here, and the state
// of every path deploy manages. read are files whose content comes back,
// hash those hashed only.
func probeFiles(ctx context.Context, r Runner, sudo string, vip string, read, hash, dirs []string) (nodeFiles, error) {
	var b strings.Builder
	b.WriteString(`PATH=$PATH:/usr/sbin:/sbin
st() { if [ -e "$1" ] || [ -L "$1" ]; then stat -c '%u %g %a %F' -- "$1"; else echo -; fi; }
me=$(readlink /proc/self/ns/net); kpid=0; kconf=
for p in $(pgrep -x keepalived 2>/dev/null); do
  if ns=$(readlink /proc/$p/ns/net 2>/dev/null); then [ "$ns" = "$me" ] || continue; fi
  pp=$(awk '/^PPid:/ {print $2}' /proc/$p/status 2>/dev/null)
  [ "$(cat /proc/$pp/comm 2>/dev/null)" = keepalived ] && continue
  # A "keepalived -t" checking a config (someone's, or a deploy's) is not
  # the daemon, however briefly it shares its name.
  c= t=
  set -- $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)
  while [ $# -gt 0 ]; do
    case "$1" in
      -f|--use-file) c=$2; shift ;;
      --use-file=*) c=${1#*=} ;;
      -t|--config-test|--config-test=*) t=1 ;;
    esac
    shift
  done
  [ -z "$t" ] || continue
  kpid=$p kconf=$c
  break
done
[ -n "$kconf" ] || kconf=` + DefaultKeepalivedConf + `
printf 'ka\t%s\t%s\n' "$kpid" "$(printf %s "$kconf" | base64 | tr -d '\n')"
if ip -o addr show 2>/dev/null | grep -qF ` + shell.Quote(" "+vip+"/") + `; then echo 'vip	yes'; else echo 'vip	no'; fi
if grep -qE '^[#@]includedir[[:space:]]+/etc/sudoers.d/?[[:space:]]*$' /etc/sudoers 2>/dev/null; then echo 'sudoersd	yes'; else echo 'sudoersd	no'; fi
rd() { printf 'file\t%s\t%s\t' "$(printf %s "$1" | base64 | tr -d '\n')" "$(st "$1")"; if [ -f "$1" ] && [ ! -L "$1" ]; then head -c ` + strconv.Itoa(maxFile+1) + ` -- "$1" | base64 | tr -d '\n'; fi; echo; }
hs() { printf 'hash\t%s\t%s\t' "$(printf %s "$1" | base64 | tr -d '\n')" "$(st "$1")"; if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum -- "$1" | cut -d' ' -f1; else echo; fi; }
rd "$kconf"
`)
	for _, f := range read {
		fmt.Fprintf(&b, "rd %s\n", shell.Quote(f))
	}
	for _, f := range hash {
		fmt.Fprintf(&b, "hs %s\n", shell.Quote(f))
	}
	for _, d := range dirs {
		fmt.Fprintf(&b, "hs %s\n", shell.Quote(d))
	}
	b.WriteString("true\n")
	out, err := r.Run(ctx, sudo+"sh -c "+shell.Quote(b.String()))
	if err != nil {
		return nodeFiles{}, err
	}
	nf := nodeFiles{Files: map[string]fileState{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4*maxFile)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "ka" && len(f) == 3:
			nf.KeepalivedPID, _ = strconv.Atoi(f[1])
			p, err := base64.StdEncoding.DecodeString(f[2])
			if err != nil {
				return nf, fmt.Errorf("unreadable keepalived config path from the node: %v", err)
			}
			nf.KeepalivedConf = string(p)
		case f[0] == "vip" && len(f) == 2:
			nf.HoldsVIP = f[1] == "yes"
		case f[0] == "sudoersd" && len(f) == 2:
			nf.SudoersD = f[1] == "yes"
		case (f[0] == "file" || f[0] == "hash") && len(f) == 4:
			p, err := base64.StdEncoding.DecodeString(f[1])
			if err != nil {
				return nf, fmt.Errorf("unreadable path from the node: %v", err)
			}
			fs, err := parseStat(f[2])
			if err != nil {
				return nf, fmt.Errorf("%s: %v", p, err)
			}
			if f[0] == "hash" {
				fs.SHA256 = f[3]
			} else if fs.Exists && fs.Kind == "regular file" {
				c, err := base64.StdEncoding.DecodeString(f[3])
				if err != nil {
					return nf, fmt.Errorf("%s: unreadable content from the node: %v", p, err)
				}
				if len(c) > maxFile {
					return nf, fmt.Errorf("%s is larger than %d bytes: not a config file deploy manages", p, maxFile)
				}
				fs.Content = c
			}
			nf.Files[string(p)] = fs
		}
	}
	if err := sc.Err(); err != nil {
		return nf, fmt.Errorf("read the node's reply: %w", err)
	}
	if nf.KeepalivedConf == "" {
		return nf, fmt.Errorf("unexpected reply to the file probe (no keepalived line): %q", abbrev(string(out)))
	}
	return nf, nil
}

// parseStat parses `stat -c '%u %g %a %F'`, or "-" for a missing path.
func parseStat(s string) (fileState, error) {
	if s == "-" {
		return fileState{}, nil
	}
	f := strings.SplitN(s, " ", 4)
	if len(f) != 4 {
		return fileState{}, fmt.Errorf("unexpected stat output %q", s)
	}
	uid, err := strconv.Atoi(f[0])
	if err != nil {
		return fileState{}, fmt.Errorf("unexpected stat output %q", s)
	}
	gid, err := strconv.Atoi(f[1])
	if err != nil {
		return fileState{}, fmt.Errorf("unexpected stat output %q", s)
	}
	mode, err := strconv.ParseUint(f[2], 8, 32)
	if err != nil {
		return fileState{}, fmt.Errorf("unexpected stat output %q", s)
	}
	kind := f[3]
	if strings.HasPrefix(kind, "regular") { // "regular empty file" too
		kind = "regular file"
	}
	return fileState{Exists: true, UID: uid, GID: gid, Mode: uint32(mode), Kind: kind}, nil
}

func abbrev(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
