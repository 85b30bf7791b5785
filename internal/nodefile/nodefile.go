// Package nodefile opens the small files redkeep keeps on a node (state
// file, locks, track file, check note) the way a root process must: never
// through a symlink, never blocking on a FIFO or device, never reading more
// than MaxSize, and replacing them atomically.
package nodefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxSize caps what a hook reads from one of its own files (state
// file, check note, switchover lock, track file): each holds a few hundred
// bytes, and the check must answer within its deadline whatever was put
// at their paths.
const MaxSize = 64 << 10

// Open opens a file the hooks keep at path (flag as for
// os.OpenFile). The hooks run as root, so whatever sits at path is
// suspect: a symlink is refused rather than followed (redkeep never
// creates one there), and so is anything but a regular file. The open
// never blocks: a FIFO opened for reading would wait for a writer, one
// opened for writing for a reader.
func Open(path string, flag int, perm os.FileMode) (*os.File, error) {
	// Refuse before opening what is visibly not a regular file: opening a
	// device can have effects of its own. The fstat below closes the race.
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, NotRegular(path, fi.Mode())
	}
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && !fi.Mode().IsRegular() {
			return nil, NotRegular(path, fi.Mode())
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		_ = syscall.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		_ = syscall.Close(fd)
		return nil, NotRegular(path, modeType(st.Mode))
	}
	// O_NONBLOCK means nothing for a regular file's reads and writes.
	return os.NewFile(uintptr(fd), path), nil
}

// modeType converts a stat mode's file type to fs.FileMode's.
func modeType(m uint32) fs.FileMode {
	switch m & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}

// NotRegular is the error for a file that is not a regular file.
func NotRegular(path string, m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: refusing to follow it (redkeep never creates one there)", path)
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return fmt.Errorf("%s is %s, not a regular file: refusing to use it", path, what)
}

// Read reads one of the hooks' small files, at most MaxSize
// bytes, through Open. A missing file is an error wrapping
// fs.ErrNotExist.
func Read(path string) ([]byte, error) {
	f, err := Open(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadCapped(f, path)
}

// ReadCapped reads f from where it is, refusing more than MaxSize bytes.
func ReadCapped(f *os.File, path string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > MaxSize {
		size := "more"
		if fi, err := f.Stat(); err == nil {
			size = fmt.Sprintf("%d bytes", fi.Size())
		}
		return nil, fmt.Errorf("%s is larger than %d KiB (%s): not a redkeep file, refusing to read it", path, MaxSize>>10, size)
	}
	return data, nil
}

// WriteAtomic writes data to a new temporary file beside path and
// renames it over path, creating the directory if needed. The temporary
// file is created exclusively (never through a planted symlink) and
// changed only through its descriptor; the rename replaces whatever was at
// path, a symlink included, without following it.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
