package logs

import (
	"testing"
	"time"

	"github.com/redkeep/redkeep/wire"
)

func TestStateLogEvents(t *testing.T) {
	log := `2026-11-26:10:00:00.000|100|state:[backup] keepalived BACKUP (instance VI_REDIS, priority 100): generation 1
2026-11-26:10:00:00.010|100|state:[backup] ok: done
2026-11-26:10:00:05.000|7|state:[check] check failed: local Redis does not answer PING
2026-11-26:10:00:05.100|200|state:[master] keepalived MASTER (instance VI_REDIS, priority 100): generation 2
2026-11-26:10:00:05.120|200|state:[master] plan: promote
2026-11-26:10:00:05.160|200|state:[master] ok: done
2026-11-26:10:00:09.000|8|state:[check] check healthy again
2026-11-26:10:00:20.000|300|state:[switchover] redis done: pause: a is master, b its replica, at offset 900, in 3ms
2026-11-26:10:00:21.000|300|state:[switchover] verify done: the VIP answers as master a; b replicates from it, link up
2026-11-26:10:00:30.000|400|state:[fault] keepalived FAULT (instance VI_REDIS, priority 100): generation 3
2026-11-26:10:00:30.004|400|state:[fault] failed: local Redis is unreachable
garbage line
`
	evs := StateLogEvents([]byte(log), "b", time.UTC, time.Time{})
	type brief struct{ kind, from, to, result string }
	want := []brief{
		{wire.EventTransition, "", "BACKUP", "ok"}, {wire.EventCheckFailed, "", "", "failed"}, {wire.EventTransition, "BACKUP", "MASTER", "ok"},
		{wire.EventCheckOK, "", "", "ok"}, {wire.EventSwitchover, "", "", "ok"}, {wire.EventTransition, "MASTER", "FAULT", "failed"},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		e := evs[i]
		if (brief{e.Event, e.From, e.To, e.Result}) != w || e.Source != wire.SourceLog || e.Node != "b" {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
	// A transition is timed from its start, as the journal times it.
	if m := evs[2]; m.Time != time.Date(2026, 11, 26, 10, 0, 5, 100e6, time.UTC) || m.TotalMS != 60 {
		t.Errorf("MASTER transition at %s, total %d ms", m.Time, m.TotalMS)
	}
	// Only what happened before the journal's first event is kept: the
	// MASTER notify that started at 05.100 is in the journal already.
	before := StateLogEvents([]byte(log), "b", time.UTC, time.Date(2026, 11, 26, 10, 0, 5, 99e6, time.UTC))
	if len(before) != 2 || before[1].Event != wire.EventCheckFailed {
		t.Errorf("before 05.099: %+v", before)
	}
}
