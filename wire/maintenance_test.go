package wire

import (
	"strings"
	"testing"
	"time"
)

func TestMaintenanceActiveAndExpired(t *testing.T) {
	since := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	m := Maintenance{On: true, By: "alice", Host: "laptop", Since: since, Until: since.Add(time.Hour)}
	for _, c := range []struct {
		at              time.Time
		active, expired bool
	}{
		{since, true, false},
		{since.Add(59 * time.Minute), true, false},
		{since.Add(time.Hour - time.Nanosecond), true, false},
		{since.Add(time.Hour), false, true}, // the deadline itself is off
		{since.Add(2 * time.Hour), false, true},
	} {
		if got := m.Active(c.at); got != c.active {
			t.Errorf("Active(%s) = %v, want %v", c.at, got, c.active)
		}
		if got := m.Expired(c.at); got != c.expired {
			t.Errorf("Expired(%s) = %v, want %v", c.at, got, c.expired)
		}
	}
	off := Maintenance{By: "alice", Since: since}
	if off.Active(since) || off.Expired(since.Add(48*time.Hour)) {
		t.Errorf("an off record is neither active nor expired")
	}
}

func TestParseMaintenance(t *testing.T) {
	ok := []string{
		`{"on":true,"by":"alice","host":"laptop","reason":"upgrade Redis","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`,
		`{"on":true,"by":"alice","since":"2026-11-26T00:00:00Z","until":"2026-11-27T00:00:00Z"}`,
		`{"on":false,"by":"bob","host":"x","since":"2026-11-26T00:00:00Z"}`,
		`{"on":false,"by":"bob","since":"2026-11-26T00:00:00Z","until":"0001-01-01T00:00:00Z","new_field":1}`,
		`{"on":true,"by":"алиса","reason":"обновление","since":"2026-11-26T00:00:00Z","until":"2026-11-26T00:00:01Z"}`,
	}
	for _, s := range ok {
		if _, err := ParseMaintenance([]byte(s)); err != nil {
			t.Errorf("ParseMaintenance(%s): %v", s, err)
		}
	}
	bad := map[string]string{
		``:         "parse maintenance file",
		`[]`:       "parse maintenance file",
		`{} {}`:    "trailing data",
		`{"on":1}`: "cannot unmarshal",
		`{"on":true,"since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`:                                                          "by: who",
		`{"on":true,"by":"alice","until":"2026-11-26T01:00:00Z"}`:                                                                            "since: missing",
		`{"on":true,"by":"alice","since":"2026-11-26T00:00:00Z"}`:                                                                            "until: missing",
		`{"on":true,"by":"alice","since":"2026-11-26T00:00:00Z","until":"2026-11-26T00:00:00Z"}`:                                             "not after since",
		`{"on":true,"by":"alice","since":"2026-11-26T00:00:00Z","until":"2026-11-27T00:00:01Z"}`:                                             "more than the 24h0m0s maximum",
		`{"on":false,"by":"alice","since":"2026-11-26T00:00:00Z","until":"2026-11-27T00:00:00Z"}`:                                            "set on a record that is off",
		`{"on":true,"by":"al ice","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`:                                            "no spaces",
		`{"on":true,"by":"alice","host":"a@b","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`:                                "no spaces or '@'",
		`{"on":true,"by":"alice","reason":"x\u001b[2Jy","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`:                      "control or format character",
		`{"on":true,"by":"alice","reason":"x\u202ey","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`:                         "control or format character",
		`{"on":true,"by":"alice","reason":"line\nbreak","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`:                      "control or format character",
		`{"on":true,"by":"alice","reason":"` + strings.Repeat("x", 201) + `","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`: "more than 200",
	}
	for in, want := range bad {
		_, err := ParseMaintenance([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMaintenance(%.60q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestMaintenanceString(t *testing.T) {
	since := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	m := Maintenance{On: true, By: "alice", Host: "laptop", Reason: "upgrade", Since: since, Until: since.Add(time.Hour)}
	if got, want := m.String(), "by alice@laptop: upgrade, until 2026-11-26 01:00:00 UTC"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	m.Reason, m.Host = "", ""
	if got, want := m.String(), "by alice: no reason given, until 2026-11-26 01:00:00 UTC"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// FuzzParseMaintenance: whatever sits in the file, parsing neither panics
// nor accepts a record that fails Validate.
func FuzzParseMaintenance(f *testing.F) {
	f.Add([]byte(`{"on":true,"by":"alice","host":"laptop","reason":"upgrade Redis","since":"2026-11-26T00:00:00Z","until":"2026-11-26T01:00:00Z"}`))
	f.Add([]byte(`{"on":false,"by":"bob","since":"2026-11-26T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMaintenance(data)
		if err == nil {
			if verr := m.Validate(); verr != nil {
				t.Fatalf("accepted %q, which fails Validate: %v", data, verr)
			}
		}
	})
}
