package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/wire"
)

// MaxFileSize is where the journal rotates: path becomes path.1, path.1
// becomes path.2 and the oldest goes. A line is at most 4000 bytes, so
// that keeps at least 768 events, and 3 MiB on disk at most.
const MaxFileSize = 1 << 20

// Keep is how many rotated files are kept beside the journal.
const Keep = 2

// MaxRead caps how many events Read returns (the newest).
const MaxRead = 5000

// Append writes ev as one line at the end of the journal at path, rotating
// first when the line would take the file past MaxFileSize. It waits at
// most 200 ms for another writer; see the package doc for why lines
// never interleave.
func Append(path string, ev wire.Event) error {
	line, err := ev.Line()
	if err != nil {
		return fmt.Errorf("event journal %s: %w", path, err)
	}
	l, err := lock(path+".lock", lockWait)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	defer l.unlock()
	f, err := nodefile.Open(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("event journal: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() > 0 && fi.Size()+int64(len(line)) > MaxFileSize {
		f.Close()
		if err := rotate(path); err != nil {
			return fmt.Errorf("event journal: rotate: %w", err)
		}
		if f, err = nodefile.Open(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
			return fmt.Errorf("event journal: %w", err)
		}
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("event journal: write %s: %w", path, err)
	}
	return nil
}

// rotate shifts path.(Keep-1) .. path.1 up by one and path to path.1.
// rename(2) replaces a planted symlink without following it.
func rotate(path string) error {
	for i := Keep; i > 1; i-- {
		if err := os.Rename(rotated(path, i-1), rotated(path, i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return os.Rename(path, rotated(path, 1))
}

func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }

// Files are the journal's files, oldest first.
func Files(path string) []string {
	var fs []string
	for i := Keep; i >= 1; i-- {
		fs = append(fs, rotated(path, i))
	}
	return append(fs, path)
}

// Read returns the journal's events (rotated files included) at or after
// since, oldest first, at most MaxRead (the newest), and how many lines
// were not events (skipped). A missing journal is no events. Each file is
// read up to its last MaxFileSize+wire.MaxEventLine bytes, whatever its
// size.
func Read(path string, since time.Time) ([]wire.Event, int, error) {
	var evs []wire.Event
	bad := 0
	for _, p := range Files(path) {
		data, err := ReadTail(p, MaxFileSize+wire.MaxEventLine)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("event journal: %w", err)
		}
		for line := range bytes.Lines(data) {
			line = bytes.TrimRight(line, "\n")
			if len(line) == 0 {
				continue
			}
			ev, err := wire.ParseEvent(line)
			if err != nil {
				bad++
				continue
			}
			if !ev.Time.Before(since) {
				evs = append(evs, ev)
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	if len(evs) > MaxRead {
		evs = evs[len(evs)-MaxRead:]
	}
	return evs, bad, nil
}

// ReadTail reads at most the last n bytes of the file at path, dropping a
// partial first line when it started mid-file.
func ReadTail(path string, n int64) ([]byte, error) {
	f, err := nodefile.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	cut := fi.Size() > n
	if cut {
		if _, err := f.Seek(fi.Size()-n, io.SeekStart); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if cut {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return data, nil
}
