package hooks

import (
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/redkeep/redkeep/wire"
)

// forkStamp is when this process was forked, in keepalived's terms: the
// boot, the start time in clock ticks since boot, and the PID as the
// tiebreak within one tick (PIDs are handed out in fork order).
type forkStamp struct {
	bootID string
	ticks  uint64
	pid    int
}

// selfFork reads this process's forkStamp from /proc. Without /proc the
// stamp is empty and orders nothing: hooks then fall back to the order in
// which they announce themselves.
func selfFork() forkStamp {
	fs := forkStamp{pid: os.Getpid()}
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		fs.bootID = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		fs.ticks = startTicks(b)
	}
	return fs
}

// startTicks is field 22 (starttime) of a /proc/PID/stat line; 0 if absent.
// Fields are counted after the last ')', since the command name may hold
// spaces and parentheses.
func startTicks(stat []byte) uint64 {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	// After ')' come fields 3 (state) onwards; starttime is field 22.
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return 0
	}
	n, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// forkedAfter reports whether the notify that wrote state s was forked by
// keepalived after the process stamped me, so it handles a newer
// transition. Stamps from another boot, or missing, order nothing.
func forkedAfter(s wire.State, me forkStamp) bool {
	if me.bootID == "" || me.ticks == 0 || s.BootID != me.bootID || s.StartTicks == 0 {
		return false
	}
	if s.StartTicks != me.ticks {
		return s.StartTicks > me.ticks
	}
	return s.PID > me.pid
}
