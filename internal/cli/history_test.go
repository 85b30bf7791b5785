package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/actions"
	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/wire"
)

// fakeHistoryNodes answers `hook history --json` with canned replies.
type fakeHistoryNodes struct {
	replies map[string]string
	errs    map[string]error
	args    [][]string
	closed  bool
}

func (f *fakeHistoryNodes) Redkeep(_ context.Context, node string, args ...string) ([]byte, error) {
	f.args = append(f.args, args)
	if err := f.errs[node]; err != nil {
		return nil, err
	}
	return []byte(f.replies[node]), nil
}

func (f *fakeHistoryNodes) Close() error { f.closed = true; return nil }

const (
	historyA = `{"node":"a","events":[
{"time":"2026-11-26T10:00:00.100Z","node":"a","event":"check-failed","result":"failed","detail":"local Redis does not answer PING"},
{"time":"2026-11-26T10:00:00.300Z","node":"a","event":"transition","from":"MASTER","to":"FAULT","total_ms":12,"result":"ok"},
{"time":"2026-11-26T10:05:00.000Z","node":"a","event":"switchover","from":"a","to":"b","writes_paused_ms":3,"vip_moved_ms":850,"total_ms":1320,"operator":"alice@laptop","result":"ok"}]}`
	historyB = `{"node":"b","events":[
{"time":"2026-11-26T09:00:00.000Z","node":"b","event":"transition","to":"BACKUP","result":"ok","source":"log"},
{"time":"2026-11-26T10:00:00.200Z","node":"evil","event":"transition","from":"BACKUP","to":"MASTER","writes_paused_ms":0,"total_ms":48,"result":"ok","detail":"promoted\u001b[2J"},
{"time":"not a time","node":"b","event":"transition"}],"skipped":1}`
)

// TestRunHistoryWithFakes: both nodes' events merged by time, newest last,
// with their numbers; a node's bad lines and an unreachable node are said.
func TestRunHistoryWithFakes(t *testing.T) {
	cfg := fakeConfig(t)
	t.Run("merged", func(t *testing.T) {
		f := &fakeHistoryNodes{replies: map[string]string{"a": historyA, "b": historyB}}
		var out bytes.Buffer
		o := &historyOptions{since: 2 * time.Hour, timeout: time.Second, out: &out, connect: func(*config.Config) (historyConns, error) { return f, nil }}
		err := runHistory(context.Background(), cfg, o)
		if err != nil || !strings.Contains(out.String(), "warning: node b: 2 journal lines were not events (skipped)") {
			t.Fatalf("runHistory = %v, want exit 0 with the skipped lines reported:\n%s", err, out.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var kinds []string
		for _, l := range lines[:5] {
			kinds = append(kinds, strings.Fields(l)[3]+"/"+strings.Fields(l)[2])
		}
		want := []string{"transition/b", "check-failed/a", "transition/b", "transition/a", "switchover/a"}
		if !slices.Equal(kinds, want) {
			t.Fatalf("order %v, want %v:\n%s", kinds, want, out.String())
		}
		for _, s := range []string{"(from the state log)", "BACKUP -> MASTER ok; total 48ms; promoted", "a -> b ok; writes paused 3ms; VIP moved 850ms; total 1320ms; by alice@laptop"} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("output lacks %q:\n%s", s, out.String())
			}
		}
		if strings.Contains(out.String(), "\x1b") || strings.Contains(out.String(), "evil") {
			t.Errorf("a node's text reached the terminal raw, or named another node:\n%q", out.String())
		}
		for _, a := range f.args {
			if !slices.Equal(a, []string{"hook", "history", "--json", "--since", "2h0m0s"}) {
				t.Errorf("asked the node %q", a)
			}
		}
		if !f.closed {
			t.Error("connections left open")
		}
	})
	t.Run("json, a node down", func(t *testing.T) {
		f := &fakeHistoryNodes{replies: map[string]string{"a": historyA}, errs: map[string]error{"b": errors.New("ssh: connect to 198.51.100.12: no route to host")}}
		var out bytes.Buffer
		o := &historyOptions{asJSON: true, timeout: time.Second, out: &out, connect: func(*config.Config) (historyConns, error) { return f, nil }}
		err := runHistory(context.Background(), cfg, o)
		if codeOf(err) != exitUnhealthy {
			t.Fatalf("runHistory = %v, want exit 1", err)
		}
		var h actions.History
		if err := json.Unmarshal(out.Bytes(), &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Events) != 3 || len(h.Errors) != 1 || !strings.Contains(h.Errors[0], "node b: ssh") {
			t.Fatalf("history %+v", h)
		}
	})
}

// TestHookHistory: the node verb prints its journal, preceded by what the
// redis-state log holds from before it, and honours --since.
func TestHookHistory(t *testing.T) {
	dir := t.TempDir()
	path := configtest.Pair{}.Hooks(dir).Write(t, dir, "config.yaml")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-3 * time.Hour)
	stamp := func(t time.Time) string { return t.Format("2006-01-02:15:04:05.000") }
	stateLog := fmt.Sprintf("%s|100|state:[master] keepalived MASTER (instance VI_REDIS, priority 150): generation 1\n"+
		"%s|100|state:[master] ok: done\n%s|7|state:[check] check failed: local Redis does not answer PING\n",
		stamp(old), stamp(old.Add(40*time.Millisecond)), stamp(old.Add(time.Minute)))
	if err := os.WriteFile(filepath.Join(dir, "redis-state.log"), []byte(stateLog), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []wire.Event{{Time: time.Now().Add(-2 * time.Hour), Event: wire.EventCheckOK}, {Time: time.Now().Add(-time.Minute), Event: wire.EventTransition, From: "MASTER", To: "FAULT"}} {
		if err := events.Record(cfg, &cfg.Nodes[0], ev); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) actions.NodeHistory {
		var out, errOut bytes.Buffer
		code := Main(append([]string{"hook", "history", "--json", "-c", path, "--node", "a"}, args...), Streams{Out: &out, Err: &errOut})
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		var h actions.NodeHistory
		if err := json.Unmarshal(out.Bytes(), &h); err != nil {
			t.Fatal(err, out.String())
		}
		return h
	}
	h := run()
	var got []string
	for _, e := range h.Events {
		got = append(got, e.Event+":"+e.Source)
	}
	if want := []string{"transition:log", "check-failed:log", "check-ok:", "transition:"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if e := h.Events[0]; e.To != "MASTER" || e.TotalMS != 40 || e.Result != wire.ResultOK {
		t.Errorf("state log transition %+v", e)
	}
	if h := run("--since", "90m"); len(h.Events) != 1 || h.Events[0].To != "FAULT" {
		t.Errorf("--since 90m: %+v", h.Events)
	}
}
