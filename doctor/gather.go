package doctor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/shell"
	"github.com/redkeep/redkeep/nodes"
)

// DefaultKeepalivedConf is where keepalived reads its config when the
// running keepalived names no other.
const DefaultKeepalivedConf = "/etc/keepalived/keepalived.conf"

// maxScripts bounds how many scripts of one keepalived.conf are read.
const maxScripts = 16

// Gather reads both nodes' facts over SSH, in parallel, each within
// timeout. It never fails: a node it cannot read says so in its facts.
// It reads only: files with cat-like tools as the SSH user (no sudo), Redis
// with INFO and CONFIG GET.
func Gather(ctx context.Context, cfg *config.Config, timeout time.Duration) Facts {
	f := Facts{VIP: cfg.VIPAddr().String(), Nodes: make([]NodeFacts, len(cfg.Nodes))}
	var wg sync.WaitGroup
	for i := range cfg.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Nodes[i] = gatherNode(ctx, cfg, &cfg.Nodes[i], timeout)
		}()
	}
	wg.Wait()
	return f
}

func gatherNode(ctx context.Context, cfg *config.Config, n *config.Node, timeout time.Duration) NodeFacts {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nf := NodeFacts{Node: n.Name, Host: n.Host, Redkeep: n.Redkeep}
	if cfg.Keepalived.Watch.On() {
		nf.HealthFile = cfg.Keepalived.Watch.HealthFile
	}
	conn, err := nodes.DialNode(n, nodes.Options{})
	if err != nil {
		nf.Err = err.Error()
		return nf
	}
	defer conn.Close()
	p := nodes.NewProber(cfg, n, conn, timeout)
	defer p.Close()
	snap := p.Probe(ctx)
	if snap.Conn != nodes.ConnConnected {
		nf.Err = fmt.Sprintf("%s: %s", snap.Conn, snap.ConnErr)
		return nf
	}
	nf.Version, nf.Hooks = snap.Version, snap.Hooks
	nf.Redis.Up, nf.Redis.Err, nf.Redis.Info = snap.Redis.Up, snap.Redis.Err, snap.Redis.Info
	if snap.Redis.Up {
		rs := p.ReadServer(ctx, "save", "appendonly")
		nf.Redis.Config, nf.Redis.ConfigErr, nf.Redis.PID = rs.Config, rs.ConfigErr, rs.PID
		if rs.Err != "" {
			nf.Redis.ConfigErr = rs.Err
		}
	}

	// The clock alone, so the round trip that bounds the reading is short.
	sent := time.Now()
	out, err := conn.Run(ctx, "date +%s%N")
	received := time.Now()
	if err == nil {
		if ns, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); perr == nil {
			nf.Clock = &Clock{Sent: sent, Remote: time.Unix(0, ns), Received: received}
		}
	}

	files := redkeepFiles(cfg, n)
	out, err = conn.Run(ctx, baseCommand(files, cfg.Redis.PasswordFile))
	if err != nil {
		nf.Err = fmt.Sprintf("reading files: %v", err)
		return nf
	}
	sec := sections(out)
	nf.User = strings.TrimSpace(string(sec["user"]))
	kpath := DefaultKeepalivedConf
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sec["kaconf"]))); err == nil && len(b) > 0 {
		kpath = string(b)
	}
	nf.KeepalivedConf = parseFile(sec["file 0"], File{Role: "keepalived.conf", Path: kpath}, nf.User)
	for i, fl := range files {
		nf.Files = append(nf.Files, parseFile(sec[fmt.Sprintf("file %d", i+1)], fl, nf.User))
	}
	if cfg.Redis.PasswordFile != "" {
		pf := parseFile(sec["file pw"], File{Role: "Redis password file", Path: cfg.Redis.PasswordFile}, nf.User)
		nf.PasswordFile = &pf
	}

	// The scripts keepalived.conf runs, and the unit Redis runs in.
	var scripts []File
	if nf.KeepalivedConf.Read {
		if ss, err := parseConf(nf.KeepalivedConf.Content); err == nil {
			scripts = confScripts(readConf(ss))
		}
	}
	out, err = conn.Run(ctx, scriptsCommand(scripts, n.Redkeep, nf.Redis.PID))
	if err != nil {
		nf.Err = fmt.Sprintf("reading scripts: %v", err)
		return nf
	}
	sec = sections(out)
	for i, sc := range scripts {
		nf.Scripts = append(nf.Scripts, parseFile(sec[fmt.Sprintf("file %d", i)], sc, nf.User))
	}
	nf.Redis.Unit = strings.TrimSpace(string(sec["unit"]))
	nf.Redis.Restart = strings.TrimSpace(string(sec["restart"]))
	return nf
}

