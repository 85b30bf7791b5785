package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/nodefile"
)

// The hooks run as root under keepalived (docs/safety.md rule 11): they refuse
// a config, and directories for their files, that anyone but root could
// change. Otherwise whoever can write there chooses what root reads,
// truncates or renames over.
//
// Each path is walked from "/", following symlinks the way open(2) would:
//   - every directory on the way is root's, and not world-writable unless
//     sticky (/tmp: others cannot rename or remove root's entries there);
//     a group-writable one is accepted, as Debian and Ubuntu ship
//     /var/log root:syslog 0775;
//   - every symlink on the way is root's (the sticky bit protects only
//     entries one owns);
//   - the file or directory itself is root's and neither group- nor
//     world-writable.
//
// A hooks directory that does not exist yet is fine when the nearest one
// that does is itself strictly trusted: the hooks create the rest (0755).

// TrustedConfig refuses, with the reason, a config file (or the password
// file it names) that someone other than root could change.
func TrustedConfig(path string) error {
	if err := walkTrusted(path, false); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// TrustedHookFiles refuses, with the reason, a directory holding the
// hooks' files (hooks.state_file, hooks.state_log, hooks.lock_file,
// hooks.maintenance_file, hooks.event_log, keepalived.track_file,
// keepalived.watch.health_file) or a
// redis.password_file that someone other than root could change.
func TrustedHookFiles(cfg *config.Config) error {
	for _, f := range []struct{ key, path string }{
		{"hooks.state_file", cfg.Hooks.StateFile},
		{"hooks.state_log", cfg.Hooks.StateLog},
		{"hooks.lock_file", cfg.Hooks.LockFile},
		{"hooks.maintenance_file", cfg.Hooks.MaintenanceFile},
		{"hooks.event_log", cfg.Hooks.EventLog},
		{"keepalived.track_file", cfg.Keepalived.TrackFile},
		{"keepalived.watch.health_file", cfg.Keepalived.Watch.HealthFile},
	} {
		if err := walkTrusted(filepath.Dir(f.path), true); err != nil {
			return fmt.Errorf("%s %s: %w", f.key, f.path, err)
		}
	}
	if pw := cfg.Redis.PasswordFile; pw != "" {
		if err := walkTrusted(pw, false); err != nil {
			return fmt.Errorf("redis.password_file %s: %w", pw, err)
		}
	}
	return nil
}

// maxSymlinks bounds symlink resolution, as the kernel's ELOOP does.
const maxSymlinks = 40

// walkTrusted checks path as described above; isDir says whether path is
// a directory the hooks may create, or a file that must exist.
func walkTrusted(path string, isDir bool) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := trustAncestor("/"); err != nil {
		return err
	}
	hops := 0
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) && isDir {
			// The hooks create it; what they create in there is theirs,
			// provided nobody else can create it first.
			if err := trustLeaf(cur, true); err != nil {
				return fmt.Errorf("%s does not exist and its parent is not safe to create it in: %w", next, err)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if uid := owner(fi); uid != 0 {
				return fmt.Errorf("%s is a symbolic link owned by uid %d, not root", next, uid)
			}
			if hops++; hops > maxSymlinks {
				return fmt.Errorf("%s: too many levels of symbolic links", abs)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
			continue
		}
		if len(rest) == 0 {
			return trustLeaf(next, isDir)
		}
		if err := trustAncestor(next); err != nil {
			return err
		}
		cur = next
	}
	// abs resolved to "/" (or a symlink to it).
	return trustLeaf(cur, isDir)
}

// trustAncestor checks a directory on the way to a trusted path.
func trustAncestor(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if uid := owner(fi); uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not root", dir, uid)
	}
	if fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("%s is world-writable without the sticky bit (mode %04o)", dir, fi.Mode().Perm())
	}
	return nil
}

// trustLeaf checks the config file or hooks directory itself.
func trustLeaf(path string, isDir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	switch {
	case isDir && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	case !isDir && !fi.Mode().IsRegular():
		return nodefile.NotRegular(path, fi.Mode())
	}
	if uid := owner(fi); uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not root", path, uid)
	}
	if w := fi.Mode().Perm() & 0o022; w != 0 {
		who := "group-writable"
		switch w {
		case 0o002:
			who = "world-writable"
		case 0o022:
			who = "group- and world-writable"
		}
		return fmt.Errorf("%s is %s (mode %04o): only root may change it", path, who, fi.Mode().Perm())
	}
	return nil
}

// owner is the uid owning fi's file.
func owner(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return ^uint32(0)
}

// TrustedFile refuses, with the reason, a file root reads (the notify
// webhook file) that someone other than root could change.
func TrustedFile(path string) error { return walkTrusted(path, false) }
