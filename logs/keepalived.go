package logs

import (
	"strings"
)

// parseKeepalived recognises keepalived's own messages (without the syslog
// header) in both the 1.x layout ("VRRP_Instance(VI_1) Entering MASTER
// STATE") and the 2.x one ("(VI_1) Entering MASTER STATE"). It reports
// whether the message was understood; ev is left alone otherwise.
func parseKeepalived(msg string, ev *Event) bool {
	if rest, ok := strings.CutPrefix(msg, "VRRP_Instance"); ok {
		if name, rest, ok := cutParen(rest); ok {
			return keepalivedInstance(name, rest, ev)
		}
		return false
	}
	if name, rest, ok := cutParen(msg); ok {
		return keepalivedInstance(name, rest, ev)
	}
	if rest, ok := strings.CutPrefix(msg, "VRRP_Script"); ok {
		name, rest, ok := cutParen(rest)
		if !ok {
			return false
		}
		return keepalivedScript(name, rest, ev)
	}
	if rest, ok := strings.CutPrefix(msg, "Script `"); ok {
		// 2.x: "Script `chk` now returning 1".
		name, rest, ok := strings.Cut(rest, "` now returning ")
		if !ok || name == "" {
			return false
		}
		code, ok := atoi(rest)
		if !ok {
			return false
		}
		ev.Kind, ev.Script, ev.OK = KindScript, name, code == 0
		if code != 0 {
			ev.Level = LevelWarn
		}
		ev.Message = "check " + name + " now returning " + rest
		return true
	}
	if strings.HasPrefix(msg, "Track script ") && strings.Contains(msg, "already running") {
		// The check outlived its interval: keepalived is about to time it out.
		ev.Level = LevelWarn
		return true
	}
	return keepalivedDaemon(msg, ev)
}

// keepalivedInstance handles a message about one VRRP instance.
func keepalivedInstance(instance, rest string, ev *Event) bool {
	if instance == "" {
		return false
	}
	if state, why, ok := transitionState(rest); ok {
		ev.Kind, ev.Instance, ev.State = KindTransition, instance, state
		switch state {
		case "FAULT":
			ev.Level = LevelError
		case "STOP":
			ev.Level = LevelWarn
		}
		ev.Message = instance + " entered " + state
		if strings.HasPrefix(rest, "Transition to") {
			// 1.x logs "Transition to MASTER" first and "Entering MASTER"
			// once the first advert is out.
			ev.Message = instance + " moving to " + state
		}
		if why != "" {
			ev.Message += " (" + why + ")"
		}
		return true
	}
	if r, ok := strings.CutPrefix(rest, "Changing effective priority from "); ok {
		from, to, ok := strings.Cut(r, " to ")
		if !ok {
			return false
		}
		old, ok1 := atoi(from)
		cur, ok2 := atoi(to)
		if !ok1 || !ok2 {
			return false
		}
		ev.Kind, ev.Instance, ev.Priority, ev.OldPriority = KindPriority, instance, cur, old
		if cur < old {
			// A weighted check failed or a tracked interface went down.
			ev.Level = LevelWarn
		}
		ev.Message = instance + " priority " + from + " -> " + to
		return true
	}
	// "(VI_1): tracked file drain now FAULT state" / "... leaving FAULT state".
	if r, ok := strings.CutPrefix(rest, "tracked file "); ok {
		name, what, ok := strings.Cut(r, " ")
		if !ok || name == "" {
			return false
		}
		ev.Kind, ev.Instance, ev.Script = KindScript, instance, name
		switch {
		case strings.HasPrefix(what, "now FAULT"):
			ev.OK, ev.Level = false, LevelWarn
			ev.Message = "track file " + name + " puts " + instance + " in FAULT"
		case strings.HasPrefix(what, "leaving FAULT"):
			ev.OK = true
			ev.Message = "track file " + name + " released " + instance
		default:
			ev.OK = true
			ev.Message = "track file " + name + " " + what
		}
		return true
	}
	if rest == "sent 0 priority" || rest == "sending 0 priority" {
		ev.Instance = instance
		ev.Message = instance + " sent priority 0 (handing over the VIP)"
		return true
	}
	return false
}

