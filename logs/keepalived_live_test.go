package logs_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redkeep/redkeep/logs"
)

// TestKeepalivedLive runs a real keepalived in a scratch network namespace,
// follows what it logs, and checks the transitions the parser sees:
// BACKUP, MASTER (no peer answers), FAULT (track file), then the stop.
func TestKeepalivedLive(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	for _, bin := range []string{"keepalived", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	dir := t.TempDir()
	ns := fmt.Sprintf("rklogs-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	// Both ends of the veth live in the namespace: nothing touches the
	// host's interfaces, routes or addresses.
	run("ip", "-n", ns, "link", "add", "vk0", "type", "veth", "peer", "name", "vk1")
	run("ip", "-n", ns, "addr", "add", "198.18.79.1/24", "dev", "vk0")
	run("ip", "-n", ns, "link", "set", "vk0", "up")
	run("ip", "-n", ns, "link", "set", "vk1", "up")

	drain := filepath.Join(dir, "drain")
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(`global_defs {
  router_id rklogs
}
vrrp_track_file drain {
  file `+drain+`
  weight 0
}
vrrp_instance VI_LOGS {
  state BACKUP
  interface vk0
  virtual_router_id 79
  priority 100
  advert_int 1
  virtual_ipaddress {
    198.18.79.100/24
  }
  track_file {
    drain
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "keepalived.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", ns, "keepalived", "--dont-fork", "--log-console", "--no-syslog", "--log-detail",
		"--vrrp", "-f", conf, "-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "v.pid"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	out := pumpFile(t, logPath, "k", logs.SourceSyslog)
	transition := func(state string, level logs.Level) func(logs.Event) bool {
		return func(ev logs.Event) bool {
			return ev.Kind == logs.KindTransition && ev.Instance == "VI_LOGS" && ev.State == state && ev.Level == level
		}
	}
	waitEvent(t, out, "BACKUP", transition("BACKUP", logs.LevelInfo))
	waitEvent(t, out, "MASTER", transition("MASTER", logs.LevelInfo))
	if err := os.WriteFile(drain, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, out, "track file FAULT", func(ev logs.Event) bool {
		return ev.Kind == logs.KindScript && ev.Script == "drain" && !ev.OK && ev.Level == logs.LevelWarn
	})
	waitEvent(t, out, "FAULT", transition("FAULT", logs.LevelError))
	cmd.Process.Signal(syscall.SIGTERM)
	waitEvent(t, out, "stop", func(ev logs.Event) bool {
		return ev.Kind == logs.KindDaemon && ev.State == "stop" && ev.Level == logs.LevelWarn
	})
}
