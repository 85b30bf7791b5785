package nodes

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redkeep/redkeep/wire"
)

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseFacts(t *testing.T) {
	vip := mustAddr(t, "198.51.100.100")
	since := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	tests := []struct {
		name    string
		out     string
		want    Snapshot
		wantErr string
	}{
		{
			name: "redkeep hook state",
			out: `{"node":"a","state":{"node":"a","instance":"VI_REDIS","state":"MASTER","priority":150,"since":"2026-11-26T01:02:03Z",` +
				`"generation":4,"pid":99,"last_action":"promoted","last_result":"ok"},"holds_vip":true,"keepalived_running":true,"drained":false,"version":"v1.2.3"}`,
			want: Snapshot{Version: "v1.2.3", Hooks: HooksRedkeep, HoldsVIP: true, Keepalived: Keepalived{Running: true, State: "MASTER", Priority: 150, Since: since, LastAction: "promoted", LastResult: "ok", StateFrom: StateFromFile}},
		},
		{
			name: "redkeep hook state before any notify",
			out:  `{"node":"b","state":null,"holds_vip":false,"keepalived_running":true,"drained":true,"version":"v1.2.3"}`,
			want: Snapshot{Version: "v1.2.3", Hooks: HooksRedkeep, Keepalived: Keepalived{Running: true, Drained: true}},
		},
		{
			name:    "redkeep hook state with an unreadable state file",
			out:     `{"node":"b","state":null,"state_error":"state file: not JSON","holds_vip":false,"keepalived_running":true,"version":"v1"}`,
			want:    Snapshot{Version: "v1", Hooks: HooksRedkeep, Keepalived: Keepalived{Running: true}},
			wantErr: "state file: not JSON",
		},
		{name: "garbage", out: "bash: redkeep: Permission denied\n", wantErr: "unreadable reply"},
		{
			name: "plain node",
			out: plainMarker + "\n#state\n" + `{"node":"a","instance":"VI_REDIS","state":"BACKUP","priority":100,"since":"2026-11-26T01:02:03Z","generation":1,"pid":5,"last_action":"became replica","last_result":"ok"}` +
				"\n#addr\n2: eth0    inet 198.51.100.100/24 scope global secondary eth0\\       valid_lft forever\n#keepalived\nyes\n#drain\n0\n",
			want: Snapshot{Hooks: HooksNotRedkeep, HoldsVIP: true, Keepalived: Keepalived{Running: true, State: "BACKUP", Priority: 100, Since: since, LastAction: "became replica", LastResult: "ok", StateFrom: StateFromFile}},
		},
		{
			name: "plain node, nothing there",
			out:  plainMarker + "\n#state\n\n#addr\n1: lo    inet 127.0.0.1/8 scope host lo\n#keepalived\nno\n#drain\n\n",
			want: Snapshot{Hooks: HooksNotRedkeep},
		},
		{
			name: "plain node, state from keepalived's syslog line",
			out: plainMarker + "\n#state\n\n#addr\n2: eth0    inet 198.51.100.11/24 scope global eth0\n#keepalived\nyes\n#drain\n\n" +
				"#syslog\nNov 26 00:11:55 b Keepalived_vrrp[123]: (VI_REDIS) Entering FAULT STATE\n#journal\n",
			want: Snapshot{Hooks: HooksNotRedkeep, Keepalived: Keepalived{Running: true, State: "FAULT", StateFrom: StateFromSyslog}},
		},
		{
			name: "plain node, state from the journal",
			out: plainMarker + "\n#state\n\n#addr\n2: eth0    inet 198.51.100.100/24 scope global secondary eth0\n#keepalived\nyes\n#drain\n\n" +
				"#syslog\n#journal\nVRRP_Instance(VI_1) Entering MASTER STATE\n",
			want: Snapshot{Hooks: HooksNotRedkeep, HoldsVIP: true, Keepalived: Keepalived{Running: true, State: "MASTER", StateFrom: StateFromJournal}},
		},
		{
			name: "plain node, no log readable: guessed from the VIP",
			out: plainMarker + "\n#state\n\n#addr\n2: eth0    inet 198.51.100.100/24 scope global secondary eth0\n#keepalived\nyes\n#drain\n\n" +
				"#syslog\n#journal\n",
			want: Snapshot{Hooks: HooksNotRedkeep, HoldsVIP: true, Keepalived: Keepalived{Running: true, State: "MASTER", StateFrom: StateFromVIP}},
		},
		{
			name: "plain node, keepalived stopped: its last line is history",
			out: plainMarker + "\n#state\n\n#addr\n#keepalived\nno\n#drain\n\n" +
				"#syslog\nNov 26 00:11:55 b Keepalived_vrrp[123]: (VI_REDIS) Entering MASTER STATE\n#journal\n",
			want: Snapshot{Hooks: HooksNotRedkeep},
		},
		{
			name: "fast",
			out: fastMarker + "\n#state\n" + `{"node":"a","instance":"VI_REDIS","state":"FAULT","priority":100,"since":"2026-11-26T01:02:03Z","generation":1,"pid":5,"last_action":"x","last_result":"ok"}` +
				"\n#addr\n2: eth0    inet 198.51.100.100/24 scope global secondary eth0\n",
			want: Snapshot{HoldsVIP: true, Keepalived: Keepalived{State: "FAULT", Priority: 100, Since: since, LastAction: "x", LastResult: "ok", StateFrom: StateFromFile}},
		},
		{
			name: "redkeep hook state in maintenance",
			out: `{"node":"a","state":null,"holds_vip":true,"keepalived_running":true,"version":"v1",` +
				`"maintenance":{"on":true,"by":"alice","host":"laptop","reason":"upgrade","since":"2026-11-26T01:02:03Z","until":"2026-11-26T02:02:03Z"}}`,
			want: Snapshot{Version: "v1", Hooks: HooksRedkeep, HoldsVIP: true, Keepalived: Keepalived{Running: true},
				Maintenance: &wire.Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade", Since: since, Until: since.Add(time.Hour)}},
		},
		{
			name: "fast, in maintenance",
			out: fastMarker + "\n#state\n\n#maintenance\n" + `{"on":true,"by":"alice","reason":"upgrade","since":"2026-11-26T01:02:03Z","until":"2026-11-26T02:02:03Z"}` +
				"\n#addr\n",
			want: Snapshot{Maintenance: &wire.Maintenance{On: true, By: "alice", Reason: "upgrade", Since: since, Until: since.Add(time.Hour)}},
		},
		{
			name: "fast, maintenance file unreadable",
			out:  fastMarker + "\n#state\n\n#maintenance\n" + `{"on":true,"by":"alice"}` + "\n#addr\n",
			want: Snapshot{MaintenanceErr: "since: missing"},
		},
		{
			name:    "plain node, broken state file",
			out:     plainMarker + "\n#state\n{half\n#addr\n#keepalived\nyes\n#drain\n1\n",
			want:    Snapshot{Keepalived: Keepalived{Running: true, Drained: true}},
			wantErr: "state file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Snapshot
			err := parseFacts([]byte(tt.out), vip, &got)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.wantErr != "" && tt.name == "garbage" {
				return
			}
			got.Keepalived.Since = got.Keepalived.Since.UTC()
			if got.Version != tt.want.Version || got.Hooks != tt.want.Hooks || got.HoldsVIP != tt.want.HoldsVIP || got.Keepalived != tt.want.Keepalived {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			switch gm, wm := got.Maintenance, tt.want.Maintenance; {
			case (gm == nil) != (wm == nil):
				t.Errorf("maintenance %+v, want %+v", gm, wm)
			case gm != nil && (gm.On != wm.On || gm.By != wm.By || gm.Reason != wm.Reason || !gm.Since.Equal(wm.Since) || !gm.Until.Equal(wm.Until)):
				t.Errorf("maintenance %+v, want %+v", *gm, *wm)
			}
			if !strings.Contains(got.MaintenanceErr, tt.want.MaintenanceErr) || (got.MaintenanceErr == "") != (tt.want.MaintenanceErr == "") {
				t.Errorf("maintenance error %q, want %q", got.MaintenanceErr, tt.want.MaintenanceErr)
			}
		})
	}
}

func FuzzParseFacts(f *testing.F) {
	f.Add([]byte(plainMarker + "\n#state\n{}\n#addr\n#keepalived\nyes\n"))
	f.Add([]byte(`{"node":"a","state":null}`))
	vip := netip.MustParseAddr("198.51.100.100")
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		_ = parseFacts(b, vip, &s)
	})
}
