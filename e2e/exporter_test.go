package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/labenv"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/testport"
	"github.com/redkeep/redkeep/lab"
)

// metrics is one scrape: each series, written with its labels sorted as
// client_golang writes them, and its value.
type metrics map[string]float64

// noProxy is an HTTP client that never goes through a proxy from the
// environment: scrapes stay on loopback or in the lab.
var noProxy = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}

func scrapeURL(t *testing.T, url string) (metrics, string) {
	t.Helper()
	resp, err := noProxy.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %v\n%s", url, resp.Status, err, body)
	}
	m := metrics{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: line %q: %v", url, line, err)
		}
		m[line[:i]] = v
	}
	return m, string(body)
}

// get is the value of name with labels (name=value pairs); -1 when absent.
func (m metrics) get(name string, labels ...string) float64 {
	var kv []string
	for i := 0; i+1 < len(labels); i += 2 {
		kv = append(kv, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	slices.Sort(kv)
	key := name
	if len(kv) > 0 {
		key += "{" + strings.Join(kv, ",") + "}"
	}
	if v, ok := m[key]; ok {
		return v
	}
	return -1
}

// redkeepLines are a scrape's redkeep_ series, for the test log.
func redkeepLines(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "redkeep_") && !strings.HasSuffix(l, " 0") {
			out = append(out, "  "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestExporterInLab scrapes both lab nodes' exporters over the lab network,
// fails a's Redis (lab fail redis-down) and scrapes again until the metrics
// show the failover: a FAULT without the VIP or Redis, b MASTER with the VIP
// and a Redis master, a newer transition time, and the hooks' counters.
func TestExporterInLab(t *testing.T) {
	if testing.Short() {
		t.Skip("lab end to end: runs without -short")
	}
	l, _ := labenv.Up(t, "rkex", "198.18.91.0/24", "198.18.92.0/24", "198.19.91.0/24")
	ctx := context.Background()
	pair := l.S.VIP().String()
	scrape := func(n string) (metrics, string) { return scrapeURL(t, l.S.ExporterURL(n)) }
	lbl := func(n string, kv ...string) []string { return append([]string{"node", n, "pair", pair}, kv...) }

	a, aBody := scrape("a")
	b, bBody := scrape("b")
	t.Logf("before, a:\n%s\nbefore, b:\n%s", redkeepLines(aBody), redkeepLines(bBody))
	for _, c := range []struct {
		m      metrics
		n      string
		metric string
		kv     []string
		want   float64
	}{
		{a, "a", "redkeep_keepalived_state", []string{"state", "MASTER"}, 1},
		{a, "a", "redkeep_vip_held", nil, 1},
		{a, "a", "redkeep_redis_role", []string{"role", "master"}, 1},
		{b, "b", "redkeep_keepalived_state", []string{"state", "BACKUP"}, 1},
		{b, "b", "redkeep_vip_held", nil, 0},
		{b, "b", "redkeep_redis_role", []string{"role", "replica"}, 1},
		{b, "b", "redkeep_redis_master_link_up", nil, 1},
		{a, "a", "redkeep_keepalived_running", nil, 1},
		{b, "b", "redkeep_up", nil, 1},
	} {
		if got := c.m.get(c.metric, lbl(c.n, c.kv...)...); got != c.want {
			t.Errorf("before: %s %v on %s = %v, want %v", c.metric, c.kv, c.n, got, c.want)
		}
	}
	// Present, named by its node; not necessarily 0: a replication PING
	// can be in flight.
	if got := a.get("redkeep_redis_replica_lag_bytes", lbl("a", "replica", "b")...); got < 0 {
		t.Error("before: no redkeep_redis_replica_lag_bytes for replica b on a")
	}
	if got := a.get("redkeep_hook_runs_total", lbl("a", "kind", "check", "result", "ok")...); got < 1 {
		t.Errorf("before: a's check ok runs = %v, want at least 1", got)
	}
	bSince := b.get("redkeep_last_transition_timestamp_seconds", lbl("b")...)
	bMasterOK := b.get("redkeep_hook_runs_total", lbl("b", "kind", "master", "result", "ok")...)
	if t.Failed() {
		t.FailNow()
	}

	if _, err := l.Fail(ctx, lab.RedisDown, "a"); err != nil {
		t.Fatal(err)
	}
	var done bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		a, aBody = scrape("a")
		b, bBody = scrape("b")
		done = a.get("redkeep_redis_up", lbl("a")...) == 0 &&
			a.get("redkeep_keepalived_state", lbl("a", "state", "FAULT")...) == 1 &&
			a.get("redkeep_vip_held", lbl("a")...) == 0 &&
			a.get("redkeep_hook_runs_total", lbl("a", "kind", "check", "result", "failed")...) >= 1 &&
			b.get("redkeep_keepalived_state", lbl("b", "state", "MASTER")...) == 1 &&
			b.get("redkeep_vip_held", lbl("b")...) == 1 &&
			b.get("redkeep_redis_role", lbl("b", "role", "master")...) == 1 &&
			b.get("redkeep_last_transition_timestamp_seconds", lbl("b")...) > bSince &&
			b.get("redkeep_hook_runs_total", lbl("b", "kind", "master", "result", "ok")...) == bMasterOK+1 &&
			b.get("redkeep_notify_last_result", lbl("b", "result", "ok")...) == 1
		if done {
			break
		}
	}
	t.Logf("after redis-down on a, a:\n%s\nafter, b:\n%s", redkeepLines(aBody), redkeepLines(bBody))
	if !done {
		t.Fatal("the metrics never showed the failover from a to b (see the scrapes above)")
	}
}

// The shipped systemd unit passes systemd-analyze verify with no warning,
// and its ExecStart line, run as it is (credential directory, config and
// port swapped for the test's), serves metrics of a password-protected Redis
// and stops cleanly on SIGTERM.
func TestExporterSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join("..", "docs", "prometheus", "redkeep-exporter.service"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/redkeep", redkeepBin)
	dir := t.TempDir()
	t.Run("verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed (Debian's systemd package)")
		}
		path := filepath.Join(dir, "redkeep-exporter.service")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", path).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
	t.Run("ExecStart", func(t *testing.T) {
		var argv []string
		for _, l := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(l, "ExecStart="); ok {
				argv = strings.Fields(rest)
			}
		}
		if len(argv) == 0 {
			t.Fatal("no ExecStart= line")
		}
		r := redistest.Start(t, redistest.WithPassword("s3cret"))
		creds := filepath.Join(dir, "creds")
		if err := os.MkdirAll(creds, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(creds, "redis-password"), []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// The config names a password file the exporter cannot read: the
		// credential is what it must use.
		cfg := configtest.Pair{Nodes: [2]configtest.Node{{RedisAddr: r.Addr()}}, Extra: "redis: {password_file: /nonexistent/redis.password}\n"}.Hooks(dir).Write(t, dir, "config.yaml")
		listen := "127.0.0.1:" + strconv.Itoa(testport.Free(t))
		for i, a := range argv {
			a = strings.ReplaceAll(a, "%d", creds)
			a = strings.ReplaceAll(a, "/etc/redkeep/config.yaml", cfg)
			a = strings.ReplaceAll(a, "127.0.0.1:10121", listen)
			argv[i] = a
		}
		argv = append(argv, "--node", "a")
		var stderr strings.Builder
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stopped := false
		t.Cleanup(func() {
			if !stopped {
				_ = cmd.Process.Kill()
				<-exited
			}
		})
		var m metrics
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if resp, err := noProxy.Get("http://" + listen + "/healthz"); err == nil {
				resp.Body.Close()
				m, _ = scrapeURL(t, "http://"+listen+"/metrics")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the unit's exporter never answered on %s\n%s", listen, stderr.String())
			}
		}
		if got := m.get("redkeep_redis_up", "node", "a", "pair", "198.51.100.100"); got != 1 {
			t.Errorf("redkeep_redis_up = %v with the credential's password, want 1\n%s", got, stderr.String())
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			stopped = true
			if err != nil || !strings.Contains(stderr.String(), "stopped") {
				t.Fatalf("after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the exporter did not stop within 10 s of SIGTERM\n%s", stderr.String())
		}
	})
}
