package tui

import (
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/logs"
	"github.com/redkeep/redkeep/nodes"
)

// Text from the nodes (their logs, written by other programs and, through
// syslog, by anyone on the node; their error messages; INFO fields) passes
// through termsafe.Clean before it is drawn: an escape sequence in it must
// not reach the terminal as one, nor a newline break the layout.

func cleanEvent(e *logs.Event) {
	e.Raw, e.Message = termsafe.Clean(e.Raw), termsafe.Clean(e.Message)
	e.State, e.Program = termsafe.Clean(e.State), termsafe.Clean(e.Program)
}

func cleanSnapshot(s *nodes.Snapshot) {
	s.ConnErr, s.Version = termsafe.Clean(s.ConnErr), termsafe.Clean(s.Version)
	k := &s.Keepalived
	k.State, k.LastAction, k.LastResult = termsafe.Clean(k.State), termsafe.Clean(k.LastAction), termsafe.Clean(k.LastResult)
	s.Redis.Err, s.Redis.Info.MasterHost = termsafe.Clean(s.Redis.Err), termsafe.Clean(s.Redis.Info.MasterHost)
	if m := s.Maintenance; m != nil {
		c := *m // the snapshot's record may be shared with its sender
		c.By, c.Host, c.Reason = termsafe.Clean(c.By), termsafe.Clean(c.Host), termsafe.Clean(c.Reason)
		s.Maintenance = &c
	}
	s.MaintenanceErr = termsafe.Clean(s.MaintenanceErr)
}

func cleanAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = termsafe.Clean(s)
	}
	return out
}
