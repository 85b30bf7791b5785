package logs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/shell"
)

// SystemLog follows a node's system log wherever the node keeps it: the
// syslog file at Path when there is one, else journald, else it says that
// the node has no log source. Debian 12 and RHEL 9 keep their logs in the
// journal only, with no /var/log/syslog to follow. Parse its lines with an
// empty Source: they are syslog lines or journal JSON.
type SystemLog struct {
	Streamer Streamer
	Path     string
	// Matches select what to follow of the journal when there is no file
	// (journalctl match arguments, as Journal.Matches); none means the
	// whole journal.
	Matches []string
	Backlog int
	// Retry is how long to wait before looking again after finding no
	// source, or failing to look; 0 means 30 s.
	Retry time.Duration
}

// Log sources SystemLog can find on a node.
const (
	sourceFile    = "file"
	sourceJournal = "journal"
	sourceNone    = "none"
)

// Follow implements Follower.
func (s *SystemLog) Follow(ctx context.Context, out chan<- Line) error {
	retry := s.Retry
	if retry <= 0 {
		retry = 30 * time.Second
	}
	for {
		found, err := s.detect(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !notice(ctx, out, LevelWarn, "cannot tell where this node logs (%v); looking again in %s", err, retry) {
				return nil
			}
		case found == sourceFile:
			return (&RemoteFile{Streamer: s.Streamer, Path: s.Path, Backlog: s.Backlog}).Follow(ctx, out)
		case found == sourceJournal:
			if !notice(ctx, out, LevelInfo, "no %s on this node: following the journal (journalctl)", s.Path) {
				return nil
			}
			return (&Journal{Streamer: s.Streamer, Matches: s.Matches, Backlog: s.Backlog}).Follow(ctx, out)
		default:
			if !notice(ctx, out, LevelWarn, "no log source: %s does not exist and journalctl is not installed; looking again in %s", s.Path, retry) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

// detectCommand prints which source the node has for path.
func detectCommand(path string) string {
	return fmt.Sprintf("if [ -e %[1]s ]; then echo %[2]s; elif command -v journalctl >/dev/null 2>&1; then echo %[3]s; else echo %[4]s; fi",
		shell.Quote(path), sourceFile, sourceJournal, sourceNone)
}

// detect asks the node which source it has, within 10 s.
func (s *SystemLog) detect(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := s.Streamer.Stream(ctx, detectCommand(s.Path))
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64))
	if err != nil {
		return "", err
	}
	switch found := strings.TrimSpace(string(b)); found {
	case sourceFile, sourceJournal, sourceNone:
		return found, nil
	default:
		return "", fmt.Errorf("unexpected answer %q", found)
	}
}
