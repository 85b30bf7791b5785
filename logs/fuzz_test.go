package logs

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Each parser is fuzzed on its own, seeded with every recorded fixture line:
//
//	go test ./logs/ -run '^$' -fuzz FuzzParseSyslog -fuzztime 1m
func FuzzParseSyslog(f *testing.F)  { fuzzParser(f, SourceSyslog) }
func FuzzParseRedis(f *testing.F)   { fuzzParser(f, SourceRedis) }
func FuzzParseState(f *testing.F)   { fuzzParser(f, SourceState) }
func FuzzParseJournal(f *testing.F) { fuzzParser(f, SourceJournal) }
func FuzzParseSniff(f *testing.F)   { fuzzParser(f, "") }

func fuzzParser(f *testing.F, src Source) {
	seedFixtures(f)
	p := Parser{Node: "n", Source: src, Location: time.UTC}
	kinds := map[Kind]bool{KindRaw: true, KindTransition: true, KindScript: true, KindPriority: true,
		KindRedisRole: true, KindRedisSync: true, KindHook: true, KindDaemon: true}
	f.Fuzz(func(t *testing.T, line string) {
		ev := p.ParseAt(line, readAt)
		if ev.Node != "n" {
			t.Errorf("Node = %q", ev.Node)
		}
		if !kinds[ev.Kind] {
			t.Errorf("unknown kind %q", ev.Kind)
		}
		if ev.Level < LevelInfo || ev.Level > LevelError {
			t.Errorf("level %d out of range", ev.Level)
		}
		if !strings.HasPrefix(line, ev.Raw) || len(ev.Raw) > MaxParseBytes {
			t.Errorf("Raw %q is not a bounded prefix of the line", ev.Raw)
		}
		if utf8.ValidString(line) && !utf8.ValidString(ev.Raw) {
			t.Errorf("Raw split a rune: %q", ev.Raw)
		}
		if ev.Time.IsZero() {
			t.Error("zero time")
		}
		if ev.Kind == KindTransition && ev.State == "" {
			t.Errorf("transition without a state: %+v", ev)
		}
		if ev.Kind == KindScript && ev.Script == "" {
			t.Errorf("script event without a name: %+v", ev)
		}
	})
}

// seedFixtures adds every line of every fixture, plus some edge cases.
func seedFixtures(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if st, err := os.Stat(name); err != nil || st.IsDir() || strings.HasSuffix(name, ".golden") || strings.HasSuffix(name, ".md") {
			continue
		}
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			f.Add(sc.Text())
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
	}
	for _, s := range []string{"", "(", "()", "(x)", "VRRP_Instance(", "VRRP_Script()", "Script `", "<", "<1", "<999>",
		"Nov 26 00:11:55", "Feb 29 00:00:00 h p: x", "2026-11-26T", "[", "[1]", "1:", "1:M ", "|", "2014-02-10:21:34:19||",
		`{"MESSAGE":[1,2,3]}`, "(VI_1) Changing effective priority from 99999999999 to -1", "Connecting to MASTER :"} {
		f.Add(s)
	}
}

// FuzzSplitter feeds data in chunks of a fuzzed size and checks the lines
// against a plain split: same lines, cut at max bytes when longer, in order.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("a\nb\r\nccc\n\nlong line here\npartial"), uint8(3), uint8(4))
	f.Add([]byte("\n\n\n"), uint8(1), uint8(1))
	f.Add([]byte("ééééé\n"), uint8(2), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		size, maxLine := int(chunk%16)+1, int(max%32)+1
		sp := newSplitter(maxLine)
		var got []string
		emit := func(text string, truncated bool) bool {
			if len(text) > maxLine {
				t.Fatalf("line of %d bytes, cap %d", len(text), maxLine)
			}
			got = append(got, text)
			return true
		}
		for rest := data; len(rest) > 0; {
			n := min(size, len(rest))
			sp.feed(rest[:n], emit)
			rest = rest[n:]
		}
		sp.flush(emit)
		parts := strings.Split(string(data), "\n")
		if parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		if len(got) != len(parts) {
			t.Fatalf("%d lines, want %d (%q vs %q)", len(got), len(parts), got, parts)
		}
		for i, p := range parts {
			if !strings.HasPrefix(strings.TrimSuffix(p, "\r"), strings.TrimSuffix(got[i], "\r")) {
				t.Fatalf("line %d: %q is not a prefix of %q", i, got[i], p)
			}
			if len(p) <= maxLine && strings.TrimSuffix(p, "\r") != got[i] {
				t.Fatalf("line %d: %q, want %q", i, got[i], p)
			}
		}
	})
}
