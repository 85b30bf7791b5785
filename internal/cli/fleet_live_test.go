package cli

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/redistest"
	"github.com/redkeep/redkeep/internal/sshtest"
	"github.com/redkeep/redkeep/nodes"
)

// TestFleetBackendOverSSH runs the fleet console's backend against real
// sshd and redis-server processes: a pair whose sshd is frozen (it
// accepts and never answers) does not hold up a healthy pair's polls; a
// pair's view opens with its nodes' latest snapshots and closes its
// streams when it closes.
func TestFleetBackendOverSSH(t *testing.T) {
	good, frozen := sshtest.Start(t), sshtest.Start(t)
	var rs [2]*redistest.Server
	for i := range rs {
		rs[i] = redistest.Start(t)
	}
	rs[1].ReplicaOf(rs[0])
	kh := filepath.Join(t.TempDir(), "known_hosts")
	good.WriteKnownHosts(kh)
	frozen.WriteKnownHosts(kh)
	frozen.Authorize(good.ClientKey.PublicKey())
	dir := t.TempDir()
	for name, port := range map[string]int{"good": good.Port, "stuck": frozen.Port} {
		path := statusConfig(t, [2]int{port, port}, [2]string{rs[0].Addr(), rs[1].Addr()}, good.ClientKeyFile, kh, 0)
		b, err := os.ReadFile(path)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name+".yaml"), b, 0o600))
	}
	fl, err := config.LoadFleet(dir)
	must(t, err)
	frozen.Freeze()
	t.Cleanup(frozen.Thaw)

	ctx, cancel := context.WithCancel(context.Background())
	f := startFleet(ctx, fl.Pairs, &consoleOptions{})
	t.Cleanup(func() { cancel(); f.wait(5 * time.Second) })

	// Both of good's nodes connected and polled before stuck's first
	// snapshot (its probe timeout) arrives.
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for !seen["good/a"] || !seen["good/b"] {
		select {
		case ps := <-f.Snapshots():
			if ps.Pair == "stuck" {
				t.Fatalf("stuck's snapshot (%s: %s) came before good's first polls (seen %v)", ps.Snap.Node, ps.Snap.ConnErr, seen)
			}
			if ps.Snap.Conn == nodes.ConnConnected && ps.Snap.Redis.Up {
				seen[ps.Pair+"/"+ps.Snap.Node] = true
			}
		case <-deadline:
			t.Fatalf("good's nodes not polled within 30 s (seen %v)", seen)
		}
	}
	// stuck reports itself unreachable in time, and good keeps coming.
	for stuck := false; !stuck; {
		select {
		case ps := <-f.Snapshots():
			if ps.Pair == "stuck" {
				if ps.Snap.Conn == nodes.ConnConnected {
					t.Fatalf("stuck connected through a frozen sshd: %+v", ps.Snap)
				}
				stuck = true
			}
		case <-deadline:
			t.Fatal("no snapshot of stuck within 30 s")
		}
	}

	opts, err := f.Open("good")
	must(t, err)
	if opts.Switchover == nil || opts.VIP != "127.0.0.100" || len(opts.Nodes) != 2 {
		t.Errorf("good's view options: %+v", opts)
	}
	for _, n := range []string{"a", "b"} {
		select {
		case s := <-opts.Backend.Snapshots(n):
			if s.Node != n || s.Conn != nodes.ConnConnected {
				t.Errorf("view's first snapshot of %s: %+v", n, s)
			}
		default:
			t.Errorf("good's view opened without %s's latest snapshot", n)
		}
	}
	// The fleet goes on while the view is open.
	select {
	case <-f.Snapshots():
	case <-time.After(30 * time.Second):
		t.Fatal("the fleet's stream stopped while a view was open")
	}
	f.Close("good")
	for _, n := range []string{"a", "b"} {
		for s := range opts.Backend.Snapshots(n) {
			_ = s // a snapshot offered before the close; then closed
		}
	}
	events := opts.Backend.Events()
	for closed := false; !closed; {
		select {
		case _, ok := <-events:
			closed = !ok
		case <-time.After(30 * time.Second):
			t.Fatal("the closed view's log stream is still open after 30 s")
		}
	}
	if _, err := f.Open("nope"); err == nil {
		t.Error("Open(nope) succeeded")
	}
}
