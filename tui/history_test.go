package tui

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/wire"
)

// fakeHistory returns n events, one a second, and counts the calls.
type fakeHistory struct {
	n     int
	calls atomic.Int32
	errs  []string
}

func (f *fakeHistory) History(context.Context) actions.History {
	f.calls.Add(1)
	var h actions.History
	for i := range f.n {
		h.Events = append(h.Events, wire.Event{Time: t0.Add(time.Duration(i) * time.Second), Node: "ab"[i%2 : i%2+1], Event: wire.EventTransition,
			From: wire.KABackup, To: wire.KAMaster, TotalMS: int64(i), Result: wire.ResultOK, Detail: fmt.Sprintf("event %d\x1b[2J", i)})
	}
	h.Errors = f.errs
	return h
}

// TestHistoryView: h fetches the history through a Cmd (the model does no
// I/O itself), shows the newest events at the bottom, scrolls, drops a
// stale reply and closes with esc; a node's text is cleaned.
func TestHistoryView(t *testing.T) {
	fh := &fakeHistory{n: 100, errs: []string{"node b: ssh: no route to host"}}
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()}, func(o *Options) { o.History = fh })
	feed(m, snaps(snapMaster("a"), snapReplica("b"))...)
	m.Update(teaSize(120, 40))

	_, cmd := m.Update(press("h"))
	if cmd == nil || fh.calls.Load() != 0 {
		t.Fatalf("h: cmd %v, %d calls before the Cmd ran", cmd, fh.calls.Load())
	}
	if s := screen(t, m, 120, 40, colorprofile.Ascii); !strings.Contains(s, "reading both nodes' journals") {
		t.Fatalf("while loading:\n%s", s)
	}
	msg := cmd()
	feed(m, historyMsg{id: msg.(historyMsg).id - 1, h: actions.History{}}) // a stale reply
	if s := screen(t, m, 120, 40, colorprofile.Ascii); !strings.Contains(s, "reading both nodes' journals") {
		t.Fatalf("a stale reply was shown:\n%s", s)
	}
	feed(m, msg)
	s := screen(t, m, 120, 40, colorprofile.Ascii)
	if !strings.Contains(s, "event 99") || strings.Contains(s, "event 50 ") || !strings.Contains(s, "node b: ssh: no route to host") || strings.Contains(s, "\x1b[2J") {
		t.Fatalf("history view:\n%s", s)
	}
	feed(m, press("g"))
	if s := screen(t, m, 120, 40, colorprofile.Ascii); !strings.Contains(s, "event 0") || strings.Contains(s, "event 99") || !strings.Contains(s, "newer below") {
		t.Fatalf("after g (oldest):\n%s", s)
	}
	feed(m, press("G"))
	if _, cmd := m.Update(press("r")); cmd == nil {
		t.Fatal("r did not refetch")
	}
	feed(m, press("esc"))
	if s := screen(t, m, 120, 40, colorprofile.Ascii); strings.Contains(s, "History") {
		t.Fatalf("esc did not close the history:\n%s", s)
	}
}

// TestHistoryKeyOff: without a history source the key does nothing.
func TestHistoryKeyOff(t *testing.T) {
	m, _ := newTestModel(t, &fakeJudge{v: healthyVerdict()})
	if _, cmd := m.Update(press("h")); cmd != nil || m.hist != nil {
		t.Fatal("h opened a history without a source")
	}
}
