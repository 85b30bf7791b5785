package events

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redkeep/redkeep/wire"
)

// BenchmarkAppend is what recording one event costs a hook: lock, open,
// one write.
func BenchmarkAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "events.jsonl")
	ev := wire.Event{Time: time.Now(), Node: "a", Event: wire.EventTransition, From: wire.KABackup, To: wire.KAMaster, TotalMS: 52, Result: wire.ResultOK, Detail: "done"}
	for b.Loop() {
		if err := Append(path, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordWithNotify is Record with a notify command configured:
// append, spool and start the deliverer (here /bin/true), without waiting
// for it.
func BenchmarkRecordWithNotify(b *testing.B) {
	cfg := testConfig(b, "notify: {command: [/bin/true]}\n")
	Executable = func() (string, error) { return "/bin/true", nil }
	b.Cleanup(func() { Executable = os.Executable })
	ev := wire.Event{Node: "a", Event: wire.EventCheckFailed}
	for b.Loop() {
		if err := Record(cfg, &cfg.Nodes[0], ev); err != nil {
			b.Fatal(err)
		}
		// /bin/true does not empty the spool; do it so it never fills.
		names, _ := spooled(SpoolDir(cfg))
		for _, n := range names {
			_ = os.Remove(filepath.Join(SpoolDir(cfg), n))
		}
	}
}
