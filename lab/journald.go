package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// A journal-only node (Settings.JournalNode) logs as a Debian 12 or RHEL 9
// host does: into systemd-journald, with no syslog file. The lab runs a
// systemd-journald of its own in a mount namespace (beside the node's
// network namespace, not in it: see startJournald) where the journal's runtime directory (/run/systemd/journal,
// its sockets) and storage (/run/log/journal, volatile) are the node's
// own. The node's processes log to its /dev/log socket, and journalctl in
// an SSH session on the node reads the node's journal. journald forwards
// every entry to the lab's syslogd, which keeps them in a file outside the
// node's sight (Settings.Syslog) for the lab's own checks.

// journaldBinary is where Debian's systemd package installs journald.
const journaldBinary = "/lib/systemd/systemd-journald"

// journaldConf is the journal-only node's journald.conf: volatile storage
// (bounded), no kernel log (the host's, not the node's), no rate limit (a
// failover logs bursts that must all be there), and every entry forwarded
// to the lab's syslogd.
const journaldConf = `# journald.conf of a lab node, written by redkeep lab up.
[Journal]
Storage=volatile
RuntimeMaxUse=32M
ReadKMsg=no
RateLimitIntervalSec=0
ForwardToSyslog=yes
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
`

// journalRun is the node's /run/systemd/journal: journald's sockets.
func (s *Settings) journalRun(n string) string { return filepath.Join(s.NodeDir(n), "journal-run") }

// journalDir is the node's /run/log/journal: the journal files.
func (s *Settings) journalDir(n string) string { return filepath.Join(s.NodeDir(n), "journal") }

func (s *Settings) journaldConfPath(n string) string {
	return filepath.Join(s.NodeDir(n), "journald.conf")
}

// devLog is the socket node n's /dev/log is: its journald's on a
// journal-only node, else the lab's syslogd.
func (s *Settings) devLog(n string) string {
	if s.journalOnly(n) {
		return filepath.Join(s.journalRun(n), "dev-log")
	}
	return s.syslogSocket(n)
}

// journalMountPoints are the host directories the journal-only node's
// mount namespaces bind over. A host without systemd lacks them; they are
// made (empty, on /run's tmpfs) and left, as systemd would make them.
var journalMountPoints = []string{"/run/systemd/journal", "/run/log/journal"}

// journaldRequirements says what a journal-only node needs that is missing.
func journaldRequirements() []string {
	var missing []string
	for _, f := range []string{journaldBinary, "/etc/systemd/journald.conf"} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	return missing
}

// writeJournald writes node n's journald.conf and makes its directories.
// The journal's directory is root:systemd-journal 2755, as systemd-tmpfiles
// makes /run/log/journal on a host: the journal files journald creates
// below it then belong to that group (0640), whose members, the console's
// SSH user among them, read the journal without sudo.
func (s *Settings) writeJournald(n string) error {
	for _, d := range []string{s.journalRun(n), s.journalDir(n)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	gid, err := groupID(filepath.Join(s.nodeEtc(n), "group"), "systemd-journal")
	if err != nil {
		return err
	}
	if err := os.Chown(s.journalDir(n), 0, gid); err != nil {
		return err
	}
	if err := os.Chmod(s.journalDir(n), 0o755|os.ModeSetgid); err != nil {
		return err
	}
	return os.WriteFile(s.journaldConfPath(n), []byte(journaldConf), 0o644)
}

// startJournald starts node n's journald unless it runs or n is not
// journal-only, and waits for its /dev/log socket.
func (s *Settings) startJournald(ctx context.Context, n string) error {
	if !s.journalOnly(n) || s.running(n, procJournald) > 0 {
		return nil
	}
	for _, d := range journalMountPoints {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("node %s: mount point for its journal: %w", n, err)
		}
	}
	if err := s.writeJournald(n); err != nil {
		return fmt.Errorf("node %s: journald: %w", n, err)
	}
	sock := s.devLog(n)
	_ = os.Remove(sock)
	// Only a mount namespace: journald talks over unix sockets, and needs
	// the host's /sys/fs/cgroup, which `ip netns exec` hides behind a
	// fresh /sys (journald then exits: "Failed to acquire cgroup root
	// path"). So it runs beside the network namespace, as syslogd does.
	// A UTS namespace too, so its entries carry the node's host name.
	script := `hostname "$5" && mount --bind "$1" /run/systemd/journal && mount --bind "$2" /run/log/journal && mount --bind "$3" /etc/systemd/journald.conf && exec "$4"`
	argv := []string{"unshare", "--mount", "--uts", "--propagation", "slave", "sh", "-c", script, "sh",
		s.journalRun(n), s.journalDir(n), s.journaldConfPath(n), journaldBinary, n}
	if _, err := s.startProc(n, procJournald, argv); err != nil {
		return err
	}
	return waitFor(ctx, 5*time.Second, fmt.Sprintf("node %s: journald socket %s", n, sock), func() (bool, error) {
		if s.running(n, procJournald) == 0 {
			return false, fmt.Errorf("journald exited (see %s)", s.outFile(n, procJournald))
		}
		fi, err := os.Stat(sock)
		return err == nil && fi.Mode()&os.ModeSocket != 0, nil
	})
}
