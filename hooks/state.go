package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/wire"
)

// ReadState reads the state file at path. A missing file is not an error:
// it returns ok=false (no notify has run on this node yet). Anything but a
// small regular file at path is (readHookFile): the check must answer in
// time whatever sits there.
func ReadState(path string) (s wire.State, ok bool, err error) {
	data, err := nodefile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return wire.State{}, false, nil
	}
	if err != nil {
		return wire.State{}, false, fmt.Errorf("read state file: %w", err)
	}
	s, err = wire.ParseState(data)
	if err != nil {
		return wire.State{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return s, true, nil
}

// writeState replaces the state file atomically (temp file + rename), so a
// reader never sees half a file.
func writeState(path string, s wire.State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	data = append(data, '\n')
	return nodefile.WriteAtomic(path, data)
}
