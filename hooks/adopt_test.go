package hooks

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/configtest"
	"github.com/redkeep/redkeep/wire"
)

// fakeKeepalived runs a process named keepalived in this network
// namespace for as long as the test runs: what Adopt looks for in /proc.
func fakeKeepalived(t *testing.T) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary to stand in for keepalived")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "keepalived")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

// hostAddr is an address on one of this machine's interfaces other than
// lo, or the test is skipped.
func hostAddr(t *testing.T) netip.Addr {
	t.Helper()
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() {
					return ip.Unmap()
				}
			}
		}
	}
	t.Skip("no IPv4 address on an interface other than lo to stand for a VIP held")
	return netip.Addr{}
}

func TestAdopt(t *testing.T) {
	fakeKeepalived(t)
	const (
		master = "Dec  2 10:00:01 a Keepalived_vrrp[41]: (VI_REDIS) Entering MASTER STATE\n"
		backup = "Dec  2 10:00:00 a Keepalived_vrrp[41]: (VI_REDIS) Entering BACKUP STATE (init)\n"
		fault  = "Dec  2 10:00:02 a Keepalived_vrrp[41]: VRRP_Instance(VI_REDIS) Entering FAULT STATE\n"
		other  = "Dec  2 10:00:03 a Keepalived_vrrp[41]: (VI_OTHER) Entering MASTER STATE\n"
		forged = "Dec  2 10:00:04 a mallory: (VI_REDIS) Entering BACKUP STATE\n"
	)
	tests := []struct {
		name    string
		syslog  string // "" : no syslog file, the journal is read
		journal string
		vipHere bool
		drained bool
		want    string // the adopted state, or "" when refused
		wantErr string
	}{
		{name: "backup without the VIP", syslog: master + backup + other + forged, want: wire.KABackup},
		{name: "master with the VIP", syslog: backup + master + other, vipHere: true, want: wire.KAMaster},
		{name: "keepalived 1.x fault line", syslog: backup + fault, drained: true, want: wire.KAFault},
		{name: "from the journal", journal: "(VI_REDIS) Entering BACKUP STATE (init)\n(VI_REDIS) Entering MASTER STATE\n", vipHere: true, want: wire.KAMaster},
		{name: "master line without the VIP", syslog: backup + master, wantErr: "the VIP 127.0.0.1 is not on this node"},
		{name: "backup line with the VIP", syslog: master + backup, vipHere: true, wantErr: "but the VIP 127.0.0.1 is on this node"},
		{name: "backup line while drained", syslog: master + backup, drained: true, wantErr: "the node is drained"},
		{name: "no line for the instance", syslog: other + forged, wantErr: "has no transition line for instance VI_REDIS"},
		{name: "journal unreadable", journal: "!", wantErr: "the journal cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := configtest.Pair{}.Hooks(dir).Write(t, dir, "config.yaml")
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			// The VIP is on this machine when it is one of its addresses
			// (not on lo: that is a switchover's bridge, not a VIP held).
			cfg.VIP = "198.51.100.254/24"
			if tt.vipHere {
				cfg.VIP = hostAddr(t).String() + "/32"
			}
			tt.wantErr = strings.ReplaceAll(tt.wantErr, "127.0.0.1", cfg.VIPAddr().String())
			if tt.drained {
				if err := os.WriteFile(cfg.Keepalived.TrackFile, []byte("1\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := AdoptSource{Syslog: filepath.Join(dir, "syslog")}
			if tt.syslog != "" {
				if err := os.WriteFile(src.Syslog, []byte(tt.syslog), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src.Journal = func(_ context.Context, args []string) ([]byte, error) {
				if !strings.Contains(strings.Join(args, " "), "SYSLOG_IDENTIFIER=Keepalived_vrrp") {
					t.Errorf("journalctl %q does not ask for keepalived's entries", args)
				}
				if tt.journal == "!" {
					return nil, errors.New("journalctl: No journal files were found")
				}
				return []byte(tt.journal), nil
			}
			a, err := Adopt(context.Background(), cfg, &cfg.Nodes[0], src)
			_, ok, rerr := ReadState(cfg.Hooks.StateFile)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Adopt = %+v, %v; want an error containing %q", a, err, tt.wantErr)
				}
				if ok || rerr != nil {
					t.Fatalf("a refused Adopt left a state file (%v)", rerr)
				}
				return
			}
			if err != nil || !a.Written || a.State.State != tt.want {
				t.Fatalf("Adopt = %+v, %v; want %s written", a, err, tt.want)
			}
			got, ok, err := ReadState(cfg.Hooks.StateFile)
			if err != nil || !ok || got.State != tt.want || got.Node != "a" || got.Priority != cfg.Nodes[0].Keepalived.Priority ||
				got.Generation != 0 || got.BootID != "" || got.LastResult != wire.ResultOK || !strings.Contains(got.LastAction, "adopted") {
				t.Fatalf("state file after Adopt: %+v, %v, %v", got, ok, err)
			}
			// A node with a state file is left alone.
			again, err := Adopt(context.Background(), cfg, &cfg.Nodes[0], AdoptSource{})
			if err != nil || again.Written || again.State != got {
				t.Fatalf("second Adopt = %+v, %v; want the file as it is, not written", again, err)
			}
		})
	}
}

func TestAdoptSyslogTailStartsAtALine(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "syslog")
	long := strings.Repeat("x", adoptTail) + " Keepalived_vrrp[1]: (VI_REDIS) Entering MASTER STATE\n"
	if err := os.WriteFile(path, []byte(long+"a Keepalived_vrrp[1]: (VI_REDIS) Entering BACKUP STATE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := tailOf(f, adoptTail)
	if err != nil {
		t.Fatal(err)
	}
	// The cut line (its start is outside the tail) is dropped whole.
	if line, st := lastEntering(b, "VI_REDIS", true); st != wire.KABackup || strings.Contains(string(b), "MASTER") {
		t.Fatalf("tail = %d bytes, last transition %q %s", len(b), line, st)
	}
}
