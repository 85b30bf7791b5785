package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/internal/testport"
)

// execRoot runs the command line as main does, capturing its output and
// errors in one buffer.
func execRoot(args ...string) (int, string) {
	var b bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &b, Err: &b})
	return code, b.String()
}

// statusConfig writes a config whose two nodes are reached over SSH on the
// given loopback ports; nodes' redkeep is a stand-in printing factsJSON.
func statusConfig(t testing.TB, sshPorts [2]int, redisAddrs [2]string, clientKey, knownHosts string, holder int) string {
	t.Helper()
	dir := t.TempDir()
	sshConfig := filepath.Join(dir, "ssh_config")
	must(t, os.WriteFile(sshConfig, []byte("Host *\n  IdentityAgent none\n"), 0o600))
	p := configtest.Pair{VIP: "127.0.0.100/8"}
	for i, name := range []string{"a", "b"} {
		fake := filepath.Join(dir, "redkeep-"+name)
		state := map[bool]string{true: "MASTER", false: "BACKUP"}[i == holder]
		script := fmt.Sprintf("#!/bin/sh\necho '{\"node\":\"%s\",\"state\":{\"node\":\"%s\",\"state\":\"%s\",\"priority\":%d,\"since\":\"2026-11-26T01:02:03Z\"},\"holds_vip\":%v,\"keepalived_running\":true,\"version\":\"v1\"}'\n",
			name, name, state, 150-50*i, i == holder)
		must(t, os.WriteFile(fake, []byte(script), 0o755))
		p.Nodes[i] = configtest.Node{Name: name, Host: fmt.Sprintf("127.0.0.%d", i+1), Priority: 150 - 50*i, Interface: "lo",
			SSH:       fmt.Sprintf("{host: 127.0.0.1, port: %d, user: root, identity_files: [%s], known_hosts: %s, config_file: %s}", sshPorts[i], clientKey, knownHosts, sshConfig),
			RedisAddr: redisAddrs[i], Redkeep: fake}
	}
	path := p.Write(t, dir, "config.yaml")
	return path
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatusExitCodes(t *testing.T) {
	t.Run("bad config", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		must(t, os.WriteFile(path, []byte("vip: nope\n"), 0o600))
		if code, out := execRoot("status", "-c", path); code != exitUsage {
			t.Errorf("exit %d, want %d\n%s", code, exitUsage, out)
		}
	})
	t.Run("bad flag", func(t *testing.T) {
		if code, out := execRoot("status", "--timeout", "0s", "-c", "/nonexistent"); code != exitUsage {
			t.Errorf("exit %d, want %d\n%s", code, exitUsage, out)
		}
	})
	t.Run("ssh config file missing", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		cfg := statusConfig(t, [2]int{1, 2}, [2]string{"127.0.0.1:1", "127.0.0.1:2"}, "/nonexistent-key", kh, 0)
		b, err := os.ReadFile(cfg)
		must(t, err)
		must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), "config_file: ", "config_file: /nonexistent", 1)), 0o600))
		if code, out := execRoot("status", "-c", cfg); code != exitUsage || !strings.Contains(out, "/nonexistent") {
			t.Errorf("exit %d, want %d\n%s", code, exitUsage, out)
		}
	})
	t.Run("nodes unreachable", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "known_hosts")
		must(t, os.WriteFile(kh, nil, 0o600))
		cfg := statusConfig(t, [2]int{testport.Free(t), testport.Free(t)}, [2]string{"127.0.0.1:1", "127.0.0.1:2"}, "/nonexistent-key", kh, 0)
		code, out := execRoot("status", "-c", cfg)
		if code != exitUnhealthy || !strings.Contains(out, "NOT HEALTHY") || strings.Count(out, "unreachable") < 4 {
			t.Errorf("exit %d, want %d\n%s", code, exitUnhealthy, out)
		}
		code, out = execRoot("status", "--json", "-c", cfg)
		var s statusJSON
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("--json output is not JSON: %v\n%s", err, out)
		}
		if code != exitUnhealthy || s.Healthy || len(s.Reasons) != 2 || s.Reasons[0].Code != "unreachable" || len(s.Nodes) != 2 {
			t.Errorf("exit %d, status %+v", code, s)
		}
	})
}

