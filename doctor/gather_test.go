package doctor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runLocally runs a command Gather sends to a node in this machine's
// shell, as root or (argv prefix) another user, and returns its sections.
func runLocally(t *testing.T, prefix []string, cmd string) map[string][]byte {
	t.Helper()
	argv := append(append([]string{}, prefix...), "sh", "-c", cmd)
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%v: %v\n%s%s", argv[:len(prefix)+2], err, out, stderr)
	}
	return sections(out)
}

// TestRemoteCommands runs the commands Gather sends to a node with the
// real sh, stat, head and base64: modes, owners and contents come back
// exactly, a file the user may not read is said to be so, a missing one is
// missing, and a path with quotes is one word.
func TestRemoteCommands(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// TempDir's parent is 0700 too: nobody must be able to reach dir.
	must(os.Chmod(filepath.Dir(dir), 0o755))
	must(os.Chmod(dir, 0o755))
	script := filepath.Join(dir, "it's master.sh")
	must(os.WriteFile(script, []byte("#!/bin/sh\nsleep 10\nprintf '\\033[2J'\n"), 0o700))
	pw := filepath.Join(dir, "redis.pass")
	must(os.WriteFile(pw, []byte("hunter2\n"), 0o644))
	big := filepath.Join(dir, "big.sh")
	must(os.WriteFile(big, []byte(strings.Repeat("x", MaxFileBytes+10)), 0o755))
	files := []File{{Role: "redkeep config", Path: script}, {Role: "redkeep binary", Path: filepath.Join(dir, "missing")}}

	sec := runLocally(t, nil, baseCommand(files, pw))
	if u := strings.TrimSpace(string(sec["user"])); u == "" {
		t.Error("no user")
	}
	got := parseFile(sec["file 1"], files[0], "root")
	if !got.Exists || got.Mode != 0o700 || got.Owner == "" || got.Read {
		t.Errorf("stat only: %+v", got)
	}
	if got := parseFile(sec["file 2"], files[1], "root"); got.Exists || got.Err != "" {
		t.Errorf("missing file: %+v", got)
	}
	if got := parseFile(sec["file pw"], File{Path: pw}, "root"); !got.Exists || got.Mode != 0o644 || got.Content != "" {
		t.Errorf("password file: %+v (its content is never read)", got)
	}
	if strings.Contains(string(sec["file pw"]), "aHVudGVyMg") {
		t.Error("the password file's content was sent")
	}

	scripts := []File{{Path: script}, {Path: big}, {Path: "/usr/local/bin/redkeep-not-here"}}
	sec = runLocally(t, nil, scriptsCommand(scripts, "/usr/local/bin/redkeep-not-here", os.Getpid()))
	if got := parseFile(sec["file 0"], scripts[0], "root"); !got.Read || !strings.Contains(got.Content, "sleep 10\nprintf '\\033[2J'") {
		t.Errorf("script: %+v", got)
	}
	if got := parseFile(sec["file 1"], scripts[1], "root"); !got.Read || !got.Truncated || len(got.Content) != MaxFileBytes {
		t.Errorf("big script: read %v truncated %v, %d bytes", got.Read, got.Truncated, len(got.Content))
	}
	if _, ok := sec["unit"]; !ok {
		t.Error("no unit section")
	}

	t.Run("unprivileged", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("runs the commands as nobody through setpriv, which needs root")
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv not installed")
		}
		nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
		sec := runLocally(t, nobody, scriptsCommand(scripts[:1], "", 0))
		got := parseFile(sec["file 0"], scripts[0], "nobody")
		if !got.Exists || got.Read || !strings.Contains(got.Err, "permission denied") || !strings.Contains(got.Err, "nobody") {
			t.Errorf("a 0700 root script read as nobody: %+v", got)
		}
		hidden := t.TempDir() // 0700: nobody cannot even stat what is inside
		f := File{Path: filepath.Join(hidden, "keepalived.conf")}
		must(os.WriteFile(f.Path, []byte("x"), 0o644))
		sec = runLocally(t, nobody, scriptsCommand([]File{f}, "", 0))
		if got := parseFile(sec["file 0"], f, "nobody"); got.Read || !strings.Contains(got.Err, "permission denied") {
			t.Errorf("a file in a 0700 directory stat'ed as nobody: %+v", got)
		}
	})
}

// TestParseFile: what the remote command printed, however odd, becomes a
// File or an error in it.
func TestParseFile(t *testing.T) {
	for _, c := range []struct {
		name, sec string
		check     func(File) bool
	}{
		{"not examined", "", func(f File) bool { return f.Err == "not examined" }},
		{"directory", "stat 1777 root root directory\n", func(f File) bool { return f.Dir && f.Mode == 0o1777 }},
		{"bad stat", "stat x\n", func(f File) bool { return strings.Contains(f.Err, "unexpected stat") }},
		{"bad mode", "stat 9z9 root root regular file\n", func(f File) bool { return strings.Contains(f.Err, "mode") }},
		{"bad base64", "stat 644 root root regular file\ncontent !!!\n", func(f File) bool { return strings.Contains(f.Err, "base64") && !f.Read }},
		{"other error", "error stat: Input/output error\n", func(f File) bool { return f.Err == "stat: Input/output error" }},
	} {
		var sec []byte
		if c.sec != "" {
			sec = []byte(c.sec)
		}
		if f := parseFile(sec, File{Path: "/x"}, "u"); !c.check(f) {
			t.Errorf("%s: %+v", c.name, f)
		}
	}
}
