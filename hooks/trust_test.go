package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/redkeep/redkeep/config"
)

// TestTrustedPaths: which configs and hooks directories root accepts.
func TestTrustedPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root can make the root-owned files and directories the hooks accept")
	}
	t.Parallel()
	const nobody = 65534
	// base is root's, 0755, below /tmp (sticky) and a 0700 test directory.
	base := t.TempDir()
	mk := func(t *testing.T, rel string, mode os.FileMode, uid int) string {
		t.Helper()
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(rel, "/"):
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		case mode&os.ModeNamedPipe != 0:
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte("vip: x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, uid, -1); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(t *testing.T, target, rel string, uid int) string {
		t.Helper()
		p := filepath.Join(base, rel)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p, uid, -1); err != nil {
			t.Fatal(err)
		}
		return p
	}

	good := mk(t, "good/", 0o755, 0)
	mk(t, "good/sub/", 0o755, 0)
	sticky := mk(t, "sticky/", 0o777|os.ModeSticky, 0)
	mk(t, "sticky/root/", 0o755, 0)
	open := mk(t, "open/", 0o777, 0)
	mk(t, "open/root/", 0o755, 0)
	mk(t, "groupw/", 0o775, 0)
	mk(t, "groupw/root/", 0o755, 0)
	mk(t, "nobodys/", 0o755, nobody)
	goodCfg := mk(t, "good/config.yaml", 0o644, 0)
	link(t, goodCfg, "good/root-link.yaml", 0)
	link(t, goodCfg, "good/nobody-link.yaml", nobody)
	link(t, "sub", "good/rel-link", 0)
	link(t, "loop", "good/loop", 0)

	dirs := []struct {
		rel  string
		want string // "" when trusted
	}{
		{"good", ""},
		{"good/sub", ""},
		{"good/rel-link", ""},
		{"good/missing/deeper", ""},
		{"sticky/root", ""},
		{"groupw/root", ""}, // Ubuntu's /var/log is root:syslog 0775
		{"sticky", "world-writable (mode 0777)"},
		{"sticky/missing", "does not exist and its parent is not safe"},
		{"open", "group- and world-writable (mode 0777)"},
		{"open/root", "world-writable without the sticky bit"},
		{"groupw", "group-writable (mode 0775)"},
		{"nobodys", "owned by uid 65534"},
		{"good/config.yaml", "not a directory"},
		{"good/loop", "too many levels of symbolic links"},
	}
	for _, tt := range dirs {
		err := walkTrusted(filepath.Join(base, tt.rel), true)
		checkTrust(t, "directory "+tt.rel, err, tt.want)
	}

	mk(t, "good/world.yaml", 0o646, 0)
	mk(t, "good/group.yaml", 0o664, 0)
	mk(t, "good/nobody.yaml", 0o644, nobody)
	mk(t, "good/fifo.yaml", 0o644|os.ModeNamedPipe, 0)
	mk(t, "open/root/config.yaml", 0o644, 0)
	files := []struct {
		rel  string
		want string
	}{
		{"good/config.yaml", ""},
		{"good/root-link.yaml", ""},
		{"good/sub/../config.yaml", ""},
		{"good/world.yaml", "world-writable (mode 0646)"},
		{"good/group.yaml", "group-writable (mode 0664)"},
		{"good/nobody.yaml", "owned by uid 65534"},
		{"good/nobody-link.yaml", "symbolic link owned by uid 65534"},
		{"good/fifo.yaml", "named pipe"},
		{"good/missing.yaml", "no such file"},
		{"open/root/config.yaml", "world-writable without the sticky bit"},
	}
	for _, tt := range files {
		checkTrust(t, "config "+tt.rel, TrustedConfig(filepath.Join(base, tt.rel)), tt.want)
	}

	cfg := &config.Config{
		Hooks: config.Hooks{StateFile: filepath.Join(good, "state.json"), StateLog: filepath.Join(good, "log", "redis-state.log"), LockFile: filepath.Join(good, "hook.lock"),
			MaintenanceFile: filepath.Join(good, "maintenance.json")},
		Keepalived: config.Keepalived{TrackFile: filepath.Join(good, "drain")},
	}
	checkTrust(t, "hook files in a good directory", TrustedHookFiles(cfg), "")
	for _, c := range []struct {
		key string
		set func(c *config.Config)
	}{
		{"hooks.state_file", func(c *config.Config) { c.Hooks.StateFile = filepath.Join(open, "state.json") }},
		{"hooks.state_log", func(c *config.Config) { c.Hooks.StateLog = filepath.Join(sticky, "redis-state.log") }},
		{"hooks.lock_file", func(c *config.Config) { c.Hooks.LockFile = filepath.Join(base, "nobodys", "hook.lock") }},
		{"hooks.maintenance_file", func(c *config.Config) { c.Hooks.MaintenanceFile = filepath.Join(open, "maintenance.json") }},
		{"keepalived.track_file", func(c *config.Config) { c.Keepalived.TrackFile = filepath.Join(open, "drain") }},
		{"redis.password_file", func(c *config.Config) { c.Redis.PasswordFile = filepath.Join(base, "good", "world.yaml") }},
	} {
		bad := *cfg
		c.set(&bad)
		checkTrust(t, c.key, TrustedHookFiles(&bad), c.key)
	}
}

func checkTrust(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: refused: %v", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: accepted, want refused with %q", what, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: refused with %q, want %q", what, err, want)
	}
}
