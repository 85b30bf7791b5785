package switchover

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/wire"
)

// ReadMaintenance reads the maintenance file at path (hooks.maintenance_file,
// through nodefile: no symlink, bounded). A missing file is no maintenance,
// not an error. active is false once the record's deadline has passed.
func ReadMaintenance(path string, now time.Time) (m wire.Maintenance, active bool, err error) {
	data, err := nodefile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return wire.Maintenance{}, false, nil
	}
	if err != nil {
		return wire.Maintenance{}, false, fmt.Errorf("read maintenance file: %w", err)
	}
	m, err = wire.ParseMaintenance(data)
	if err != nil {
		return wire.Maintenance{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return m, m.Active(now), nil
}
