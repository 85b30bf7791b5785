package logs

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
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

// BenchmarkFollowFile measures lines/s from a local file to parsed events:
// a writer appends b.N keepalived lines while File and Pump deliver them.
//
//	go test ./logs/ -run '^$' -bench FollowFile -benchmem
func BenchmarkFollowFile(b *testing.B) {
	benchFollow(b, func(path string) Follower { return &File{Path: path, Backlog: 1} })
}

// BenchmarkFollowTail is the same through a real `tail -F` process (the
// path a remote node's log takes, minus SSH).
func BenchmarkFollowTail(b *testing.B) {
	if _, err := exec.LookPath("tail"); err != nil {
		b.Skip("tail not installed")
	}
	benchFollow(b, func(path string) Follower { return &RemoteFile{Streamer: ExecStreamer{}, Path: path, Backlog: 1} })
}

func benchFollow(b *testing.B, mk func(path string) Follower) {
	path := filepath.Join(b.TempDir(), "syslog")
	// The follower starts with this last line, which says it is up.
	if err := os.WriteFile(path, []byte("ready\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event, 256)
	done := make(chan error, 1)
	p := &Parser{Node: "a", Source: SourceSyslog, Location: time.UTC}
	go func() { done <- Pump(ctx, mk(path), p, out) }()
	defer func() {
		cancel()
		for {
			select {
			case <-out:
			case <-done:
				return
			}
		}
	}()
	for ev := range out {
		if ev.Raw == "ready" {
			break
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		w := bufio.NewWriterSize(f, 64<<10)
		for i := range b.N {
			fmt.Fprintf(w, "Nov 26 00:20:21 redis-a Keepalived_vrrp[1]: (VI_REDIS) Entering FAULT STATE %d\n", i)
		}
		w.Flush()
	}()
	for got := 0; got < b.N; {
		if ev := <-out; ev.Kind != KindNotice {
			got++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
