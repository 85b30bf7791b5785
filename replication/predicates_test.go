package replication

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, file string) Info {
	t.Helper()
	in, err := ParseInfo(readFixture(t, file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return in
}

// master and replica build synthetic Infos for the predicate tables.
func master(replid string, off, keys int64) Info {
	return Info{Role: RoleMaster, ReplID: replid, ReplID2: zeroReplID, MasterReplOffset: off, SecondReplOffset: -1, Keys: keys}
}

func replica(replid string, off, keys int64) Info {
	in := master(replid, off, keys)
	in.Role, in.ReplicaOffset, in.LinkUp = RoleReplica, off, true
	return in
}

func promoted(from string, at int64, now string, off, keys int64) Info {
	in := master(now, off, keys)
	in.ReplID2, in.SecondReplOffset = from, at+1
	return in
}

func TestCaughtUp(t *testing.T) {
	t.Parallel()
	syncing := replica(histA, 100, 5)
	syncing.SyncInProgress = true
	tests := []struct {
		name            string
		replica, master Info
		want            bool
		reason          string
	}{
		{"equal offsets", replica(histA, 100, 5), master(histA, 100, 5), true, "replica offset 100 reached master offset 100"},
		{"replica ahead of a stale master INFO", replica(histA, 120, 5), master(histA, 100, 5), true, "reached"},
		{"behind", replica(histA, 90, 5), master(histA, 100, 5), false, "replica offset 90 is 10 bytes behind master offset 100"},
		{"different history", replica(histB, 100, 5), master(histA, 100, 5), false, "different histories: replica replid 9b8f4401, master replid 514abb21"},
		{"syncing", syncing, master(histA, 100, 5), false, "still loading or syncing"},
		{"master without replid", replica("", 0, 0), master("", 0, 0), false, "no replication id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := CaughtUp(tt.replica, tt.master)
			if got != tt.want || !strings.Contains(reason, tt.reason) {
				t.Fatalf("CaughtUp = %v, %q; want %v, %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestCaughtUpFixtures(t *testing.T) {
	t.Parallel()
	if ok, why := CaughtUp(mustParse(t, "replica-online.info"), mustParse(t, "master-with-replica.info")); !ok {
		t.Fatalf("recorded in-sync replica not caught up: %s", why)
	}
}

func TestLag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		replica, master Info
		want            int64
		ok              bool
	}{
		{"in sync", replica(histA, 100, 1), master(histA, 100, 1), 0, true},
		{"behind", replica(histA, 40, 1), master(histA, 100, 1), 60, true},
		{"replica read later", replica(histA, 140, 1), master(histA, 100, 1), 0, true},
		{"different history", replica(histB, 40, 1), master(histA, 100, 1), 0, false},
		{"no replid", replica("", 40, 1), master("", 100, 1), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Lag(tt.replica, tt.master)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Lag = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSafeToReplicateFrom(t *testing.T) {
	t.Parallel()
	const restarted = "ad97d795d0cb05dba757bdbad4f2bc1a8b15d9c5"
	loading := master(histA, 200, 10)
	loading.Loading = true
	tests := []struct {
		name        string
		local, peer Info
		want        bool
		reason      string
	}{
		{"local empty, peer has data", master(restarted, 0, 0), master(histA, 100, 10), true, "follower is empty"},
		{"both empty", master(restarted, 0, 0), master(histB, 0, 0), true, "follower is empty"},
		{"peer empty, local has data", master(histA, 100, 10), master(restarted, 0, 0), false, "source is empty"},
		{"peer restarted with other data", master(histA, 100, 10), master(restarted, 5, 3), false, "does not continue the follower's history"},
		{"same history, peer ahead", replica(histA, 100, 10), master(histA, 150, 12), true, "source offset 150 >= follower offset 100"},
		{"same history, equal", master(histA, 100, 10), master(histA, 100, 10), true, "source offset 100 >= follower offset 100"},
		{"same history, peer behind", master(histA, 150, 10), replica(histA, 100, 10), false, "source offset 100 < follower offset 150"},
		{"peer promoted after local's offset", master(histA, 100, 10), promoted(histA, 100, histB, 180, 12), true, "promoted from the follower's history 514abb21 at offset 100"},
		{"peer promoted before local's offset", master(histA, 150, 12), promoted(histA, 100, histB, 180, 12), false, "promoted from the follower's history 514abb21 at offset 100, before the follower's offset 150"},
		{"local promoted, peer is old master", promoted(histA, 100, histB, 180, 12), master(histA, 100, 10), false, "does not continue"},
		{"local promoted, no writes since, peer ahead", promoted(histA, 100, histB, 100, 10), master(histA, 150, 12), true, "took no writes since; source offset 150 >= 100"},
		{"local promoted, no writes since, peer equal", promoted(histA, 100, histB, 100, 10), master(histA, 100, 10), true, "took no writes since"},
		{"local promoted, no writes since, peer behind", promoted(histA, 100, histB, 100, 10), master(histA, 90, 9), false, "the source is at 90"},
		{"peer loading", master(histA, 100, 10), loading, false, "loading"},
		{"keys but offset 0 is not empty", master(histA, 0, 10), master(restarted, 0, 0), false, "source is empty"},
		{"zero replid2 never matches", master(zeroReplID, 100, 10), master(histB, 100, 10), false, "does not continue"},
		// INFO of a redis-server 7.0 started with replicaof and no data,
		// before its first sync: slave_repl_offset 1, master_repl_offset 0.
		{"fresh replica never synced", Info{Role: RoleReplica, ReplID: restarted, ReplicaOffset: 1}, master(histA, 100, 10), true, "follower is empty"},
		{"replica at offset 1 with keys is not empty", Info{Role: RoleReplica, ReplID: restarted, ReplicaOffset: 1, Keys: 3}, master(histA, 100, 10), false, "does not continue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := SafeToReplicateFrom(tt.local, tt.peer)
			if got != tt.want || !strings.Contains(reason, tt.reason) {
				t.Fatalf("SafeToReplicateFrom = %v, %q; want %v, %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

// TestSafeToReplicateFromFixtures replays the recorded failover: the old
// master may follow the promoted replica (its history continues) but the
// promoted replica must not follow the old master, nor anyone follow a
// restarted empty server.
func TestSafeToReplicateFromFixtures(t *testing.T) {
	t.Parallel()
	oldMaster := mustParse(t, "old-master-after-promotion.info")
	newMaster := mustParse(t, "replica-promoted.info")
	fresh := mustParse(t, "master-fresh.info")
	if ok, why := SafeToReplicateFrom(oldMaster, newMaster); !ok {
		t.Errorf("old master -> promoted replica refused: %s", why)
	}
	if ok, why := SafeToReplicateFrom(newMaster, oldMaster); ok {
		t.Errorf("promoted replica -> old master allowed: %s", why)
	}
	if ok, why := SafeToReplicateFrom(newMaster, fresh); ok {
		t.Errorf("promoted replica -> fresh empty master allowed: %s", why)
	}
	if ok, why := SafeToReplicateFrom(mustParse(t, "old-master-demoted.info"), newMaster); !ok {
		t.Errorf("demoted old master -> new master refused: %s", why)
	}
}

func TestSupportsSwitchover(t *testing.T) {
	for v, want := range map[string]bool{"7.0.15": true, "6.2.0": true, "6.0.16": false, "5.0.7": false, "10.1": true, "": false, "x.y": false} {
		if got := SupportsSwitchover(v); got != want {
			t.Errorf("SupportsSwitchover(%q) = %v, want %v", v, got, want)
		}
	}
}
