package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redkeep/redkeep/internal/human"
)

// Maintenance mode bounds: a maintenance window lasts DefaultMaintenance
// unless the operator says otherwise, never more than MaxMaintenance, so a
// forgotten one does not leave the pair without failover for long.
const (
	DefaultMaintenance = time.Hour
	MaxMaintenance     = 24 * time.Hour
	// MaxMaintenanceReason caps the operator's reason (bytes).
	MaxMaintenanceReason = 200
	// maxMaintenanceName caps the user and host names (bytes).
	maxMaintenanceName = 128
)

// Maintenance is a node's maintenance file (hooks.maintenance_file): while
// it is on and Until has not passed, the node's hooks change no Redis role
// and its check does not fail on a stopped Redis. Turning it off leaves the
// record with On false (who turned it off, and when, in By, Host and Since).
type Maintenance struct {
	On bool `json:"on"`
	// By is the user who turned it on (or off): the SSH login on the node,
	// the sudo caller when run through sudo.
	By string `json:"by"`
	// Host is the console's host the command came from.
	Host   string `json:"host"`
	Reason string `json:"reason"`
	// Since is when it was turned on (or off).
	Since time.Time `json:"since"`
	// Until is when it expires by itself; zero when off.
	Until time.Time `json:"until"`
}

// Active reports whether maintenance is on at now: on, and not expired.
func (m Maintenance) Active(now time.Time) bool {
	return m.On && now.Before(m.Until)
}

// Expired reports whether the record is on but its deadline has passed:
// the hooks treat it as off.
func (m Maintenance) Expired(now time.Time) bool {
	return m.On && !now.Before(m.Until)
}

// Who is "user@host", or the user alone when the host is unknown.
func (m Maintenance) Who() string {
	if m.Host == "" {
		return m.By
	}
	return m.By + "@" + m.Host
}

// String is the record for a log line: "by alice@laptop: upgrade Redis,
// until 2026-11-26 01:11:55 UTC".
func (m Maintenance) String() string {
	reason := m.Reason
	if reason == "" {
		reason = "no reason given"
	}
	if !m.On {
		return fmt.Sprintf("off (turned off by %s at %s)", m.Who(), m.Since.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	return fmt.Sprintf("by %s: %s, until %s", m.Who(), reason, m.Until.UTC().Format("2006-01-02 15:04:05 MST"))
}

// Validate checks a record before it is written or after it is read: the
// names and reason are bounded printable text, and an on record has a
// start and a deadline at most MaxMaintenance after it.
func (m Maintenance) Validate() error {
	for _, f := range []struct{ what, v string }{{"by", m.By}, {"host", m.Host}} {
		if err := checkText(f.what, f.v, maxMaintenanceName); err != nil {
			return err
		}
		if strings.ContainsAny(f.v, " @") {
			return fmt.Errorf("%s %q: no spaces or '@'", f.what, human.Abbrev(f.v, 40))
		}
	}
	if m.By == "" {
		return errors.New("by: who turned maintenance on or off is missing")
	}
	if err := checkText("reason", m.Reason, MaxMaintenanceReason); err != nil {
		return err
	}
	if m.Since.IsZero() {
		return errors.New("since: missing")
	}
	if !m.On {
		if !m.Until.IsZero() {
			return errors.New("until: set on a record that is off")
		}
		return nil
	}
	d := m.Until.Sub(m.Since)
	switch {
	case m.Until.IsZero():
		return errors.New("until: missing on a record that is on")
	case d <= 0:
		return fmt.Errorf("until %s is not after since %s", m.Until.Format(time.RFC3339), m.Since.Format(time.RFC3339))
	case d > MaxMaintenance:
		return fmt.Errorf("until is %s after since, more than the %s maximum", d.Round(time.Second), MaxMaintenance)
	}
	return nil
}

// CheckReason refuses a reason the record would not accept.
func CheckReason(reason string) error {
	return checkText("reason", reason, MaxMaintenanceReason)
}

// checkText refuses s when longer than limit bytes, not UTF-8, or holding a
// control or format character: it is logged by root and shown on
// operators' terminals.
func checkText(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%s is %d bytes, more than %d", what, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%s %q holds a control or format character (U+%04X)", what, human.Abbrev(s, 40), r)
		}
	}
	return nil
}

// ParseMaintenance decodes and validates a maintenance file. Unknown fields
// are allowed (a newer redkeep), anything else wrong is an error naming it.
func ParseMaintenance(data []byte) (Maintenance, error) {
	var m Maintenance
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return Maintenance{}, fmt.Errorf("parse maintenance file: %w", err)
	}
	if dec.More() {
		return Maintenance{}, errors.New("parse maintenance file: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return Maintenance{}, fmt.Errorf("parse maintenance file: %w", err)
	}
	return m, nil
}

// Maintenance verbs (`redkeep hook maintenance VERB`).
const (
	MaintenanceOn     = "on"
	MaintenanceOff    = "off"
	MaintenanceStatus = "status"
)

// MaintenanceReply is what `redkeep hook maintenance on|off|status` prints:
// the node's record after the verb, and whether it is active by the node's
// clock.
type MaintenanceReply struct {
	Node string `json:"node"`
	// Maintenance is the node's record; nil when there is none.
	Maintenance *Maintenance `json:"maintenance"`
	Active      bool         `json:"active"`
	// Error says why the verb failed ("" when it did not).
	Error string `json:"error,omitempty"`
}
