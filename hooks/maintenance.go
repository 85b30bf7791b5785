package hooks

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/events"
	"github.com/redkeep/redkeep/hooks/switchover"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/wire"
)

// Maintenance mode (`redkeep maintenance on`): while this node's record is
// on and not expired, its notify hooks record keepalived's state but run no
// plan step, and its check answers healthy whether or not local Redis
// does, reconciling nothing. So keepalived keeps the VIP where it is and an
// operator can restart or upgrade Redis without a failover. The record
// expires by itself at its deadline (at most wire.MaxMaintenance): the
// hooks then act again, and the check logs the expiry once.

// ReadMaintenance reads this node's maintenance record
// (hooks.maintenance_file). A missing file is no maintenance. active is
// false when the record is off or its deadline has passed at now.
func ReadMaintenance(cfg *config.Config, now time.Time) (m wire.Maintenance, active bool, err error) {
	return switchover.ReadMaintenance(cfg.Hooks.MaintenanceFile, now)
}

// MaintenanceRequest is one `redkeep hook maintenance on|off`.
type MaintenanceRequest struct {
	// By is the user asking (the SSH login on the node); Host the
	// console's host.
	By, Host string
	Reason   string
	// For is how long maintenance lasts (on only): 0 means
	// wire.DefaultMaintenance; more than wire.MaxMaintenance is refused.
	For time.Duration
}

// MaintenanceDuration checks a requested duration: it must be positive and
// at most wire.MaxMaintenance.
func MaintenanceDuration(d time.Duration) (time.Duration, error) {
	switch {
	case d <= 0:
		return 0, fmt.Errorf("--for %s: must be positive", d)
	case d > wire.MaxMaintenance:
		return 0, fmt.Errorf("--for %s: at most %s, so a forgotten maintenance does not leave the pair without failover for long", d, wire.MaxMaintenance)
	}
	return d, nil
}

// SetMaintenance turns maintenance on or off on this node (self) at now,
// writes the record atomically, logs it and records it in the event
// journal. It returns the record written.
func SetMaintenance(cfg *config.Config, self *config.Node, log *Logger, on bool, req MaintenanceRequest, now time.Time) (wire.Maintenance, error) {
	verb := wire.MaintenanceOff
	if on {
		verb = wire.MaintenanceOn
	}
	m := wire.Maintenance{On: on, By: req.By, Host: req.Host, Reason: req.Reason, Since: now.UTC().Round(time.Millisecond)}
	if on {
		if req.For == 0 {
			req.For = wire.DefaultMaintenance
		}
		d, err := MaintenanceDuration(req.For)
		if err != nil {
			return wire.Maintenance{}, err
		}
		m.Until = m.Since.Add(d)
	}
	if err := m.Validate(); err != nil {
		return wire.Maintenance{}, fmt.Errorf("maintenance %s: %w", verb, err)
	}
	prev, wasOn, perr := ReadMaintenance(cfg, now)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return wire.Maintenance{}, fmt.Errorf("maintenance %s: %w", verb, err)
	}
	if err := nodefile.WriteAtomic(cfg.Hooks.MaintenanceFile, append(data, '\n')); err != nil {
		log.Logf(Error, "maintenance", "maintenance %s by %s failed: %v", verb, m.Who(), err)
		return wire.Maintenance{}, fmt.Errorf("maintenance %s: %w", verb, err)
	}
	ev := wire.Event{Time: now, Event: wire.EventMaintenanceOff, Operator: eventOperator(m), Result: wire.ResultOK}
	switch {
	case on:
		log.Logf(Warn, "maintenance", "maintenance on %s: the hooks change no Redis role and the check does not fail while it lasts", m)
		ev.Event, ev.Reason = wire.EventMaintenanceOn, m.Reason
		ev.Detail = fmt.Sprintf("until %s (%s)", m.Until.UTC().Format(time.RFC3339), m.Until.Sub(m.Since))
	case wasOn:
		log.Logf(Info, "maintenance", "maintenance off by %s (was %s): the hooks act again", m.Who(), prev)
		ev.Detail = fmt.Sprintf("was on for %s: %s", now.Sub(prev.Since).Round(time.Second), prev)
	default:
		why := "it was not on"
		if perr != nil {
			why = "the old record was unreadable: " + perr.Error()
		} else if prev.Expired(now) {
			why = "it had expired at " + prev.Until.UTC().Format(time.RFC3339)
		}
		log.Logf(Info, "maintenance", "maintenance off by %s (%s)", m.Who(), why)
		ev.Detail = why
	}
	if ev.Operator == "" && m.Who() != "" {
		// Not user@host: the journal's operator field cannot hold it.
		ev.Detail += "; by " + m.Who()
	}
	if err := events.Record(cfg, self, ev); err != nil {
		log.Logf(Warn, "maintenance", "event journal: %v", err)
	}
	return m, nil
}

// eventOperator is the record's user@host for the event journal, or ""
// when it is not one (a hand-run verb without --host): the journal's
// operator field holds only user@host, and Detail names anyone else.
func eventOperator(m wire.Maintenance) string {
	if wire.CheckOperator(m.Who()) != nil {
		return ""
	}
	return m.Who()
}

// checkMaintenance is the check's view of maintenance mode. It returns
// whether maintenance is active; when it is, the check must answer healthy
// and reconcile nothing. An expired record is logged once ("maintenance
// expired at ..."), and an unreadable one counts as off: the pair is
// protected unless maintenance is known to be on.
func (r *runner) checkMaintenance(now time.Time) (wire.Maintenance, bool) {
	m, active, err := ReadMaintenance(r.cfg, now)
	switch {
	case err != nil:
		r.noteMaintenance(Error, fmt.Sprintf("maintenance file unreadable, acting as if maintenance were off: %v", err))
	case m.Expired(now):
		if r.noteMaintenance(Warn, fmt.Sprintf("maintenance expired at %s (%s): the hooks act again", m.Until.UTC().Format(time.RFC3339), m)) {
			// Once per expiry: the note names the deadline. Timed at the
			// deadline, when the hooks' protection came back.
			r.record(wire.Event{Time: m.Until, Event: wire.EventMaintenanceExp, Operator: eventOperator(m), Reason: m.Reason,
				Detail: fmt.Sprintf("on since %s; noticed by the check at %s", m.Since.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))})
		}
	}
	return m, active
}

// maintenanceNotePath holds the check's last maintenance message, as
// checkNotePath holds its health: each is logged once, when it changes.
func maintenanceNotePath(cfg *config.Config) string { return cfg.Hooks.StateFile + ".maintenance" }

// noteMaintenance logs msg once; it reports whether it did.
func (r *runner) noteMaintenance(level Level, msg string) bool {
	return r.noteTo(maintenanceNotePath(r.cfg), level, msg)
}

// maintenanceCheck answers the check while maintenance is on: healthy
// whatever local Redis does (ping is its PING error, nil when it answered),
// logging once what the check would have said.
func (r *runner) maintenanceCheck(m wire.Maintenance, ping error) error {
	// The check's own note starts afresh: its first verdict after the
	// maintenance is logged even when it repeats one from before.
	_ = os.Remove(checkNotePath(r.cfg))
	if ping != nil {
		r.noteMaintenance(Warn, fmt.Sprintf("maintenance (%s): would have failed: %v; the check stays healthy, keepalived keeps the VIP here", m, ping))
		return nil
	}
	r.noteMaintenance(Info, fmt.Sprintf("maintenance (%s): local Redis answers; the check reconciles nothing while it lasts", m))
	return nil
}
