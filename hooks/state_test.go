package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redkeep/redkeep/wire"
)

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "dir", "state.json") // parents are created
	if _, ok, err := ReadState(path); ok || err != nil {
		t.Fatalf("missing file: ok=%v err=%v, want false, nil", ok, err)
	}
	want := wire.State{Node: "a", Instance: "VI_REDIS", State: wire.KAMaster, Priority: 150, Since: time.Date(2026, 11, 26, 0, 11, 55, 123456789, time.UTC),
		Generation: 7, PID: 42, LastAction: "promote", LastResult: wire.ResultOK}
	if err := writeState(path, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := ReadState(path)
	if err != nil || !ok || got != want {
		t.Fatalf("ReadState = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	raw, _ := os.ReadFile(path)
	for _, field := range []string{`"node"`, `"instance"`, `"state"`, `"priority"`, `"since": "2026-11-26T00:11:55.123456789Z"`, `"generation"`, `"pid"`, `"last_action"`, `"last_result"`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("state file lacks %s:\n%s", field, raw)
		}
	}
	// No temporary files are left beside it.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want only state.json", len(entries))
	}
}

func TestParseStateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, data, want string }{
		{"empty", "", "EOF"},
		{"not json", "MASTER", "invalid character"},
		{"unknown state", `{"state":"SLEEPING"}`, `unknown state "SLEEPING"`},
		{"unknown result", `{"state":"MASTER","last_result":"meh"}`, `unknown last_result "meh"`},
		{"trailing", `{"state":"MASTER"} {}`, "trailing data"},
		{"bad since", `{"state":"MASTER","since":"yesterday"}`, "cannot parse"},
		{"negative generation", `{"state":"MASTER","generation":-1}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.ParseState([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseState(%q) error = %v, want %q", tt.data, err, tt.want)
			}
		})
	}
	// Newer fields from a newer redkeep are fine.
	if s, err := wire.ParseState([]byte(`{"state":"BACKUP","generation":3,"future":true}`)); err != nil || s.Generation != 3 {
		t.Fatalf("unknown field: %+v, %v", s, err)
	}
}

// FuzzParseState: the console parses whatever it finds on a node; it must
// never panic, and what it accepts must be a known state.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"node":"a","instance":"VI_REDIS","state":"MASTER","priority":150,"since":"2026-11-26T00:11:55.123Z","generation":7,"pid":42,"last_action":"promote","last_result":"ok"}`))
	f.Add([]byte(`{"state":"FAULT","last_result":"refused"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := wire.ParseState(data)
		if err != nil {
			return
		}
		switch s.State {
		case wire.KAMaster, wire.KABackup, wire.KAFault, wire.KAStop:
		default:
			t.Fatalf("accepted state %q", s.State)
		}
	})
}

func TestParseNotifyArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    NotifyArgs
		wantErr string
	}{
		{[]string{"INSTANCE", "VI_REDIS", "MASTER", "150"}, NotifyArgs{"INSTANCE", "VI_REDIS", wire.KAMaster, 150}, ""},
		{[]string{"INSTANCE", "VI_REDIS", "BACKUP"}, NotifyArgs{"INSTANCE", "VI_REDIS", wire.KABackup, 0}, ""},
		{[]string{"INSTANCE", "VI_REDIS", "DELETED", "0"}, NotifyArgs{"INSTANCE", "VI_REDIS", wire.KAStop, 0}, ""},
		{[]string{"GROUP", "VG_1", "FAULT", "0"}, NotifyArgs{"GROUP", "VG_1", wire.KAFault, 0}, ""},
		{[]string{"instance", "VI_REDIS", "stop", "1"}, NotifyArgs{"INSTANCE", "VI_REDIS", wire.KAStop, 1}, ""},
		{[]string{"INSTANCE", "VI_REDIS"}, NotifyArgs{}, "got 2 arguments"},
		{[]string{"INSTANCE", "VI_REDIS", "MASTER", "150", "x"}, NotifyArgs{}, "got 5 arguments"},
		{[]string{"HOST", "VI_REDIS", "MASTER", "150"}, NotifyArgs{}, "want INSTANCE or GROUP"},
		{[]string{"INSTANCE", "VI_REDIS", "SLEEPING", "150"}, NotifyArgs{}, `state "SLEEPING"`},
		{[]string{"INSTANCE", "VI_REDIS", "MASTER", "high"}, NotifyArgs{}, `priority "high"`},
		{[]string{"INSTANCE", "VI_REDIS", "MASTER", "300"}, NotifyArgs{}, `priority "300"`},
		{[]string{"INSTANCE", strings.Repeat("V", 200), "MASTER", "150"}, NotifyArgs{}, "name is 200 bytes"},
		{[]string{"INSTANCE", "VI\x1b[2J", "MASTER", "150"}, NotifyArgs{}, "control character"},
		{[]string{"INSTANCE", "VI_REDIS", "MASTER", strings.Repeat("1", 300)}, NotifyArgs{}, "priority is 300 bytes"},
		{[]string{"INSTANCE", "VI_REDIS", "MASTER", "150", "x", "y", "z"}, NotifyArgs{}, "got 7 arguments"},
	}
	for _, tt := range tests {
		got, err := ParseNotifyArgs(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseNotifyArgs(%q) error = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseNotifyArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

func FuzzParseNotifyArgs(f *testing.F) {
	f.Add("INSTANCE", "VI_REDIS", "MASTER", "150")
	f.Add("GROUP", "VG", "DELETED", "")
	f.Fuzz(func(t *testing.T, kind, name, state, prio string) {
		args := []string{kind, name, state}
		if prio != "" {
			args = append(args, prio)
		}
		n, err := ParseNotifyArgs(args)
		if err != nil {
			return
		}
		if n.State != wire.KAMaster && n.State != wire.KABackup && n.State != wire.KAFault && n.State != wire.KAStop {
			t.Fatalf("accepted state %q", n.State)
		}
		if n.Priority < 0 || n.Priority > 255 {
			t.Fatalf("accepted priority %d", n.Priority)
		}
		if len(n.Name) > maxNotifyArg || clean(n.Name) != n.Name {
			t.Fatalf("accepted name %q", n.Name)
		}
	})
}

func FuzzClean(f *testing.F) {
	f.Add("plain text")
	f.Add(strings.Repeat("é\n", maxLogMessage))
	f.Add("a\rb\nc\x00d\x1b[31me\x7ff\u0085g\u009bh\xffi\xc3j\u2028k\u202el\tm")
	f.Fuzz(func(t *testing.T, s string) {
		c := clean(s)
		if !utf8.ValidString(c) || len(c) > maxLogMessage {
			t.Fatalf("clean(%q) = %q: invalid UTF-8 or too long", s, c)
		}
		for _, r := range c {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("clean(%q) = %q holds %U", s, c, r)
			}
		}
		if clean(c) != c {
			t.Fatalf("clean is not idempotent on %q", s)
		}
	})
}

// stateLine is the origin document's layout with milliseconds.
var stateLine = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}:\d{2}:\d{2}:\d{2}\.\d{3}\|\d+\|state:\[[a-z]+\] .+$`)

func TestLoggerLayout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log", "redis-state.log")
	l := NewLogger(path)
	l.Syslog = false
	l.now = func() time.Time { return time.Date(2026, 11, 26, 0, 11, 55, 123000000, time.Local) }
	l.Logf(Info, "MASTER", "promoted: offset %d", 42)
	l.Logf(Warn, "check", "two\nlines")
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (a newline in a message must not split it):\n%s", len(lines), b)
	}
	for _, line := range lines {
		if !stateLine.MatchString(line) {
			t.Errorf("line %q does not have the redis-state layout", line)
		}
	}
	if !strings.HasPrefix(lines[0], "2026-11-26:00:11:55.123|") || !strings.HasSuffix(lines[0], "|state:[master] promoted: offset 42") {
		t.Errorf("first line = %q", lines[0])
	}
}

