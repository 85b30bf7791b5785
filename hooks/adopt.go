package hooks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/proc"
	"github.com/redkeep/redkeep/wire"
)

// A keepalived reloaded with SIGHUP keeps its VRRP state and runs no notify
// for it. On a node that keepalived ran with other hooks until a reload
// (redkeep deploy migrating a pair), redkeep's hooks have then written no
// state file: the console cannot tell the node's keepalived state, and a
// switchover refuses a target it cannot tell is ready. Adopt writes that
// file once, from keepalived's own word: the last transition line of this
// instance in its log, accepted only when the node's VIP and drain agree
// with it.

// AdoptSource is where Adopt reads keepalived's last transition line.
type AdoptSource struct {
	// Syslog is a syslog file; when it cannot be opened, the journal is
	// read instead.
	Syslog string
	// Journal runs journalctl with args and returns what it printed; nil
	// runs the host's journalctl.
	Journal func(ctx context.Context, args []string) ([]byte, error)
}

// Adopted says what Adopt found and did.
type Adopted struct {
	// Written is true when Adopt wrote the state file, false when one was
	// there already (State is then the file's).
	Written bool
	State   wire.State
	// Evidence is keepalived's line the state came from, and where.
	Evidence string
}

// adoptTail bounds the syslog read: the file's last 256 KiB, as the
// console's plain probe reads it. adoptJournalLines bounds the journal's.
const (
	adoptTail         = 256 << 10
	adoptJournalLines = 2000
	adoptJournalMax   = 4 << 20
)

// Adopt records keepalived's current state in the state file of a node
// that has none. It refuses, changing nothing, when keepalived does not
// run here, when its log has no transition line for the instance, or when
// the line disagrees with the node (a MASTER line without the VIP here, a
// BACKUP or FAULT line with it, a BACKUP line while the node is drained):
// the hooks act on the state file, so a guess is worse than none.
func Adopt(ctx context.Context, cfg *config.Config, self *config.Node, src AdoptSource) (Adopted, error) {
	lock, err := lockWait(ctx, stateLockPath(cfg.Hooks.LockFile))
	if err != nil {
		return Adopted{}, err
	}
	defer lock.Unlock()
	if s, ok, err := ReadState(cfg.Hooks.StateFile); err != nil {
		return Adopted{}, fmt.Errorf("%w; remove it or wait for keepalived's next transition to replace it", err)
	} else if ok {
		return Adopted{State: s}, nil
	}
	if !proc.Running("/proc", "keepalived") {
		return Adopted{}, errors.New("keepalived is not running in this node's network namespace: there is no state to adopt (its next start runs the notify hook)")
	}
	state, evidence, err := lastTransition(ctx, src, cfg.Keepalived.Instance)
	if err != nil {
		return Adopted{}, err
	}
	held, err := switchover.TrackFileVIP{VIP: cfg.VIPAddr()}.Held()
	if err != nil {
		return Adopted{}, err
	}
	drained := drained(cfg)
	switch {
	case state == wire.KAMaster && !held:
		return Adopted{}, fmt.Errorf("keepalived's last transition is to MASTER (%s) but the VIP %s is not on this node: the log is stale or incomplete; not adopting", evidence, cfg.VIPAddr())
	case state != wire.KAMaster && held:
		return Adopted{}, fmt.Errorf("keepalived's last transition is to %s (%s) but the VIP %s is on this node: not adopting", state, evidence, cfg.VIPAddr())
	case state == wire.KABackup && drained:
		return Adopted{}, fmt.Errorf("keepalived's last transition is to BACKUP (%s) but the node is drained (%s), which puts it in FAULT: not adopting", evidence, cfg.Keepalived.TrackFile)
	}
	s := wire.State{
		Node:       self.Name,
		Instance:   cfg.Keepalived.Instance,
		State:      state,
		Priority:   self.Keepalived.Priority,
		Since:      time.Now(),
		LastAction: "adopted from keepalived's log: " + evidence,
		LastResult: wire.ResultOK,
	}
	// Generation 0 and no fork stamp: the next notify always takes over.
	if err := writeState(cfg.Hooks.StateFile, s); err != nil {
		return Adopted{}, err
	}
	return Adopted{Written: true, State: s, Evidence: evidence}, nil
}

// lastTransition finds keepalived's last "(instance) Entering X STATE"
// line: in the syslog file when there is one, else in the journal.
func lastTransition(ctx context.Context, src AdoptSource, instance string) (state, evidence string, err error) {
	var text []byte
	where := ""
	if f, ferr := os.Open(src.Syslog); src.Syslog != "" && ferr == nil {
		text, err = tailOf(f, adoptTail)
		f.Close()
		if err != nil {
			return "", "", fmt.Errorf("read %s: %w", src.Syslog, err)
		}
		where = src.Syslog
	} else {
		run := src.Journal
		if run == nil {
			run = journalctl
		}
		args := []string{"-q", "-n", fmt.Sprint(adoptJournalLines), "--no-pager", "-o", "cat",
			"_SYSTEMD_UNIT=keepalived.service", "+", "SYSLOG_IDENTIFIER=Keepalived_vrrp", "SYSLOG_IDENTIFIER=Keepalived"}
		if text, err = run(ctx, args); err != nil {
			return "", "", fmt.Errorf("no syslog file (%s) and the journal cannot be read: %w", src.Syslog, err)
		}
		where = "journal"
	}
	line, state := lastEntering(text, instance, where != "journal")
	if state == "" {
		return "", "", fmt.Errorf("keepalived's log (%s) has no transition line for instance %s: its state is known at its next transition", where, instance)
	}
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return state, fmt.Sprintf("%s: %q", where, line), nil
}

// lastEntering returns the last line of text where keepalived says
// instance enters MASTER, BACKUP or FAULT (keepalived 1.x writes
// "VRRP_Instance(VI_1) Entering MASTER STATE", 2.x "(VI_1) Entering
// MASTER STATE"), and that state. In a syslog file (fromSyslog) the line
// must also be keepalived's: its tag, before the message, names it.
func lastEntering(text []byte, instance string, fromSyslog bool) (line, state string) {
	key := "(" + instance + ") Entering "
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		l := sc.Text()
		i := strings.Index(l, key)
		if i < 0 || fromSyslog && !strings.Contains(l[:i], "eepalived") {
			continue
		}
		rest := l[i+len(key):]
		for _, st := range []string{wire.KAMaster, wire.KABackup, wire.KAFault} {
			if strings.HasPrefix(rest, st+" STATE") {
				line, state = strings.TrimSpace(l), st
			}
		}
	}
	return line, state
}

// tailOf reads the last n bytes of f, from the start of a line.
func tailOf(f *os.File, n int64) ([]byte, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	off := max(size-n, 0)
	b := make([]byte, size-off)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, err
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b, nil
}

// journalctl runs the host's journalctl, bounded in time and output.
func journalctl(ctx context.Context, args []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b, rerr := io.ReadAll(io.LimitReader(out, adoptJournalMax))
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("journalctl: %w %s", err, strings.TrimSpace(stderr.String()))
	}
	return b, rerr
}
