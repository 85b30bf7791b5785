package deploy

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
)

// TestSudoers: the drop-in names every verb the console runs as root with
// the node's redkeep, config and name pinned last, none of keepalived's
// verbs, and visudo accepts it.
func TestSudoers(t *testing.T) {
	n := &config.Node{Name: "a", Redkeep: "/usr/local/bin/redkeep", ConfigPath: "/etc/redkeep/config.yaml"}
	text, err := Sudoers("redkeep", n)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range SudoVerbs {
		if want := "/usr/local/bin/redkeep hook " + v + " * --config /etc/redkeep/config.yaml --node a"; !strings.Contains(text, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, text)
		}
	}
	for _, v := range []string{" notify", " check", " master", " drain", " state", "maintenance status", "ALL=(ALL)", "NOPASSWD: ALL"} {
		if strings.Contains(text, "hook"+v) || strings.Contains(text, v) && strings.HasPrefix(v, "ALL") || strings.Contains(text, v) && strings.HasPrefix(v, "NOPASSWD") {
			t.Errorf("drop-in allows %q:\n%s", v, text)
		}
	}
	if !strings.Contains(text, "redkeep ALL=(root) NOPASSWD: REDKEEP_REDKEEP\n") {
		t.Errorf("drop-in does not grant the alias to redkeep:\n%s", text)
	}
	visudo, err := exec.LookPath("visudo")
	if err != nil {
		if visudo, err = exec.LookPath("/usr/sbin/visudo"); err != nil {
			t.Skip("visudo is not installed (scripts/setup installs sudo)")
		}
	}
	f := filepath.Join(t.TempDir(), "redkeep")
	if err := os.WriteFile(f, []byte(text), 0o440); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(visudo, "-cf", f).CombinedOutput(); err != nil {
		t.Fatalf("visudo -cf refuses the drop-in: %v\n%s\n%s", err, out, text)
	}
}

// TestSudoersRefusesUnsafeNames: a user, node or path that sudoers or the
// shell would read as more than a word never reaches the drop-in.
func TestSudoersRefusesUnsafeNames(t *testing.T) {
	good := config.Node{Name: "a", Redkeep: "/usr/local/bin/redkeep", ConfigPath: "/etc/redkeep/config.yaml"}
	for _, c := range []struct {
		name, user string
		edit       func(*config.Node)
	}{
		{"root", "root", nil},
		{"user with a space", "red keep", nil},
		{"user with a comma", "a,b", nil},
		{"user with a colon", "ops:ALL", nil},
		{"user starting with a digit", "1ops", nil},
		{"empty user", "", nil},
		{"path with a wildcard", "redkeep", func(n *config.Node) { n.Redkeep = "/usr/local/bin/*" }},
		{"path with a comma", "redkeep", func(n *config.Node) { n.ConfigPath = "/etc/redkeep/a,ALL" }},
		{"path with a space", "redkeep", func(n *config.Node) { n.ConfigPath = "/etc/red keep.yaml" }},
		{"path with dot-dot", "redkeep", func(n *config.Node) { n.ConfigPath = "/etc/../tmp/config.yaml" }},
		{"relative path", "redkeep", func(n *config.Node) { n.Redkeep = "redkeep" }},
		{"node name with a space", "redkeep", func(n *config.Node) { n.Name = "a b" }},
	} {
		n := good
		if c.edit != nil {
			c.edit(&n)
		}
		if text, err := Sudoers(c.user, &n); err == nil {
			t.Errorf("%s: rendered\n%s", c.name, text)
		}
	}
	if err := JoinGroups(context.Background(), func(context.Context, string, io.Reader) error { return nil }, "ops", []string{"adm;rm"}); err == nil {
		t.Error("JoinGroups took the group name \"adm;rm\"")
	}
}