// redkeepFiles are redkeep's files and directories on node n, examined
// for their modes.
func redkeepFiles(cfg *config.Config, n *config.Node) []File {
	var out []File
	add := func(role, path string) {
		for _, f := range out {
			if f.Path == path {
				return
			}
		}
		out = append(out, File{Role: role, Path: path})
	}
	add("redkeep binary", n.Redkeep)
	add("redkeep binary's", filepath.Dir(n.Redkeep))
	add("redkeep config", n.ConfigPath)
	add("redkeep config's", filepath.Dir(n.ConfigPath))
	add("hooks' state", filepath.Dir(cfg.Hooks.StateFile))
	add("hooks' lock", filepath.Dir(cfg.Hooks.LockFile))
	add("drain track file", cfg.Keepalived.TrackFile)
	add("drain track file's", filepath.Dir(cfg.Keepalived.TrackFile))
	if cfg.Keepalived.Watch.On() {
		add("watcher's health file", cfg.Keepalived.Watch.HealthFile)
		add("watcher's health file's", filepath.Dir(cfg.Keepalived.Watch.HealthFile))
	}
	add("redis-state log's", filepath.Dir(cfg.Hooks.StateLog))
	return out
}

// confScripts are the programs keepalived.conf runs, at most maxScripts.
func confScripts(c kaConf) []File {
	var out []File
	add := func(role, cmd string) {
		p := commandPath(cmd)
		if p == "" || len(out) >= maxScripts {
			return
		}
		for _, f := range out {
			if f.Path == p {
				return
			}
		}
		out = append(out, File{Role: role, Path: p})
	}
	for _, in := range c.instances {
		for _, k := range notifyKeys {
			if cmd, ok := in.notify[k]; ok {
				add(k+" script", cmd.command)
			}
		}
		for _, t := range in.tracks {
			if vs, ok := c.scripts[t.name]; ok {
				add("vrrp_script", vs.script)
			}
		}
	}
	return out
}

// fileFunc prints one file's facts: "stat MODE OWNER GROUP TYPE", then
// "content BASE64" when asked to read it and it may, or an "error" line.
const fileFunc = `rkf() {
  printf '#file %s\n' "$1"
  if ! st=$(LC_ALL=C stat -L -c '%a %U %G %F' -- "$2" 2>&1); then
    printf 'error %s\n' "$(printf %s "$st" | head -c 300 | tr '\n' ' ')"; return 0
  fi
  printf 'stat %s\n' "$st"
  [ "$3" = read ] || return 0
  [ -f "$2" ] || return 0
  if [ -r "$2" ]; then
    printf 'content '; head -c ` + "65537" + ` -- "$2" | base64 | tr -d '\n'; echo
  else
    printf 'error cannot read as %s: permission denied\n' "$(id -un)"
  fi
}
`

