package logs

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// pathStreamer runs commands through ExecStreamer with PATH set to dir
// alone, plus the directories of the tools the commands need: a node with
// only the programs a test puts there.
type pathStreamer struct{ path string }

func (p pathStreamer) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	return ExecStreamer{}.Stream(ctx, "PATH="+p.path+"; export PATH; "+cmd)
}

// TestSystemLogFindsTheFile: a node with the syslog file follows it.
func TestSystemLogFindsTheFile(t *testing.T) {
	t.Parallel()
	needTail(t)
	path := filepath.Join(t.TempDir(), "syslog")
	appendLines(t, path, "Nov 26 00:11:55 a Keepalived_vrrp[1]: (VI_REDIS) Entering MASTER STATE")
	ch := follow(t, &SystemLog{Streamer: ExecStreamer{}, Path: path, Backlog: 5}, 16)
	expect(t, ch, "Nov 26 00:11:55 a Keepalived_vrrp[1]: (VI_REDIS) Entering MASTER STATE")
}

// TestSystemLogFallsBackToTheJournal: no syslog file (Debian 12, RHEL 9),
// but journalctl: the journal is followed, and the pane says so.
func TestSystemLogFallsBackToTheJournal(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	entry := `{"__CURSOR":"s=1;i=1","SYSLOG_IDENTIFIER":"Keepalived_vrrp","MESSAGE":"(VI_REDIS) Entering BACKUP STATE"}`
	script := "#!/bin/sh\necho '" + entry + "'\nexec sleep 60\n"
	if err := os.WriteFile(filepath.Join(bin, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sleep := filepath.Dir(mustLookPath(t, "sleep"))
	missing := filepath.Join(t.TempDir(), "no-syslog")
	ch := follow(t, &SystemLog{Streamer: pathStreamer{bin + ":" + sleep}, Path: missing, Backlog: 5}, 16)
	expect(t, ch, "notice:following the journal", entry)
}

// TestSystemLogSaysThereIsNone: neither a file nor journalctl: the pane
// says so instead of staying empty, and the follower looks again later.
func TestSystemLogSaysThereIsNone(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-syslog")
	ch := follow(t, &SystemLog{Streamer: pathStreamer{t.TempDir()}, Path: missing, Retry: 50 * time.Millisecond}, 16)
	expect(t, ch, "notice:no log source", "notice:no log source")
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return p
}
