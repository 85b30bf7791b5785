package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseEvent(t *testing.T) {
	good := `{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"transition","from":"BACKUP","to":"MASTER","total_ms":40,"result":"ok"}`
	e, err := ParseEvent([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if e.Time != time.Date(2026, 11, 26, 0, 11, 55, 123e6, time.UTC) || e.To != KAMaster || e.Total() != 40*time.Millisecond {
		t.Fatalf("ParseEvent = %+v", e)
	}
	for _, tc := range []struct{ name, line, want string }{
		{"not json", `hello`, "invalid character"},
		{"no time", `{"node":"a","event":"transition"}`, "time"},
		{"bad time", `{"time":"yesterday","node":"a","event":"transition"}`, "RFC 3339"},
		{"no kind", `{"time":"2026-11-26T00:11:55.123Z","node":"a"}`, "not an event kind"},
		{"bad kind", `{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"Rm -rf"}`, "not an event kind"},
		{"bad result", `{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"resolve","result":"great"}`, "unknown result"},
		{"negative", `{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"resolve","total_ms":-1}`, "negative"},
		{"trailing", good + ` {}`, "trailing data"},
		{"long node", `{"time":"2026-11-26T00:11:55.123Z","node":"` + strings.Repeat("a", 65) + `","event":"resolve"}`, "longer than"},
		{"too long", `{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"resolve","detail":"` + strings.Repeat("x", MaxEventLine) + `"}`, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tc.line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseEvent(%.60s) = %v, want an error with %q", tc.line, err, tc.want)
			}
		})
	}
}

// TestEventLineBounded: a huge detail, full of characters JSON escapes,
// is cut so the line fits MaxEventLine and still parses.
func TestEventLineBounded(t *testing.T) {
	e := Event{Time: time.Now(), Node: "a", Event: EventResolve, Detail: strings.Repeat("\x01é", 10000), Reason: strings.Repeat("r", 5000), Operator: "bob@host"}
	line, err := e.Line()
	if err != nil {
		t.Fatal(err)
	}
	if len(line) > MaxEventLine || !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Fatalf("line is %d bytes (max %d) or not one line", len(line), MaxEventLine)
	}
	got, err := ParseEvent(line)
	if err != nil {
		t.Fatal(err)
	}
	if got.Operator != "bob@host" || got.Node != "a" {
		t.Fatalf("kept fields changed: %+v", got)
	}
}

func TestEventString(t *testing.T) {
	e := Event{Time: time.Date(2026, 11, 26, 0, 11, 55, 123e6, time.Local), Node: "b", Event: EventSwitchover, From: "a", To: "b",
		WritesPausedMS: 3, VIPMovedMS: 812, TotalMS: 1207, Operator: "alice@laptop", Result: ResultOK}
	want := "2026-11-26 00:11:55.123  b      switchover          a -> b ok; writes paused 3ms; VIP moved 812ms; total 1207ms; by alice@laptop"
	if got := e.String(); got != want {
		t.Fatalf("String() =\n%q\nwant\n%q", got, want)
	}
}

// FuzzParseEvent: whatever a journal holds, ParseEvent never panics, and
// what it accepts encodes to a line that parses back the same.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"transition","from":"BACKUP","to":"MASTER","total_ms":40,"result":"ok"}`))
	f.Add([]byte(`{"time":"2026-11-26T00:11:55Z","node":"a","event":"check-failed","detail":"\u001b[31m"}`))
	f.Add([]byte(`{"time":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		line, err := e.Line()
		if err != nil {
			t.Fatalf("accepted %q but cannot write it back: %v", data, err)
		}
		again, err := ParseEvent(line)
		if err != nil {
			t.Fatalf("written line %q does not parse: %v", line, err)
		}
		a, _ := json.Marshal(again)
		b, _ := json.Marshal(e)
		if len(line) < MaxEventLine-64 && !bytes.Equal(a, b) {
			t.Fatalf("round trip changed the event:\n%s\n%s", a, b)
		}
	})
}

func TestCheckOperator(t *testing.T) {
	for _, ok := range []string{"alice@laptop", "svc.redkeep-1@ops-host.example.com"} {
		if err := CheckOperator(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "alice", "@host", "alice@", "a b@host", "alice@host;id", "-o@host", "alice@" + strings.Repeat("h", 130), "al\x1b@host"} {
		if err := CheckOperator(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
