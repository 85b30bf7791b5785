// Package hookstats counts the hooks' runs on a node, by kind and result,
// in a small fixed-layout file the exporter reads: the hooks are short
// processes (the check runs every second), so their counts must outlive
// them, and counting must cost the check almost nothing.
//
// The file (hooks.state_file + ".counters") is a magic header followed by
// one little-endian uint64 per (kind, result) slot. A hook adds one to its
// slot with pread and pwrite under an exclusive flock of the file, taken
// without blocking and given up after maxLockWait: a count lost to a
// stuck lock holder is better than a check that misses its deadline. The
// exporter never locks: it reads the file twice and keeps a read that
// agrees with the next one, so a reader can never slow a hook down.
package hookstats

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/internal/nodefile"
)

// Kinds of runs counted.
const (
	KindCheck      = "check"
	KindMaster     = "master"
	KindBackup     = "backup"
	KindFault      = "fault"
	KindStop       = "stop"
	KindSwitchover = "switchover"
)

// Results of a run.
const (
	ResultOK        = "ok"
	ResultFailed    = "failed"
	ResultRefused   = "refused"
	ResultOvertaken = "overtaken" // a notify a newer keepalived state overtook
)

// kinds and results in slot order: new ones are only ever appended, so a
// file written by an older redkeep keeps its meaning.
var (
	kinds   = []string{KindCheck, KindMaster, KindBackup, KindFault, KindStop, KindSwitchover}
	results = []string{ResultOK, ResultFailed, ResultRefused, ResultOvertaken}
)

const (
	magic = "RKCNT1\n\x00"
	// maxKinds and maxResults fix the layout with room to grow.
	maxKinds   = 16
	maxResults = 8
	headerSize = len(magic)
	// Size is the file's size once written.
	Size = headerSize + maxKinds*maxResults*8
	// maxLockWait bounds how long Add waits for another hook's lock.
	maxLockWait = 20 * time.Millisecond
	lockPoll    = time.Millisecond
)

// Path is the counter file beside the state file; "" when there is none.
func Path(stateFile string) string {
	if stateFile == "" {
		return ""
	}
	return stateFile + ".counters"
}

// Results lists the results a kind of run can have, in a stable order:
// the exporter shows each (at zero too, so rates start from the first scrape).
func Results(kind string) []string {
	switch kind {
	case KindCheck:
		return []string{ResultOK, ResultFailed}
	case KindSwitchover:
		return []string{ResultOK, ResultFailed, ResultRefused}
	case KindMaster, KindBackup, KindFault, KindStop:
		return results
	}
	return nil
}

// NotifyKinds are the notify hooks' kinds.
var NotifyKinds = []string{KindMaster, KindBackup, KindFault, KindStop}

func slot(kind, result string) (int64, error) {
	k, r := slices.Index(kinds, kind), slices.Index(results, result)
	if k < 0 || r < 0 || !slices.Contains(Results(kind), result) {
		return 0, fmt.Errorf("hookstats: no counter for kind %q result %q", kind, result)
	}
	return int64(headerSize + (k*maxResults+r)*8), nil
}

// ErrBusy is returned by Add when another process held the file's lock
// for longer than it may wait.
var ErrBusy = errors.New("hookstats: counter file locked by another process")

// Add adds one to the count of kind's runs with result, in the file at
// path (nothing when path is ""). It creates the file (mode 0644) and its
// directory when missing, never follows a symlink, and refuses a file that
// is not a counter file rather than overwrite it.
func Add(path, kind, result string) error {
	if path == "" {
		return nil
	}
	off, err := slot(kind, result)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	f, err := nodefile.Open(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("counters: %w", err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := lock(fd); err != nil {
		return fmt.Errorf("counters %s: %w", path, err)
	}
	defer func() { _ = syscall.Flock(fd, syscall.LOCK_UN) }()

	var head [headerSize]byte
	n, err := f.ReadAt(head[:], 0)
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		if _, err := f.WriteAt([]byte(magic), 0); err != nil {
			return fmt.Errorf("counters %s: %w", path, err)
		}
	case n == headerSize && string(head[:]) == magic:
	case err != nil && !errors.Is(err, io.EOF):
		return fmt.Errorf("counters %s: %w", path, err)
	default:
		return fmt.Errorf("counters %s: not a redkeep counter file (bad header): refusing to write it", path)
	}
	var b [8]byte
	if n, err := f.ReadAt(b[:], off); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return fmt.Errorf("counters %s: %w", path, err)
	}
	binary.LittleEndian.PutUint64(b[:], binary.LittleEndian.Uint64(b[:])+1)
	if _, err := f.WriteAt(b[:], off); err != nil {
		return fmt.Errorf("counters %s: %w", path, err)
	}
	return nil
}

// lock takes an exclusive flock on fd, waiting at most maxLockWait.
func lock(fd int) error {
	deadline := time.Now().Add(maxLockWait)
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("flock: %w", err)
		}
		if time.Now().After(deadline) {
			return ErrBusy
		}
		time.Sleep(lockPoll)
	}
}

// Key names one counter.
type Key struct{ Kind, Result string }

// Counts are the counters of a node; a missing key is zero.
type Counts map[Key]uint64

// Read reads the counter file at path. A missing file is no error: no
// hook has run yet, and every count is zero.
func Read(path string) (Counts, error) {
	if path == "" {
		return Counts{}, nil
	}
	var prev []byte
	for try := 0; ; try++ {
		data, err := nodefile.Read(path)
		if errors.Is(err, fs.ErrNotExist) {
			return Counts{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("counters: %w", err)
		}
		// Two reads in a row that agree cannot hold a half-written count.
		if prev != nil && bytes.Equal(prev, data) || try == 4 {
			return decode(path, data)
		}
		prev = data
	}
}

func decode(path string, data []byte) (Counts, error) {
	if len(data) < headerSize || string(data[:headerSize]) != magic {
		return nil, fmt.Errorf("counters %s: not a redkeep counter file (bad header)", path)
	}
	c := Counts{}
	for _, k := range kinds {
		for _, r := range Results(k) {
			off, _ := slot(k, r)
			if int(off)+8 <= len(data) {
				c[Key{k, r}] = binary.LittleEndian.Uint64(data[off : off+8])
			} else {
				c[Key{k, r}] = 0
			}
		}
	}
	return c, nil
}
