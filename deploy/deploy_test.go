package deploy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	rkbuild "github.com/redkeep/redkeep/internal/buildinfo"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/nodes"
)

func TestGoarch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm", "riscv64": "riscv64", "ppc64le": "ppc64le"} {
		if got := goarch(in + "\n"); got != want {
			t.Errorf("goarch(%q) = %q, want %q", in, got, want)
		}
	}
	if got := goos("Linux\n"); got != "linux" {
		t.Errorf("goos(Linux) = %q", got)
	}
}

func TestParseStat(t *testing.T) {
	for in, want := range map[string]fileState{
		"-":                          {},
		"0 0 755 directory":          {Exists: true, UID: 0, Mode: 0o755, Kind: "directory"},
		"1000 27 640 regular file":   {Exists: true, UID: 1000, GID: 27, Mode: 0o640, Kind: "regular file"},
		"0 0 644 regular empty file": {Exists: true, Mode: 0o644, Kind: "regular file"},
		"0 0 777 symbolic link":      {Exists: true, Mode: 0o777, Kind: "symbolic link"},
	} {
		got, err := parseStat(in)
		if err != nil || got.Exists != want.Exists || got.UID != want.UID || got.GID != want.GID || got.Mode != want.Mode || got.Kind != want.Kind {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0 755", "0 755 directory", "x 0 755 directory", "0 x 755 directory", "0 0 9z directory"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

func TestMaskSecrets(t *testing.T) {
	diff := "-    authentication {\n-        auth_type PASS\n-        auth_pass s3cret\n+        auth_pass other\n         auth_pass kept\n"
	got := maskSecrets(diff)
	if strings.Contains(got, "s3cret") || strings.Contains(got, "other") || strings.Contains(got, " kept") {
		t.Fatalf("a VRRP password shows:\n%s", got)
	}
	if !strings.Contains(got, "-        auth_pass (hidden)") || !strings.Contains(got, "auth_type PASS") {
		t.Fatalf("masked too much or too little:\n%s", got)
	}
}

// node is a config node reached over a real sshd on loopback.
func node(t *testing.T, srv *sshtest.Server, dir string) *config.Node {
	t.Helper()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.WriteKnownHosts(kh)
	sshCfg := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(sshCfg, []byte("Host *\n  IdentityAgent none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &config.Node{Name: "a", Host: "127.0.0.1",
		SSH:     config.SSH{Host: "127.0.0.1", Port: srv.Port, User: srv.User, IdentityFiles: []string{srv.ClientKeyFile}, KnownHosts: kh, ConfigFile: sshCfg},
		Redkeep: filepath.Join(dir, "bin", "redkeep"), ConfigPath: filepath.Join(dir, "etc", "config.yaml")}
}

func conn(t *testing.T, n *config.Node) *nodes.Conn {
	t.Helper()
	c, err := nodes.DialNode(n, nodes.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("installs root-owned files: run as root (CI does)")
	}
}

// planOverSSH is a node plan whose node is a real sshd on this machine,
// its files under the returned directory, with a context bounded for one test.
func planOverSSH(t *testing.T) (*nodePlan, string, context.Context) {
	t.Helper()
	needRoot(t)
	srv := sshtest.Start(t)
	dir := t.TempDir()
	n := node(t, srv, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return &nodePlan{node: n, run: conn(t, n)}, dir, ctx
}

// TestInstallFileOverSSH uploads through a real sshd: the file arrives
// whole, root-owned with the mode asked, and a checksum that does not
// match leaves the old file in place and no temp file behind.
func TestInstallFileOverSSH(t *testing.T) {
	p, dir, ctx := planOverSSH(t)

	src := filepath.Join(t.TempDir(), "src")
	data := bytes.Repeat([]byte("redkeep\x00"), 1<<16)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sha, err := rkbuild.FileSHA256(src)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "redkeep")
	if err := p.installFile(ctx, src, sha, dest, 0, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("installed file differs (%d bytes, %v)", len(got), err)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}

	if err := os.WriteFile(src, []byte("something else"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = p.installFile(ctx, src, sha, dest, 0, 0o755)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("upload with a wrong checksum: err %v, want a checksum mismatch", err)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Error("a failed upload replaced the file")
	}
	left, _ := filepath.Glob(dest + ".redkeep-*")
	if len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

// TestProbeOverSSH reads a host's facts and files through a real sshd.
func TestProbeOverSSH(t *testing.T) {
	needRoot(t)
	srv := sshtest.Start(t)
	dir := t.TempDir()
	n := node(t, srv, dir)
	c := conn(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := probeHost(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if h.OS != runtime.GOOS || h.Arch != runtime.GOARCH || !h.Root || !h.SudoOK || h.User != "root" || h.GID != 0 || h.Group != "root" {
		t.Errorf("host = %+v, want %s/%s as root", h, runtime.GOOS, runtime.GOARCH)
	}
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte("vip: x\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	bin := filepath.Join(dir, "bin")
	if err := os.WriteFile(bin, []byte("redkeep\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := probeFiles(ctx, c, "", "192.0.2.254", []string{cfgFile, missing}, []string{bin}, []string{open})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Files[cfgFile]; !got.Exists || string(got.Content) != "vip: x\n" || got.Mode != 0o640 || got.UID != 0 {
		t.Errorf("config file = %+v", got)
	}
	if got := f.Files[bin]; got.SHA256 != mustSHA(t, bin) {
		t.Errorf("binary = %+v, want its sha256", got)
	}
	if got := f.Files[missing]; got.Exists {
		t.Errorf("missing file = %+v", got)
	}
	if got := f.Files[open]; got.Kind != "directory" || got.Mode != 0o777 {
		t.Errorf("open dir = %+v", got)
	}
	if f.HoldsVIP {
		t.Error("192.0.2.254 is not on this host's interfaces")
	}
	if f.KeepalivedConf == "" {
		t.Error("no keepalived.conf path")
	}
}

func cfgFor(t *testing.T, n *config.Node) *config.Config {
	t.Helper()
	yaml := `vip: 127.0.0.254/8
keepalived: {virtual_router_id: 51}
nodes:
  - name: a
    host: 127.0.0.1
    redis: {addr: 127.0.0.1:6379, peer_addr: 127.0.0.1:6379}
    keepalived: {priority: 150, interface: lo}
    redkeep: ` + n.Redkeep + `
    config_path: ` + n.ConfigPath + `
  - name: b
    host: 127.0.0.2
    redis: {addr: 127.0.0.1:6379, peer_addr: 127.0.0.2:6379}
    keepalived: {priority: 100, interface: lo}
`
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Nodes[0].SSH = n.SSH
	return cfg
}

// TestRefusedChangesNothing: a node that fails its checks (here: no
// keepalived in its network namespace, and a directory others can write)
// gets a plan naming each problem, and nothing is created.
func TestRefusedChangesNothing(t *testing.T) {
	needRoot(t)
	srv := sshtest.Start(t)
	dir := t.TempDir()
	n := node(t, srv, dir)
	cfg := cfgFor(t, n)
	cfg.Hooks.StateLog = filepath.Join(dir, "open", "redis-state.log")
	if err := os.Mkdir(filepath.Join(dir, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	confirmed := false
	_, err = Run(context.Background(), Options{Cfg: cfg, ConfigText: []byte("x"), Node: "a", Binary: exe, Out: &out,
		Conns:   map[string]Runner{"a": conn(t, &cfg.Nodes[0])},
		Confirm: func() error { confirmed = true; return nil }})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want refused\n%s", err, out.String())
	}
	if confirmed {
		t.Error("asked for confirmation of a refused plan")
	}
	for _, want := range []string{"keepalived is not running", filepath.Join(dir, "open") + " is owned by uid 0 with mode 0777"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan does not say %q:\n%s", want, out.String())
		}
	}
	for _, p := range []string{n.Redkeep, n.ConfigPath, filepath.Dir(n.Redkeep)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was created by a refused deploy", p)
		}
	}
}

// TestArchMismatchSaysHowToCrossBuild uses canned host facts: a binary for
// another architecture is refused with the command that builds the right one.
func TestArchMismatchSaysHowToCrossBuild(t *testing.T) {
	p := &nodePlan{node: &config.Node{Name: "a", Redkeep: "/usr/local/bin/redkeep", ConfigPath: "/etc/redkeep/config.yaml"},
		run: cannedHost{reply: "Linux\naarch64\n0\n/usr/sbin/keepalived\n/usr/bin/redis-server\nroot\nuser root\ngid 0 root\nmember root\nloggroups adm \n"}}
	err := p.check(context.Background(), Options{Cfg: &config.Config{}}, binaryInfo{path: "./redkeep", goos: "linux", goarch: "amd64"}, "")
	if err == nil || !strings.Contains(err.Error(), "canned") {
		t.Fatalf("err = %v, want the canned runner's refusal of the file probe", err)
	}
	if len(p.problems) != 1 || !strings.Contains(p.problems[0], "GOOS=linux GOARCH=arm64 go build") || !strings.Contains(p.problems[0], "--binary") {
		t.Fatalf("problems = %q, want the cross-build advice", p.problems)
	}
}

// cannedHost answers the host probe, and the file probe when files is
// set, and refuses anything else.
type cannedHost struct{ reply, files string }

func (c cannedHost) Run(_ context.Context, cmd string) ([]byte, error) {
	switch {
	case strings.Contains(cmd, "uname -s"):
		return []byte(c.reply), nil
	case c.files != "" && strings.Contains(cmd, "sudoersd"):
		return []byte(c.files), nil
	}
	return nil, errors.New("canned host: no more commands")
}

func (c cannedHost) RunInput(ctx context.Context, cmd string, _ io.Reader) ([]byte, error) {
	return c.Run(ctx, cmd)
}

func mustSHA(t *testing.T, path string) string {
	t.Helper()
	s, err := rkbuild.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlanRightsOfAnUnprivilegedUser: for an SSH user other than root the
// plan holds the sudoers drop-in, the log groups the node has that the
// user is not in, and config.yaml's group; once they are in place the
// plan has nothing left to change for them.
func TestPlanRightsOfAnUnprivilegedUser(t *testing.T) {
	cfg, err := config.Parse([]byte(configtest.Pair{}.YAML()), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := &cfg.Nodes[0]
	want, err := Sudoers("ops", n)
	if err != nil {
		t.Fatal(err)
	}
	host := "Linux\nx86_64\n1001\n/usr/sbin/keepalived\n/usr/bin/redis-server\nsudo-ok\nuser ops\ngid 1001 ops\nmember ops adm\nloggroups systemd-journal adm \n"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	files := func(sudoers string) string {
		cp := n.ConfigPath
		st := "-\t"
		if sudoers != "" {
			st = "0 0 440 regular file\t" + b64(sudoers)
		}
		return "ka\t42\t" + b64("/etc/keepalived/keepalived.conf") + "\nvip\tno\nsudoersd\tyes\n" +
			"file\t" + b64(cp) + "\t0 1001 640 regular file\t" + b64("x") + "\n" +
			"file\t" + b64(SudoersFile) + "\t" + st + "\n"
	}
	bin := binaryInfo{path: "./redkeep", goos: "linux", goarch: "amd64"}
	kinds := func(p *nodePlan) map[string]string {
		m := map[string]string{}
		for _, c := range p.changes {
			m[c.what] = c.why
		}
		return m
	}

	p := &nodePlan{node: n, run: cannedHost{reply: host, files: files("")}}
	if err := p.check(context.Background(), Options{Cfg: cfg, ConfigText: []byte("x")}, bin, ""); err != nil {
		t.Fatal(err)
	}
	got := kinds(p)
	if !strings.Contains(got["sudoers"], "install") || !strings.Contains(got["groups"], "systemd-journal") || strings.Contains(got["groups"], "adm") {
		t.Errorf("changes = %q, want the drop-in installed and ops added to systemd-journal only", got)
	}
	if _, ok := got["config"]; ok || p.configGID != 1001 {
		t.Errorf("config change %q with group %d: config.yaml is already root:ops 0640", got["config"], p.configGID)
	}
	if p.sudoers != want || !strings.Contains(p.sudoersDiff, "+ops ALL=(root) NOPASSWD: REDKEEP_OPS") {
		t.Errorf("drop-in diff:\n%s", p.sudoersDiff)
	}

	host = strings.Replace(host, "member ops adm", "member ops adm systemd-journal", 1)
	p = &nodePlan{node: n, run: cannedHost{reply: host, files: files(want)}}
	if err := p.check(context.Background(), Options{Cfg: cfg, ConfigText: []byte("x")}, bin, ""); err != nil {
		t.Fatal(err)
	}
	got = kinds(p)
	for _, k := range []string{"sudoers", "groups", "config"} {
		if why, ok := got[k]; ok {
			t.Errorf("second plan changes %s: %s", k, why)
		}
	}
}

// TestWriteTrackOverSSH drains and undrains a node's track file through
// a real sshd, atomically and without leaving temporary files.
func TestWriteTrackOverSSH(t *testing.T) {
	p, dir, ctx := planOverSSH(t)
	track := filepath.Join(dir, "drain")
	for _, v := range []string{"1", "0"} {
		if err := p.writeTrack(ctx, track, v); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(track); err != nil || string(got) != v+"\n" {
			t.Fatalf("track file after writing %s: %q, %v", v, got, err)
		}
	}
	if left, _ := filepath.Glob(track + ".*"); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

func TestDrainFirst(t *testing.T) {
	plan := func(name string, holds, changes bool) *nodePlan {
		return &nodePlan{node: &config.Node{Name: name}, files: nodeFiles{HoldsVIP: holds}, kaconfNew: changes}
	}
	for _, c := range []struct {
		plans []*nodePlan
		want  string
	}{
		{[]*nodePlan{plan("b", false, true), plan("a", true, true)}, "b"},
		// Only the replica changes: no VIP holder reload follows it.
		{[]*nodePlan{plan("b", false, true), plan("a", true, false)}, ""},
		// Never drain the VIP holder.
		{[]*nodePlan{plan("a", true, true)}, ""},
		// No VIP holder at all: nothing to wait for.
		{[]*nodePlan{plan("a", false, true), plan("b", false, true)}, ""},
	} {
		got := ""
		if p := drainFirst(c.plans); p != nil {
			got = p.node.Name
		}
		if got != c.want {
			t.Errorf("drainFirst = %q, want %q", got, c.want)
		}
	}
}