// TestLoggerStripsControlCharacters: a hook logs values it was handed
// (keepalived's arguments, Redis replies, file contents); none of them may
// forge a line in the state log or reach a terminal as an escape sequence.
func TestLoggerStripsControlCharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "redis-state.log")
	l := NewLogger(path)
	l.Syslog = false
	l.now = func() time.Time { return time.Date(2026, 11, 26, 0, 11, 55, 123000000, time.Local) }
	hostile := "a\rb\nc\x00d\x1b[31me\x7ff\u0085g\u009bh\xffi\xc3j\u2028k\u202el\tm"
	l.Logf(Info, "check\x1b]0;x\a", "value %s end", hostile)
	l.Logf(Info, "check", "%s", strings.Repeat("\n", 1<<20))
	l.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want exactly two lines, got %d:\n%q", len(lines), b)
	}
	if n := len(lines[1]); n > 2*maxLogMessage {
		t.Errorf("a 1 MB message made a %d-byte line", n)
	}
	line := lines[0]
	if !utf8.ValidString(line) {
		t.Errorf("line is not valid UTF-8: %q", line)
	}
	for _, r := range line {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u202e' {
			t.Errorf("line holds %U: %q", r, line)
		}
	}
	// Line-like controls become spaces, other controls and invalid bytes go.
	if want := "|state:[check]0;x] value a b cd[31mef ghij kl m end"; !strings.HasPrefix(line, "2026-11-26:00:11:55.123|") || !strings.HasSuffix(line, want) {
		t.Errorf("line = %q\nwant suffix %q", line, want)
	}
}

func TestLocks(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "run", "hook.lock")
	l1, err := tryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open files, so a second open in this process
	// conflicts just like another hook process would.
	if _, err := tryLock(path); !errors.Is(err, errLockBusy) {
		t.Fatalf("second tryLock = %v, want errLockBusy", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := lockWait(ctx, path); err == nil || !strings.Contains(err.Error(), "still held") {
		t.Fatalf("lockWait on a held lock = %v", err)
	}
	done := make(chan error, 1)
	go func() {
		l, err := lockWait(context.Background(), path)
		l.Unlock()
		done <- err
	}()
	l1.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("lockWait after release: %v", err)
	}
}
