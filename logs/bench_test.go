package logs

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkParse measures parse throughput per source over the recorded
// fixtures (lines/s is the number to compare with the 20k lines/s target):
//
//	go test ./logs/ -run '^$' -bench Parse -benchmem
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name, file string
		src        Source
	}{
		{"keepalived-syslog", "keepalived-2.2.7.syslog", SourceSyslog},
		{"keepalived-rfc3339", "keepalived-2.2.7-rfc3339.syslog", SourceSyslog},
		{"redis-log", "redis-a.log", SourceRedis},
		{"redis-state", "redis-state.log", SourceState},
		{"journal-json", "journal.json", SourceJournal},
		{"sniffed", "redis-b.log", ""},
	} {
		lines := fixtureLines(b, bc.file)
		p := Parser{Node: "a", Source: bc.src, Location: time.UTC}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				p.ParseAt(lines[n%len(lines)], readAt)
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

func fixtureLines(tb testing.TB, file string) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}