// transitionState finds the state in "Entering MASTER STATE", "Entering
// BACKUP STATE (init)", "entering FAULT state due to script chk",
// "Transition to MASTER STATE" and "Now in FAULT state", and the reason
// that follows it, if any.
func transitionState(rest string) (state, why string, ok bool) {
	var after string
	switch {
	case hasPrefixFold(rest, "Entering "):
		after = rest[len("Entering "):]
	case strings.HasPrefix(rest, "Transition to "):
		after = rest[len("Transition to "):]
	case strings.HasPrefix(rest, "Now in "):
		after = rest[len("Now in "):]
	default:
		return "", "", false
	}
	state, tail, found := strings.Cut(after, " ")
	if !found || !hasPrefixFold(tail, "state") {
		return "", "", false
	}
	switch state {
	case "MASTER", "BACKUP", "FAULT", "STOP":
	default:
		return "", "", false
	}
	why = strings.TrimSpace(tail[len("state"):])
	if strings.HasPrefix(why, "(") && strings.HasSuffix(why, ")") {
		why = why[1 : len(why)-1]
	}
	return state, why, true
}

// keepalivedScript handles "VRRP_Script(NAME) succeeded", "... failed (exited
// with status 1)", "... timed out" and "... timed_out".
func keepalivedScript(name, rest string, ev *Event) bool {
	if name == "" {
		return false
	}
	ev.Kind, ev.Script = KindScript, name
	switch {
	case strings.HasPrefix(rest, "succeeded"):
		ev.OK = true
		ev.Message = "check " + name + " succeeded"
	case strings.HasPrefix(rest, "failed"):
		ev.Level = LevelWarn
		ev.Message = "check " + name + " failed"
		if why := parenSuffix(rest); why != "" {
			ev.Message += " (" + why + ")"
		}
	case strings.HasPrefix(rest, "timed out"), strings.HasPrefix(rest, "timed_out"):
		ev.Level = LevelWarn
		ev.Message = "check " + name + " timed out"
	case strings.HasPrefix(rest, "considered successful"):
		ev.OK = true
		ev.Message = "check " + name + " considered successful on reload"
	case strings.HasPrefix(rest, "considered unsuccessful"):
		ev.Level = LevelWarn
		ev.Message = "check " + name + " considered failed on reload"
	default:
		ev.Kind, ev.Script = KindRaw, ""
		return false
	}
	return true
}

// keepalivedDaemon handles the daemon's own start and stop lines.
func keepalivedDaemon(msg string, ev *Event) bool {
	switch {
	case strings.HasPrefix(msg, "Starting Keepalived"):
		ev.Kind, ev.State = KindDaemon, "start"
		ev.Message = "keepalived starting" + versionSuffix(msg, "Starting Keepalived")
	case msg == "Stopping" || strings.HasPrefix(msg, "Stopping Keepalived"):
		ev.Kind, ev.State, ev.Level = KindDaemon, "stop", LevelWarn
		ev.Message = "keepalived stopping"
	case strings.HasPrefix(msg, "Stopped Keepalived"):
		ev.Kind, ev.State, ev.Level = KindDaemon, "stop", LevelWarn
		ev.Message = "keepalived stopped"
	case strings.HasPrefix(msg, "VRRP child process(") && strings.Contains(msg, "died"):
		ev.Kind, ev.State, ev.Level = KindDaemon, "stop", LevelError
		ev.Message = "keepalived VRRP process died"
	case strings.Contains(msg, "exited with permanent error"):
		ev.Kind, ev.State, ev.Level = KindDaemon, "stop", LevelError
	case strings.HasSuffix(msg, " script failed") || strings.Contains(msg, " script failed,"):
		// A notify or startup script failed ("%s script failed, status %u").
		ev.Level = LevelWarn
	default:
		return false
	}
	return true
}

// versionSuffix returns " v2.2.7" from "Starting Keepalived v2.2.7 (...)".
func versionSuffix(msg, prefix string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(msg[len(prefix):], " "), " ")
	if strings.HasPrefix(v, "v") {
		return " " + v
	}
	return ""
}

// parenSuffix returns "exited with status 1" from "failed (exited with
// status 1)".
func parenSuffix(s string) string {
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") || open >= len(s)-1 {
		return ""
	}
	return s[open+1 : len(s)-1]
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
