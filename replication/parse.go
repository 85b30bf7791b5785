package replication

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/redkeep/redkeep/internal/human"
)

// ParseInfo parses the text of an INFO reply (any mix of the server,
// persistence, replication and keyspace sections; others are ignored).
//
// Unknown fields are skipped so newer Redis versions still parse, but a
// known field with a value that does not parse is an error naming the line:
// deciding over a misread offset is how data gets lost.
func ParseInfo(text string) (Info, error) {
	info := Info{LinkDownSecs: -1, LastIOSecs: -1, SecondReplOffset: -1}
	var sawRole bool
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			return Info{}, fmt.Errorf("parse INFO: line %d: %q is not key:value", i+1, human.Abbrev(line, 60))
		}
		if key == "role" {
			sawRole = true
		}
		if err := info.set(key, val); err != nil {
			return Info{}, fmt.Errorf("parse INFO: line %d: %s: %w", i+1, key, err)
		}
	}
	if !sawRole {
		return Info{}, fmt.Errorf("parse INFO: no role field (the replication section is missing)")
	}
	return info, nil
}

// set applies one INFO field.
func (in *Info) set(key, val string) error {
	var err error
	switch key {
	case "run_id":
		in.RunID = val
	case "redis_version":
		in.Version = val
	case "role":
		in.Role, err = parseRole(val)
	case "master_replid":
		in.ReplID = val
	case "master_replid2":
		in.ReplID2 = val
	case "master_repl_offset":
		in.MasterReplOffset, err = parseInt(val)
	case "second_repl_offset":
		in.SecondReplOffset, err = parseInt(val)
	case "master_failover_state":
		in.FailoverState = val
	case "connected_slaves":
		var n int64
		n, err = parseInt(val)
		in.ConnectedReplicas = int(n)
	case "master_host":
		in.MasterHost = val
	case "master_port":
		in.MasterPort, err = parsePort(val)
	case "master_link_status":
		in.LinkUp = val == "up"
	case "master_link_down_since_seconds":
		in.LinkDownSecs, err = parseInt(val)
	case "master_last_io_seconds_ago":
		in.LastIOSecs, err = parseInt(val)
	case "master_sync_in_progress":
		in.SyncInProgress = val == "1"
	case "slave_repl_offset":
		in.ReplicaOffset, err = parseInt(val)
	case "repl_backlog_active":
		in.BacklogActive = val == "1"
	case "repl_backlog_first_byte_offset":
		in.BacklogFirstByte, err = parseInt(val)
	case "repl_backlog_histlen":
		in.BacklogHistLen, err = parseInt(val)
	case "loading":
		in.Loading = val == "1"
	default:
		switch {
		case isReplicaLine(key):
			var r Replica
			if r, err = parseReplica(val); err == nil {
				in.Replicas = append(in.Replicas, r)
			}
		case isKeyspaceLine(key):
			var n int64
			if n, err = parseKeyspace(val); err == nil {
				if in.Keys+n < in.Keys {
					return fmt.Errorf("total key count overflows")
				}
				in.Keys += n
			}
		}
	}
	return err
}

func parseRole(v string) (Role, error) {
	switch v {
	case "master":
		return RoleMaster, nil
	case "slave", "replica":
		return RoleReplica, nil
	}
	return RoleUnknown, fmt.Errorf("unknown role %q", human.Abbrev(v, 60))
}

func parseInt(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", human.Abbrev(v, 60))
	}
	return n, nil
}

func parsePort(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port", human.Abbrev(v, 60))
	}
	return n, nil
}

// isReplicaLine matches slave0, slave1, ... in a master's replication section.
func isReplicaLine(key string) bool { return hasDigitSuffix(key, "slave") }

// isKeyspaceLine matches db0, db1, ... in the keyspace section.
func isKeyspaceLine(key string) bool { return hasDigitSuffix(key, "db") }

func hasDigitSuffix(key, prefix string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fields splits "a=1,b=2" into a map.
func fields(v string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(kv, "="); ok {
			m[k] = val
		}
	}
	return m
}

