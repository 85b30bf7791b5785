package logs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// These tests follow files through a real OpenSSH sshd on loopback with
// nodes.Conn as the Streamer: the path a node's logs take to the console.

var _ logs.Streamer = (*nodes.Conn)(nil)

// dialSSH starts sshd and returns a connection to it (strict host keys).
func dialSSH(t *testing.T) (*sshtest.Server, *nodes.Conn) {
	t.Helper()
	srv := sshtest.Start(t)
	dir := t.TempDir()
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.WriteKnownHosts(knownHosts)
	sshConfig := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(sshConfig, []byte("Host *\n  IdentityAgent none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node := &config.Node{Name: "a", Host: "127.0.0.1", SSH: config.SSH{
		Host: "127.0.0.1", Port: srv.Port, User: srv.User,
		IdentityFiles: []string{srv.ClientKeyFile}, KnownHosts: knownHosts, ConfigFile: sshConfig,
	}}
	c, err := nodes.DialNode(node, nodes.Options{DialTimeout: 3 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("DialNode: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

// sshFollow runs f until the test ends and returns its lines.
func sshFollow(t *testing.T, f logs.Follower) <-chan logs.Line {
	t.Helper()
	return runUntilEnd(t, "Follow", 16, f.Follow)
}

// sshExpect reads exactly the wanted lines in order, skipping notices; a
// want starting with "notice:" waits for a notice containing the rest.
func sshExpect(t *testing.T, ch <-chan logs.Line, want ...string) {
	t.Helper()
	// A liveness bound, generous because a root login here may run a
	// shell startup file that waits on a lock (pyenv rehash: up to 60 s).
	deadline := time.After(90 * time.Second)
	for i := 0; i < len(want); {
		select {
		case l := <-ch:
			if n, ok := strings.CutPrefix(want[i], "notice:"); ok {
				if l.Notice && strings.Contains(l.Text, n) {
					i++
				}
				continue
			}
			if l.Notice {
				continue
			}
			if l.Text != want[i] {
				t.Fatalf("line %d: got %q, want %q", i, l.Text, want[i])
			}
			i++
		case <-deadline:
			t.Fatalf("timed out waiting for %q", want[i])
		}
	}
}

func appendTo(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRemoteFileOverSSH(t *testing.T) {
	t.Parallel()
	_, conn := dialSSH(t)
	path := filepath.Join(t.TempDir(), "syslog")
	appendTo(t, path, "one", "two", "three")
	ch := sshFollow(t, &logs.RemoteFile{Streamer: conn, Path: path, Backlog: 2, MinBackoff: 20 * time.Millisecond})
	sshExpect(t, ch, "two", "three")
	appendTo(t, path, "four")
	sshExpect(t, ch, "four")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "after rotation")
	sshExpect(t, ch, "after rotation")
}

// TestRemoteFileOverSSHSurvivesRestart restarts sshd (every connection
// dropped) and checks that the lines written meanwhile arrive once each.
func TestRemoteFileOverSSHSurvivesRestart(t *testing.T) {
	t.Parallel()
	srv, conn := dialSSH(t)
	path := filepath.Join(t.TempDir(), "syslog")
	for i := 1; i <= 5; i++ {
		appendTo(t, path, fmt.Sprintf("line %d", i))
	}
	ch := sshFollow(t, &logs.RemoteFile{Streamer: conn, Path: path, Backlog: 2, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	sshExpect(t, ch, "line 4", "line 5")
	srv.Stop()
	sshExpect(t, ch, "notice:reconnecting")
	appendTo(t, path, "line 6", "line 7")
	srv.Restart()
	sshExpect(t, ch, "line 6", "line 7")
	appendTo(t, path, "line 8")
	sshExpect(t, ch, "line 8")
}
