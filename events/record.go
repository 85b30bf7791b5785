package events

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/wire"
)

// MaxSpool caps the events waiting for the deliverer; beyond it a new
// event is dropped (and counted) rather than queued: a receiver that hangs
// must not fill the disk.
const MaxSpool = 64

// SpoolDir is where events wait for the deliverer.
func SpoolDir(cfg *config.Config) string { return cfg.Hooks.EventLog + ".spool" }

// Executable is the redkeep binary Record starts as the deliverer (tests
// replace it).
var Executable = os.Executable

// Record is the one call for code that has something to tell: it fills in
// the time and node when unset, appends ev to the node's journal and, when
// notify is configured, queues it and starts a deliverer without waiting
// for it. It is bounded (200 ms at most, when another writer holds the
// journal's lock) and never blocks on a receiver. The error is for the
// caller to log; a hook must not fail because of it.
func Record(cfg *config.Config, self *config.Node, ev wire.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if ev.Node == "" && self != nil {
		ev.Node = self.Name
	}
	err := Append(cfg.Hooks.EventLog, ev)
	if cfg.Notify.Enabled() && self != nil {
		if qerr := enqueue(cfg, ev); qerr != nil {
			err = errors.Join(err, fmt.Errorf("notify: %w", qerr))
		} else if serr := spawn(cfg, self); serr != nil {
			err = errors.Join(err, fmt.Errorf("notify: start the deliverer: %w", serr))
		}
	}
	return err
}

// enqueue writes ev into the spool, or drops and counts it when the spool
// is full.
func enqueue(cfg *config.Config, ev wire.Event) error {
	dir := SpoolDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	names, err := spooled(dir)
	if err != nil {
		return err
	}
	if len(names) >= MaxSpool {
		_ = updateStats(cfg, func(s *Stats) {
			s.Dropped++
			s.LastError, s.LastErrorTime = fmt.Sprintf("%s event dropped: %d events already wait for the deliverer", ev.Event, len(names)), time.Now()
		})
		return fmt.Errorf("%s event dropped: %d events already wait for the deliverer", ev.Event, len(names))
	}
	line, err := ev.Line()
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%020d-%07d.json", ev.Time.UnixNano(), os.Getpid())
	return nodefile.WriteAtomic(filepath.Join(dir, name), line)
}

// spooled lists the queued events' file names, oldest first (the names
// start with the event's time). Temporary files start with a dot.
func spooled(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".json") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	return names, nil // ReadDir sorts by name
}

// spawn starts `redkeep hook deliver` in its own session, its output
// discarded (it logs to the state log), and does not wait for it: a hook
// that returns leaves it to init.
func spawn(cfg *config.Config, self *config.Node) error {
	exe, err := Executable()
	if err != nil {
		return err
	}
	args := []string{"hook", "deliver", "--node", self.Name}
	if cfg.Path != "" {
		args = append(args, "--config", cfg.Path)
	}
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	// Reaped if this process outlives it (tests, a long switchover).
	go func() { _ = cmd.Wait() }()
	return nil
}