func TestStatusHealthyPair(t *testing.T) {
	var srv [2]*sshtest.Server
	var rs [2]*redistest.Server
	kh := filepath.Join(t.TempDir(), "known_hosts")
	for i := range 2 {
		srv[i] = sshtest.Start(t)
		rs[i] = redistest.Start(t)
		srv[i].WriteKnownHosts(kh)
	}
	// One client key for both nodes.
	srv[1].Authorize(srv[0].ClientKey.PublicKey())
	rs[1].ReplicaOf(rs[0])
	cfg := statusConfig(t, [2]int{srv[0].Port, srv[1].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, 0)

	code, out := execRoot("status", "-c", cfg)
	if code != exitOK || !strings.Contains(out, "healthy: VIP 127.0.0.100 on a, master a") {
		t.Fatalf("exit %d, want 0\n%s", code, out)
	}
	for _, want := range []string{"MASTER (prio 150)", "BACKUP (prio 100)", "replica", "up", "0 B"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, out = execRoot("status", "--json", "-c", cfg)
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != exitOK || !s.Healthy || s.Master != "a" || s.VIPHolder != "a" {
		t.Errorf("exit %d, %v, %+v\n%s", code, err, s, out)
	}

	// The VIP on the replica: degraded, exit 1, the reason named.
	cfg = statusConfig(t, [2]int{srv[0].Port, srv[1].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, 1)
	code, out = execRoot("status", "-c", cfg)
	if code != exitUnhealthy || !strings.Contains(out, "vip-not-master") {
		t.Errorf("exit %d, want 1 with vip-not-master\n%s", code, out)
	}
}

// hostileHost is a master_host a replica may carry: REPLICAOF takes any
// bytes, and INFO shows them back. An OSC 52 sequence (sets the operator's
// clipboard), a right-to-left override, an 8-bit CSI and DEL.
const hostileHost = "\x1b]52;c;SGVsbG8=\x07evil\u202e1.0.0.01\u009b31m\x7f"

// termUnsafe reports the first byte sequence in out that a terminal would
// act on rather than print: C0 controls other than newline, DEL, C1
// controls, Unicode format characters (bidi overrides and the like).
func termUnsafe(out string) (string, bool) {
	for i, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("U+%04X at %d in %q", r, i, out[max(0, i-20):min(len(out), i+20)]), true
		}
	}
	return "", false
}

// TestStatusHostileMasterHost: a replica whose master_host is an escape
// sequence (set on a real redis-server) is reported as text, in the table
// and in JSON; no control, escape or bidi character reaches the terminal.
func TestStatusHostileMasterHost(t *testing.T) {
	var srv [2]*sshtest.Server
	var rs [2]*redistest.Server
	kh := filepath.Join(t.TempDir(), "known_hosts")
	for i := range 2 {
		srv[i] = sshtest.Start(t)
		rs[i] = redistest.Start(t)
		srv[i].WriteKnownHosts(kh)
	}
	srv[1].Authorize(srv[0].ClientKey.PublicKey())
	if err := rs[1].Client().Do(t.Context(), "REPLICAOF", hostileHost, "6379").Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	cfg := statusConfig(t, [2]int{srv[0].Port, srv[1].Port}, [2]string{rs[0].Addr(), rs[1].Addr()}, srv[0].ClientKeyFile, kh, 0)

	code, out := execRoot("status", "-c", cfg)
	if code != exitUnhealthy || !strings.Contains(out, "link-down") {
		t.Fatalf("exit %d, want %d with link-down\n%q", code, exitUnhealthy, out)
	}
	if what, bad := termUnsafe(out); bad {
		t.Errorf("status printed %s", what)
	}
	if !strings.Contains(out, "\uFFFD]52;c;SGVsbG8=\uFFFDevil\uFFFD1.0.0.01\uFFFD31m\uFFFD:6379") {
		t.Errorf("the master host is not shown as text:\n%s", out)
	}

	// JSON carries the exact bytes, escaped.
	code, out = execRoot("status", "--json", "-c", cfg)
	if what, bad := termUnsafe(out); bad {
		t.Errorf("status --json printed %s", what)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != exitUnhealthy {
		t.Fatalf("exit %d, %v\n%s", code, err, out)
	}
	if got := s.Nodes[1].Redis.Info.MasterHost; got != hostileHost {
		t.Errorf("JSON master_host = %q, want %q", got, hostileHost)
	}
}