// kaconfPath prints the running keepalived's config file (its -f or
// --use-file), base64-encoded, or nothing: the keepalived of this network
// namespace, as nodes decides whether keepalived runs.
const kaconfPath = `me=$(readlink /proc/self/ns/net); kconf=
for p in $(pgrep -x keepalived 2>/dev/null); do
  if ns=$(readlink /proc/$p/ns/net 2>/dev/null); then [ "$ns" = "$me" ] || continue; fi
  set -- $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)
  while [ $# -gt 0 ]; do
    case "$1" in
      -f|--use-file) kconf=$2; shift ;;
      --use-file=*) kconf=${1#*=} ;;
    esac
    shift
  done
  [ -n "$kconf" ] && break
done
echo '#kaconf'; [ -n "$kconf" ] && printf %s "$kconf" | base64 | tr -d '\n'; echo
[ -n "$kconf" ] || kconf=` + DefaultKeepalivedConf + `
`

// baseCommand reads who we are, keepalived.conf and redkeep's files.
func baseCommand(files []File, passwordFile string) string {
	var b strings.Builder
	b.WriteString(fileFunc)
	b.WriteString("echo '#user'; id -un\n")
	b.WriteString(kaconfPath)
	b.WriteString(`rkf 0 "$kconf" read` + "\n")
	for i, f := range files {
		fmt.Fprintf(&b, "rkf %d %s\n", i+1, shell.Quote(f.Path))
	}
	if passwordFile != "" {
		// Its mode only: the password is never read.
		fmt.Fprintf(&b, "rkf pw %s\n", shell.Quote(passwordFile))
	}
	b.WriteString("true\n")
	return b.String()
}

// scriptsCommand reads the scripts (the redkeep binary only stat'ed) and
// the systemd unit of the Redis process pid, with its Restart= setting.
func scriptsCommand(scripts []File, redkeep string, pid int) string {
	var b strings.Builder
	b.WriteString(fileFunc)
	for i, f := range scripts {
		mode := "read"
		if f.Path == redkeep {
			mode = "stat"
		}
		fmt.Fprintf(&b, "rkf %d %s %s\n", i, shell.Quote(f.Path), mode)
	}
	if pid > 0 {
		fmt.Fprintf(&b, `unit=$(head -c 8192 /proc/%d/cgroup 2>/dev/null | sed -n 's#.*/\([^/]*redis[^/]*\.service\).*#\1#p' | head -n 1)
echo '#unit'; echo "$unit"
echo '#restart'; [ -n "$unit" ] && systemctl show -p Restart --value "$unit" 2>/dev/null
`, pid)
	}
	b.WriteString("true\n")
	return b.String()
}

// sections splits a command's output at its "#name" lines.
func sections(out []byte) map[string][]byte {
	m := map[string][]byte{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 2*MaxFileBytes)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 1 && line[0] == '#' {
			cur = string(line[1:])
			continue
		}
		m[cur] = append(append(m[cur], line...), '\n')
	}
	return m
}

// parseFile fills f from one rkf section.
func parseFile(sec []byte, f File, user string) File {
	if sec == nil {
		f.Err = "not examined"
		return f
	}
	for _, line := range strings.Split(string(sec), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		switch kind {
		case "error":
			switch {
			case strings.Contains(rest, "No such file"):
				f.Exists = false
			case strings.Contains(rest, "ermission denied"):
				f.Err = fmt.Sprintf("cannot read %s as %s: permission denied", f.Path, user)
			default:
				f.Err = rest
			}
		case "stat":
			w := strings.Fields(rest)
			if len(w) < 4 {
				f.Err = "unexpected stat output: " + rest
				continue
			}
			m, err := strconv.ParseUint(w[0], 8, 32)
			if err != nil {
				f.Err = "unexpected stat mode: " + w[0]
				continue
			}
			f.Exists, f.Mode, f.Owner, f.Group = true, uint32(m), w[1], w[2]
			f.Dir = strings.Join(w[3:], " ") == "directory"
		case "content":
			b, err := base64.StdEncoding.DecodeString(rest)
			if err != nil {
				f.Err = "content not base64: " + err.Error()
				continue
			}
			if len(b) > MaxFileBytes {
				b, f.Truncated = b[:MaxFileBytes], true
			}
			f.Content, f.Read = string(b), true
		}
	}
	return f
}