// parseReplica parses "ip=127.0.0.1,port=6380,state=online,offset=3434,lag=0".
func parseReplica(v string) (Replica, error) {
	f := fields(v)
	r := Replica{IP: f["ip"], State: f["state"]}
	var err error
	if r.Port, err = parsePort(f["port"]); err != nil {
		return Replica{}, fmt.Errorf("port: %w", err)
	}
	if r.Offset, err = parseInt(f["offset"]); err != nil {
		return Replica{}, fmt.Errorf("offset: %w", err)
	}
	if s, ok := f["lag"]; ok {
		if r.Lag, err = parseInt(s); err != nil {
			return Replica{}, fmt.Errorf("lag: %w", err)
		}
	}
	return r, nil
}

// parseKeyspace parses "keys=100,expires=0,avg_ttl=0" and returns keys.
func parseKeyspace(v string) (int64, error) {
	n, err := parseInt(fields(v)["keys"])
	if err != nil {
		return 0, fmt.Errorf("keys: %w", err)
	}
	if n < 0 {
		return 0, fmt.Errorf("keys: negative count %d", n)
	}
	return n, nil
}

// ParseRole parses a ROLE reply as go-redis returns it ([]any of strings,
// int64s and nested slices) into the subset of Info that ROLE carries:
// role, offsets, the master's address and, on a replica, whether the link
// is connected. It is a cheaper probe than INFO.
func ParseRole(reply any) (Info, error) {
	arr, ok := reply.([]any)
	if !ok || len(arr) == 0 {
		return Info{}, fmt.Errorf("parse ROLE: want a non-empty array, got %T", reply)
	}
	kind, _ := arr[0].(string)
	info := Info{LinkDownSecs: -1, LastIOSecs: -1, SecondReplOffset: -1}
	switch kind {
	case "master":
		if len(arr) < 3 {
			return Info{}, fmt.Errorf("parse ROLE: master reply has %d elements, want 3", len(arr))
		}
		info.Role = RoleMaster
		off, err := asInt(arr[1])
		if err != nil {
			return Info{}, fmt.Errorf("parse ROLE: master offset: %w", err)
		}
		info.MasterReplOffset = off
		reps, ok := arr[2].([]any)
		if !ok {
			return Info{}, fmt.Errorf("parse ROLE: master replicas: want an array, got %T", arr[2])
		}
		for i, r := range reps {
			rr, ok := r.([]any)
			if !ok || len(rr) < 3 {
				return Info{}, fmt.Errorf("parse ROLE: replica %d: want [ip port offset]", i)
			}
			ip, _ := rr[0].(string)
			port, err1 := asInt(rr[1])
			roff, err2 := asInt(rr[2])
			if err1 != nil || err2 != nil || port < 0 || port > 65535 {
				return Info{}, fmt.Errorf("parse ROLE: replica %d: bad port or offset", i)
			}
			info.Replicas = append(info.Replicas, Replica{IP: ip, Port: int(port), Offset: roff, State: "online"})
		}
		info.ConnectedReplicas = len(info.Replicas)
	case "slave":
		if len(arr) < 5 {
			return Info{}, fmt.Errorf("parse ROLE: replica reply has %d elements, want 5", len(arr))
		}
		info.Role = RoleReplica
		info.MasterHost, _ = arr[1].(string)
		port, err := asInt(arr[2])
		if err != nil || port < 0 || port > 65535 {
			return Info{}, fmt.Errorf("parse ROLE: master port: bad value %v", arr[2])
		}
		info.MasterPort = int(port)
		state, _ := arr[3].(string)
		info.LinkUp = state == "connected"
		info.SyncInProgress = state == "sync"
		if info.ReplicaOffset, err = asInt(arr[4]); err != nil {
			return Info{}, fmt.Errorf("parse ROLE: replica offset: %w", err)
		}
		info.MasterReplOffset = info.ReplicaOffset
	default:
		return Info{}, fmt.Errorf("parse ROLE: unknown role %v", arr[0])
	}
	return info, nil
}

// asInt accepts the integer forms a ROLE reply element can take.
func asInt(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case string:
		return parseInt(v)
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}
