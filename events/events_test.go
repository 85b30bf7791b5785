package events

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/wire"
)

// TestMain lets the test binary stand in for the processes the package
// starts: `redkeep hook deliver` (Record's child) and the concurrent
// appenders of TestConcurrentAppends.
func TestMain(m *testing.M) {
	switch os.Getenv("REDKEEP_EVENTS_HELPER") {
	case "deliver":
		os.Exit(helperDeliver(os.Args[1:]))
	case "append":
		os.Exit(helperAppend())
	}
	os.Exit(m.Run())
}

// helperDeliver is `hook deliver --node N --config P`.
func helperDeliver(args []string) int {
	var path string
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			path = args[i+1]
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d := &Deliverer{Cfg: cfg}
	if err := d.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func helperAppend() int {
	n, _ := strconv.Atoi(os.Getenv("REDKEEP_EVENTS_N"))
	pad := strings.Repeat("x", 1500)
	for i := range n {
		ev := wire.Event{Time: time.Now(), Node: os.Getenv("REDKEEP_EVENTS_WHO"), Event: wire.EventCheckOK, Detail: fmt.Sprintf("%d %s", i, pad)}
		if err := Append(os.Getenv("REDKEEP_EVENTS_PATH"), ev); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func testConfig(t testing.TB, extra string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := configtest.Pair{Extra: extra}.Hooks(dir).Write(t, dir, "config.yaml")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "events.jsonl")
	t0 := time.Date(2026, 11, 26, 0, 11, 55, 123e6, time.UTC)
	for i, kind := range []string{wire.EventTransition, wire.EventCheckFailed, wire.EventSwitchover} {
		if err := Append(path, wire.Event{Time: t0.Add(time.Duration(i) * time.Second), Node: "a", Event: kind}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"transition"}`+"\n") {
		t.Fatalf("journal starts %q", data)
	}
	evs, bad, err := Read(path, t0.Add(time.Second))
	if err != nil || bad != 0 {
		t.Fatal(err, bad)
	}
	if len(evs) != 2 || evs[0].Event != wire.EventCheckFailed || evs[1].Event != wire.EventSwitchover {
		t.Fatalf("Read since t0+1s = %+v", evs)
	}
	if evs, _, err := Read(filepath.Join(t.TempDir(), "none.jsonl"), time.Time{}); err != nil || len(evs) != 0 {
		t.Fatalf("a missing journal: %v, %v", evs, err)
	}
}

// TestReadSkipsGarbage: lines that are not events are counted, not fatal;
// a journal grown past its bound (written by something else) is read from
// its last MaxFileSize bytes only.
func TestReadSkipsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	big := strings.Repeat(`{"time":"2026-11-26T00:11:55.123Z","node":"a","event":"check-ok"}`+"\n", 3*MaxFileSize/66)
	junk := "not json\n\x1b[2J\n{\"time\":\"2026-11-26T00:11:56Z\",\"node\":\"a\",\"event\":\"BAD KIND\"}\n"
	last := `{"time":"2026-11-26T00:11:57Z","node":"b","event":"resolve"}` + "\n"
	if err := os.WriteFile(path, []byte(big+junk+last), 0o644); err != nil {
		t.Fatal(err)
	}
	evs, bad, err := Read(path, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if bad != 3 {
		t.Errorf("bad lines = %d, want 3", bad)
	}
	if n := len(evs); n > (MaxFileSize+wire.MaxEventLine)/66+1 || evs[n-1].Event != wire.EventResolve {
		t.Errorf("read %d events, last %+v: want at most the file's last MiB, newest last", n, evs[n-1])
	}
}

// TestRotation: the journal rotates at MaxFileSize into path.1 and path.2;
// no file grows past the bound and the newest events survive.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	detail := strings.Repeat("d", 3000)
	const n = 1400 // ~4.3 MiB of lines: more than the three files hold
	t0 := time.Now()
	for i := range n {
		if err := Append(path, wire.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Node: "a", Event: wire.EventCheckOK, Detail: fmt.Sprint(i, detail)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range Files(path) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > MaxFileSize {
			t.Errorf("%s is %d bytes, more than %d", p, fi.Size(), MaxFileSize)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("%s.3 exists: keep %d rotated files", path, Keep)
	}
	evs, bad, err := Read(path, time.Time{})
	if err != nil || bad != 0 {
		t.Fatal(err, bad)
	}
	if len(evs) < 2*MaxFileSize/3100-2 || !strings.HasPrefix(evs[len(evs)-1].Detail, fmt.Sprint(n-1)) {
		t.Fatalf("read %d events after rotation, last %.10q", len(evs), evs[len(evs)-1].Detail)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Time.Before(evs[i-1].Time) {
			t.Fatalf("events out of order at %d", i)
		}
	}
}

// TestConcurrentAppends: four processes append at once, across a
// rotation; every line is whole and none is lost.
func TestConcurrentAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	const procs, each = 4, 250 // 1000 lines of ~1.6 KB: one rotation
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "REDKEEP_EVENTS_HELPER=append", "REDKEEP_EVENTS_PATH="+path, "REDKEEP_EVENTS_N="+strconv.Itoa(each), fmt.Sprintf("REDKEEP_EVENTS_WHO=p%d", p))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("appender %d: %v: %s", p, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".1"); err != nil {
		t.Fatalf("no rotation happened (%v): the test must cross one", err)
	}
	seen := map[string]bool{}
	for _, p := range Files(path) {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ev, err := wire.ParseEvent(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: a line is not one event (interleaved?): %v", p, err)
			}
			key := ev.Node + " " + strings.Fields(ev.Detail)[0]
			if seen[key] {
				t.Fatalf("%s twice", key)
			}
			seen[key] = true
		}
		f.Close()
	}
	if len(seen) != procs*each {
		t.Fatalf("%d events in the journal, want %d", len(seen), procs*each)
	}
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func sample() wire.Event {
	return wire.Event{Time: time.Date(2026, 11, 26, 0, 11, 55, 123e6, time.UTC), Node: "b", Event: wire.EventTransition,
		From: wire.KABackup, To: wire.KAMaster, WritesPausedMS: 4, TotalMS: 61, Result: wire.ResultOK, Detail: "promoted\x1b[2J"}
}

// TestDeliverCommand: a real command gets the event as JSON on stdin and
// as cleaned REDKEEP_* variables, and the delivery is counted.
func TestDeliverCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "got")
	cmd := script(t, `cat > `+out+`.json; env | grep ^REDKEEP_ | sort > `+out+`.env`+"\n")
	cfg := testConfig(t, fmt.Sprintf("notify: {command: [%s], timeout: 5s}\n", cmd))
	d := &Deliverer{Cfg: cfg}
	d.Deliver(context.Background(), sample())

	data, err := os.ReadFile(out + ".json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.ParseEvent(data)
	if err != nil || got.To != wire.KAMaster || got.WritesPausedMS != 4 {
		t.Fatalf("stdin %s: %+v, %v", data, got, err)
	}
	env, _ := os.ReadFile(out + ".env")
	for _, want := range []string{"REDKEEP_EVENT=transition\n", "REDKEEP_NODE=b\n", "REDKEEP_FROM=BACKUP\n", "REDKEEP_TO=MASTER\n", "REDKEEP_RESULT=ok\n",
		"REDKEEP_WRITES_PAUSED_MS=4\n", "REDKEEP_TIME=2026-11-26T00:11:55.123Z\n"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(string(env), "\x1b") {
		t.Errorf("an escape reached the command's environment:\n%q", env)
	}
	wantStats(t, cfg, 1, 0)
}

// TestDeliverFailingCommand: a command that fails is counted and its
// output logged; nothing is retried.
func TestDeliverFailingCommand(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	cmd := script(t, "echo run >> "+runs+"; echo 'pager down' >&2; exit 3\n")
	cfg := testConfig(t, fmt.Sprintf("notify: {command: [%s]}\n", cmd))
	var logged []string
	d := &Deliverer{Cfg: cfg, Logf: func(failed bool, f string, a ...any) {
		if failed {
			logged = append(logged, fmt.Sprintf(f, a...))
		}
	}}
	d.Deliver(context.Background(), sample())
	s := wantStats(t, cfg, 0, 1)
	if !strings.Contains(s.LastError, "exit status 3: pager down") || len(logged) != 1 || !strings.Contains(logged[0], "pager down") {
		t.Errorf("last error %q, logged %q", s.LastError, logged)
	}
	if data, _ := os.ReadFile(runs); string(data) != "run\n" {
		t.Errorf("the command ran %q, want once", data)
	}
}

// TestCommandTimeout: a command that hangs, and its children, are killed
// at the timeout.
func TestCommandTimeout(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "child")
	cmd := script(t, "sleep 60 & echo $! > "+pidfile+"; wait\n")
	err := RunCommand(context.Background(), []string{cmd}, 300*time.Millisecond, sample())
	if err == nil || !strings.Contains(err.Error(), "no exit within 300ms") {
		t.Fatalf("RunCommand = %v", err)
	}
	data, _ := os.ReadFile(pidfile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid <= 0 {
		t.Fatalf("no child pid: %q", data)
	}
	// SIGKILL was sent to the group; its delivery is asynchronous.
	for deadline := time.Now().Add(5 * time.Second); ; {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command's child %d survived the timeout by 5s: %s", pid, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeliverWebhook: a real HTTP receiver gets the event as JSON with a
// Slack-compatible text field.
func TestDeliverWebhook(t *testing.T) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want JSON", http.StatusBadRequest)
			return
		}
		bodies <- b
	}))
	t.Cleanup(srv.Close)
	cfg := testConfig(t, "notify: {webhook: "+srv.URL+"/hook}\n")
	(&Deliverer{Cfg: cfg}).Deliver(context.Background(), sample())
	b := <-bodies
	var got struct {
		wire.Event
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &got.Event); err != nil {
		t.Fatal(err)
	}
	var text struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(b, &text)
	if got.Event.To != wire.KAMaster || got.Event.TotalMS != 61 {
		t.Errorf("body %s", b)
	}
	want := "redkeep: 2026-11-26 00:11:55.123 b transition BACKUP -> MASTER ok; writes paused 4ms; total 61ms; promoted"
	if !strings.HasPrefix(text.Text, want) || strings.Contains(text.Text, "\x1b") {
		t.Errorf("text %q, want %q...", text.Text, want)
	}
	wantStats(t, cfg, 1, 0)
}

// TestWebhookFile: the URL may come from a file (it can hold a token); a
// refused file is a failed delivery naming it, and the URL is never logged.
func TestWebhookFile(t *testing.T) {
	hits := atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/services/T0/B0/s3cret" {
			hits.Add(1)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "webhook")
	if err := os.WriteFile(file, []byte(srv.URL+"/services/T0/B0/s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "notify: {webhook_file: "+file+"}\n")
	(&Deliverer{Cfg: cfg}).Deliver(context.Background(), sample())
	if hits.Load() != 1 {
		t.Fatalf("receiver hit %d times", hits.Load())
	}
	d := &Deliverer{Cfg: cfg, TrustFile: func(p string) error { return fmt.Errorf("%s is world-writable", p) }}
	d.Deliver(context.Background(), sample())
	s := wantStats(t, cfg, 1, 1)
	if !strings.Contains(s.LastError, "world-writable") || strings.Contains(s.LastError, "s3cret") {
		t.Errorf("last error %q", s.LastError)
	}
	if err := os.WriteFile(file, []byte(srv.URL+"/gone/s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	(&Deliverer{Cfg: cfg}).Deliver(context.Background(), sample())
	s = wantStats(t, cfg, 1, 2)
	if !strings.Contains(s.LastError, "404") || strings.Contains(s.LastError, "s3cret") {
		t.Errorf("last error %q", s.LastError)
	}
}

// TestRecordWithHangingReceiver: Record returns while the receiver hangs;
// the detached deliverer gives up at notify.timeout and counts it; a
// second event recorded meanwhile is not lost, and the journal has both at
// once.
func TestRecordWithHangingReceiver(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev wire.Event
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &ev)
		arrived <- ev.Event
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	Executable = func() (string, error) { return os.Args[0], nil }
	t.Setenv("REDKEEP_EVENTS_HELPER", "deliver")
	t.Cleanup(func() { Executable = os.Executable })

	cfg := testConfig(t, "notify: {webhook: "+srv.URL+", timeout: 500ms}\n")
	self := &cfg.Nodes[0]
	if err := Record(cfg, self, wire.Event{Event: wire.EventCheckFailed}); err != nil {
		t.Fatal(err)
	}
	// Record has returned; the receiver has not answered and will not.
	if got := <-arrived; got != wire.EventCheckFailed {
		t.Fatalf("first delivery %q", got)
	}
	if err := Record(cfg, self, wire.Event{Event: wire.EventCheckOK}); err != nil {
		t.Fatal(err)
	}
	evs, _, err := Read(cfg.Hooks.EventLog, time.Time{})
	if err != nil || len(evs) != 2 || evs[0].Node != "a" {
		t.Fatalf("journal %+v, %v: want both events at once", evs, err)
	}
	if got := <-arrived; got != wire.EventCheckOK {
		t.Fatalf("second delivery %q", got)
	}
	s := waitStats(t, cfg, func(s Stats) bool { return s.Failed == 2 })
	if !strings.Contains(s.LastError, "no reply within 500ms") {
		t.Errorf("last error %q", s.LastError)
	}
	if names, _ := spooled(SpoolDir(cfg)); len(names) != 0 {
		t.Errorf("spool not empty: %v", names)
	}
}

// TestOneDelivererAtATime: while a deliverer holds the node's deliver
// lock, another returns at once and leaves the spool to it; each event is
// delivered once.
func TestOneDelivererAtATime(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	cfg := testConfig(t, "notify: {command: ["+script(t, "cat >> "+runs+"\n")+"]}\n")
	if err := enqueue(cfg, sample()); err != nil {
		t.Fatal(err)
	}
	held, err := tryLock(filepath.Join(SpoolDir(cfg), ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := (&Deliverer{Cfg: cfg}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names, _ := spooled(SpoolDir(cfg)); len(names) != 1 {
		t.Fatalf("a second deliverer touched the spool: %v", names)
	}
	if _, err := os.Stat(runs); err == nil {
		t.Fatal("a second deliverer ran the command")
	}
	held.unlock()
	for range 2 {
		if err := (&Deliverer{Cfg: cfg}).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(runs); strings.Count(string(data), `"event":"transition"`) != 1 {
		t.Fatalf("the command got %q, want the event once", data)
	}
	wantStats(t, cfg, 1, 0)
}

// TestSpoolFull: with MaxSpool events waiting, a new one is dropped and
// counted, not queued; the journal still has it.
func TestSpoolFull(t *testing.T) {
	cfg := testConfig(t, "notify: {command: [/bin/true]}\n")
	Executable = func() (string, error) { return "/bin/true", nil }
	t.Cleanup(func() { Executable = os.Executable })
	dir := SpoolDir(cfg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range MaxSpool {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d-0000001.json", i)), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := Record(cfg, &cfg.Nodes[0], wire.Event{Event: wire.EventCheckFailed})
	if err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("Record = %v, want the event dropped", err)
	}
	if s, _ := DeliveryStats(cfg); s.Dropped != 1 {
		t.Errorf("dropped = %d", s.Dropped)
	}
	if evs, _, _ := Read(cfg.Hooks.EventLog, time.Time{}); len(evs) != 1 {
		t.Errorf("journal has %d events, want 1", len(evs))
	}
}

func wantStats(t *testing.T, cfg *config.Config, delivered, failed uint64) Stats {
	t.Helper()
	s, err := DeliveryStats(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Delivered != delivered || s.Failed != failed {
		t.Fatalf("stats %+v, want %d delivered, %d failed", s, delivered, failed)
	}
	return s
}

// waitStats waits for the detached deliverer's counts (bounded: the
// deliveries themselves are bounded by notify.timeout).
func waitStats(t *testing.T, cfg *config.Config, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := DeliveryStats(cfg)
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, %v after 20s", s, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
