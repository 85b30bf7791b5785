package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/lab"
	"github.com/redkeep/redkeep/wire"
)

// historyJSON is what this test reads of `redkeep history --json`.
type historyJSON struct {
	Events []wire.Event `json:"events"`
	Errors []string     `json:"errors"`
}

// TestHistoryInLab: after a failover (redis-down on the master, then heal)
// and a planned switchover in a real lab, `redkeep history` lists both
// with their numbers, merged from both nodes' journals, and the lab's
// notify.command received the events on the node where each happened.
func TestHistoryInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	l, st := labenv.Up(t, "rkhi", "198.18.87.0/24", "198.18.88.0/24", "198.19.87.0/24")
	cfg := st.Config
	ctx := context.Background()
	start := statusUntil(t, cfg, "healthy", func(s statusJSON) bool { return s.Healthy })
	old := start.Master
	peer := map[string]string{"a": "b", "b": "a"}[old]

	// A failover: Redis dies on the master, the peer takes over.
	if _, err := l.Fail(ctx, lab.RedisDown, old); err != nil {
		t.Fatal(err)
	}
	statusUntil(t, cfg, peer+" master with the VIP", func(s statusJSON) bool { return s.VIPHolder == peer && s.Master == peer })
	if _, err := l.Heal(ctx); err != nil {
		t.Fatalf("lab heal: %v", err)
	}
	statusUntil(t, cfg, "healthy after heal", func(s statusJSON) bool { return s.Healthy && s.Master == peer })

	// A planned switchover back.
	if code, out := redkeep(t, "switchover", "-c", cfg, "--to", old, "--yes"); code != exitOK {
		t.Fatalf("switchover to %s: exit %d\n%s", old, code, out)
	}
	statusUntil(t, cfg, "healthy after the switchover", func(s statusJSON) bool { return s.Healthy && s.Master == old })

	code, out := redkeep(t, "history", "-c", cfg, "--json")
	if code != exitOK {
		t.Fatalf("history --json: exit %d\n%s", code, out)
	}
	var h historyJSON
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	var failedCheck, faulted, started, promoted, switched *wire.Event
	for i, e := range h.Events {
		if i > 0 && e.Time.Before(h.Events[i-1].Time) {
			t.Errorf("history not oldest first at %d", i)
		}
		// The lab's nodes kept a journal from their first hook on: every
		// event of their state logs is in it, and must not show twice.
		if e.Source == wire.SourceLog {
			t.Errorf("event %d came from the state log although the journal has it: %+v", i, e)
		}
		switch {
		case e.Event == wire.EventCheckFailed && e.Node == old && failedCheck == nil:
			failedCheck = &h.Events[i]
		case e.Event == wire.EventTransition && e.Node == old && e.To == wire.KAFault && faulted == nil:
			faulted = &h.Events[i]
		case e.Event == wire.EventTransition && e.Node == old && e.To == wire.KAMaster && started == nil:
			started = &h.Events[i]
		case e.Event == wire.EventTransition && e.Node == peer && e.To == wire.KAMaster && promoted == nil:
			promoted = &h.Events[i]
		case e.Event == wire.EventSwitchover && e.Node == peer:
			switched = &h.Events[i]
		}
	}
	switch {
	case failedCheck == nil, faulted == nil, started == nil, promoted == nil, switched == nil:
		t.Fatalf("history lacks the old master's start (%v), check-failed (%v) or FAULT (%v), the promotion (%v), or the switchover (%v):\n%s", started, failedCheck, faulted, promoted, switched, out)
	// An event is timed when its hook records it, not when keepalived
	// changed state: with the watcher the peer's MASTER hook can finish
	// before the old master's FAULT hook or its next check, so the
	// promotion is ordered only after the old master's own start.
	case promoted.Result != wire.ResultOK || promoted.TotalMS <= 0 || promoted.Time.Before(started.Time):
		t.Errorf("the failover's promotion: %+v (%s master since %s)", promoted, old, started.Time)
	case switched.Result != wire.ResultOK || switched.From != peer || switched.To != old || switched.WritesPausedMS <= 0 ||
		switched.VIPMovedMS <= 0 || switched.TotalMS < switched.VIPMovedMS || wire.CheckOperator(switched.Operator) != nil:
		t.Errorf("the switchover: %+v", switched)
	}

	code, text := redkeep(t, "history", "-c", cfg, "--since", "1h")
	if code != exitOK {
		t.Fatalf("history: exit %d\n%s", code, text)
	}
	for _, want := range []string{"check-failed", " -> MASTER ok", "switchover          " + peer + " -> " + old + " ok; writes paused ", "; VIP moved ", "; by "} {
		if !strings.Contains(text, want) {
			t.Errorf("history lacks %q:\n%s", want, text)
		}
	}
	t.Logf("redkeep history:\n%s", text)

	// The lab's notify.command got each node's events, the switchover on
	// the node that ran it.
	notified := func(node, kind string) bool {
		data, _ := os.ReadFile(l.S.Notifications(node))
		return strings.Contains(string(data), `"event":"`+kind+`"`)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !(notified(old, wire.EventCheckFailed) && notified(peer, wire.EventTransition) && notified(peer, wire.EventSwitchover)) {
		if time.Now().After(deadline) {
			a, _ := os.ReadFile(l.S.Notifications("a"))
			b, _ := os.ReadFile(l.S.Notifications("b"))
			t.Fatalf("notifications after 15s:\na: %s\nb: %s", a, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, _ := os.ReadFile(l.S.Notifications(peer))
	t.Logf("what notify.command received on %s:\n%s", peer, data)
}
