package hooks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/redkeep/redkeep/config"
)

// KeepalivedConf renders the keepalived.conf for node.
//
// The design (docs/safety.md rule 6): both nodes start as BACKUP with nopreempt, so
// a recovered node never takes the VIP back by itself. Health is tracked with
// weight 0, so a failing `redkeep hook check` or a non-zero drain track file
// puts the instance in FAULT: keepalived then sends a priority-0 advert and the
// peer takes over at once. A negative weight would not work with nopreempt: the
// BACKUP ignores the lower-priority adverts of a MASTER whose Redis died.
func KeepalivedConf(cfg *config.Config, node string) (string, error) {
	n, err := cfg.Node(node)
	if err != nil {
		return "", err
	}
	peer, err := cfg.Peer(node)
	if err != nil {
		return "", err
	}
	k := cfg.Keepalived
	// keepalived splits a script string at unquoted spaces and drops single
	// quotes: the paths are quoted for it (config validation keeps quotes and
	// whitespace out of them). The notify's options end with "--", since
	// keepalived appends INSTANCE <name> <STATE> <priority> to it.
	hook := fmt.Sprintf("'%s' hook %%s --config '%s' --node %s", n.Redkeep, n.ConfigPath, n.Name)
	data := map[string]any{
		"Node":      n,
		"Peer":      peer,
		"K":         k,
		"VIP":       cfg.VIP,
		"AdvertInt": formatSeconds(k.AdvertInt.Seconds()),
		"Interval":  int(k.Check.Interval.Seconds()),
		// keepalived's script timeout is whole seconds and counts from the
		// fork; our own deadline counts from when the check starts asking
		// Redis. startMargin leaves room for the process to start on a busy
		// node, so keepalived never kills a check that would have answered.
		"Timeout": int(math.Ceil((k.Check.Deadline + startMargin).Seconds())),
		"Check":   quote(fmt.Sprintf(hook, "check")),
		"Notify":  quote(fmt.Sprintf(hook, "notify") + " --"),
		"Track":   quote(k.TrackFile),
		"Health":  "",
	}
	if k.Watch.On() {
		data["Health"] = quote(k.Watch.HealthFile)
	}
	var b strings.Builder
	if err := confTmpl().Execute(&b, data); err != nil {
		return "", fmt.Errorf("render keepalived.conf for %s: %w", node, err)
	}
	return b.String(), nil
}

// startMargin is the time the check's process may take to start before its
// own deadline begins. The lab saw a check time out at keepalived's 1 s
// (deadline 800 ms) on a master flooded with writes on a loaded machine:
// with fall 1, that one slow start handed the VIP back to the peer.
const startMargin = time.Second

func formatSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

var confTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("keepalived.conf").Parse(`# keepalived.conf for redkeep node {{.Node.Name}}, written by ` + "`redkeep keepalived-conf --node {{.Node.Name}}`" + `.
# Regenerate it rather than editing it: the hooks rely on this layout.

global_defs {
    router_id redkeep_{{.Node.Name}}
    # keepalived refuses to run scripts that a non-root user could replace.
    enable_script_security
    script_user {{.K.ScriptUser}}
    # VRRPv3 carries the advert interval in centiseconds (sub-second
    # advert_int); both nodes must speak the same version.
    vrrp_version {{.K.VRRPVersion}}
}

# Redis health: weight 0 means a failing check puts the instance in FAULT,
# which sends a priority-0 advert so the peer takes the VIP at once.
vrrp_script redkeep_check {
    script {{.Check}}
    interval {{.Interval}}
    timeout {{.Timeout}}
    fall {{.K.Check.Fall}}
    rise {{.K.Check.Rise}}
    weight 0
}

# Drain for planned switchovers: a non-zero number in the file means FAULT.
track_file redkeep_drain {
    file {{.Track}}
    weight 0
    init_file 0
}
{{- if .Health}}

# Redis died: ` + "`redkeep hook watch`" + ` writes 1 the moment the local Redis goes
# away (FAULT at once, not at the next check); the check writes 0 once
# Redis answers again.
track_file redkeep_health {
    file {{.Health}}
    weight 0
    init_file 0
}
{{- end}}

vrrp_instance {{.K.Instance}} {
    # Both nodes start as BACKUP and never preempt: a recovered node rejoins
    # as BACKUP (and its Redis as a replica) instead of taking the VIP back.
    state BACKUP
    nopreempt
    interface {{.Node.Keepalived.Interface}}
    virtual_router_id {{.K.VirtualRouterID}}
    priority {{.Node.Keepalived.Priority}}
    advert_int {{.AdvertInt}}
{{- if .K.Unicast}}
    unicast_src_ip {{.Node.Host}}
    unicast_peer {
        {{.Peer.Host}}
    }
{{- end}}
    virtual_ipaddress {
        {{.VIP}} dev {{.Node.Keepalived.Interface}}
    }
    track_script {
        redkeep_check
    }
    track_file {
        redkeep_drain
{{- if .Health}}
        redkeep_health
{{- end}}
    }
    # One generic notify: keepalived appends INSTANCE <name> <STATE> <priority>
    # for MASTER, BACKUP, FAULT and STOP.
    notify {{.Notify}}
}
`))
})
