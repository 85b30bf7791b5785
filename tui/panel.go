package tui

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/nodes"
	"github.com/redkeep/redkeep/replication"
)

// panelRows is the height of a node panel's content: a title and seven rows.
const panelRows = 8

// panelMinWidth is the narrowest a side-by-side panel may be, border included.
const panelMinWidth = 38

// nodePanel is one node as the console last saw it.
type nodePanel struct {
	name string
	host string

	// last is the latest snapshot; good is the latest one taken over a
	// working connection, shown (dimmed) while the node cannot be reached.
	last, good nodes.Snapshot
	seen       bool // any snapshot yet
	seenGood   bool

	// gen tags the staleness timer armed by the latest snapshot, so the
	// timers of earlier snapshots are recognised and dropped.
	gen   int
	stale bool

	// offsets are this node's offsets while a master: its replica's lag
	// in seconds is read from them.
	offsets offsetHistory
}

// staleTickMsg fires when a node has sent no snapshot for a while.
type staleTickMsg struct {
	node string
	gen  int
}

// slowPoll is the poll duration from which the panel mentions it: an SSH
// round trip that slow is worth knowing about, a fast one is noise.
const slowPoll = 300 * time.Millisecond

// update records s and reports whether the panel looks any different.
func (p *nodePanel) update(s nodes.Snapshot) (changed bool) {
	changed = !p.seen || p.stale || !sameLook(p.last, s)
	p.last, p.seen = s, true
	p.offsets.add(s)
	if s.Conn == nodes.ConnConnected {
		p.good, p.seenGood = s, true
	}
	p.stale = false
	p.gen++
	return changed
}

// sameLook reports whether two snapshots of a node draw the same panel:
// the title shows the time to the second and a poll's duration only when
// slow, so most polls of a quiet pair change nothing on screen.
func sameLook(a, b nodes.Snapshot) bool {
	look := func(s nodes.Snapshot) nodes.Snapshot {
		s.Time = s.Time.Truncate(time.Second)
		if s.Took < slowPoll {
			s.Took = 0
		}
		return s
	}
	return reflect.DeepEqual(look(a), look(b))
}

// current is the snapshot whose data the panel shows.
func (p *nodePanel) current() (nodes.Snapshot, bool) {
	if p.last.Conn == nodes.ConnConnected {
		return p.last, true
	}
	return p.good, p.seenGood
}

// live reports whether the panel's data is fresh.
func (p *nodePanel) live() bool {
	return p.seen && !p.stale && p.last.Conn == nodes.ConnConnected
}

// panelView renders the panel's content (without its border) at width w.
// peer is the other node's latest data, needed for the replica's lag.
// clocked says the title shows the time of the latest poll, written as
// clockToken: the caller puts the time in (panelBoxes), so a poll that
// changes nothing but the second leaves the drawing as it was.
func (p *nodePanel) view(st *Styles, w int, peer *nodes.Snapshot, peerOffsets *offsetHistory, lagWarn int64, now time.Time) (content string, clocked bool) {
	rows := make([]string, 0, panelRows)
	title, clocked := p.titleRow(st, w, now)
	rows = append(rows, title)

	s, ok := p.current()
	if !ok {
		// Nothing known yet: the reason is all there is to show, and it
		// (a refused host key, say) needs to be read in full.
		indent := strings.Repeat(" ", 11)
		wrapped := strings.Split(ansi.Wrap(p.connText(st), max(w-11, 10), " "), "\n")
		for i, l := range wrapped {
			if i == 0 {
				rows = append(rows, row(st, "ssh", l))
			} else {
				rows = append(rows, indent+l)
			}
		}
		return fit(rows, w), clocked
	}
	data := []string{
		row(st, "keepalived", keepalivedText(st, s)),
		row(st, "redis", redisText(st, s.Redis)),
		row(st, "link", linkText(st, s.Redis)),
		row(st, "offset", offsetText(s.Redis)),
		row(st, "lag", lagText(st, s, peer, peerOffsets, lagWarn)),
	}
	if !p.live() {
		// Old data must not look current: strip its colours and dim it.
		for i, r := range data {
			data[i] = st.Dim.Render(ansi.Strip(r))
		}
	}
	rows = append(rows, data...)
	rows = append(rows, row(st, "ssh", p.connText(st)))
	if s.Hooks == nodes.HooksNotRedkeep {
		// The origin's scripts, say: no hook of ours ran, and no action
		// of ours can run there.
		rows = append(rows, row(st, "hooks", st.Warn.Render("not redkeep")+st.Dim.Render(": deploy first")))
	} else {
		rows = append(rows, row(st, "last hook", hookText(st, s.Keepalived)))
	}
	return fit(rows, w), clocked
}

// clockLayout is how a panel's title shows the time of the latest poll;
// clockToken stands for it, as wide, until the time is put in.
const (
	clockLayout = "15:04:05"
	clockToken  = "00:00:00"
)

// titleRow is the panel's first row: the node and its host on the left;
// on the right the time of the latest poll (as clockToken, and clocked
// says so) or why there is none.
func (p *nodePanel) titleRow(st *Styles, w int, now time.Time) (title string, clocked bool) {
	left := st.Title.Render(p.name) + " " + st.Dim.Render(p.host)
	var right string
	switch {
	case !p.seen:
		right = st.Dim.Render("waiting for first poll")
	case p.stale || p.last.Conn != nodes.ConnConnected:
		if p.seenGood {
			right = st.Warn.Render("last seen " + ago(now.Sub(p.good.Time)) + " ago")
		} else {
			right = st.Warn.Render("never reached")
		}
	default:
		right, clocked = st.Dim.Render(clockToken), true
	}
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left, false
	}
	return left + strings.Repeat(" ", gap) + right, clocked
}

func (p *nodePanel) connText(st *Styles) string {
	if !p.seen {
		return st.Dim.Render("connecting")
	}
	s := p.last
	var txt string
	switch s.Conn {
	case nodes.ConnConnected:
		txt = st.Good.Render("connected")
		if s.Took >= slowPoll {
			txt = st.Warn.Render(fmt.Sprintf("connected, slow (%d ms)", s.Took.Milliseconds()))
		}
		if p.stale {
			txt = st.Warn.Render("no poll for a while")
		}
		return txt
	case nodes.ConnConnecting, nodes.ConnReconnecting:
		txt = st.Warn.Render(string(s.Conn))
	default: // host key refused, auth failed, unreachable: needs a human
		txt = st.Bad.Render(string(s.Conn))
	}
	if s.ConnErr != "" {
		txt += st.Dim.Render(": " + s.ConnErr)
	}
	return txt
}

func row(st *Styles, label, value string) string {
	return st.Label.Render(padRight(label, 10)) + " " + value
}

// fit truncates each row to w cells and pads the panel to panelRows rows.
func fit(rows []string, w int) string {
	for len(rows) < panelRows {
		rows = append(rows, "")
	}
	for i, r := range rows {
		rows[i] = ansi.Truncate(r, w, "…")
	}
	return strings.Join(rows[:panelRows], "\n")
}

func keepalivedText(st *Styles, s nodes.Snapshot) string {
	k := s.Keepalived
	if !k.Running {
		return st.Bad.Render("not running")
	}
	var state string
	switch k.State {
	case "MASTER":
		state = st.Good.Render("MASTER")
	case "BACKUP":
		state = st.Accent.Render("BACKUP")
	case "FAULT", "STOP":
		state = st.Bad.Render(k.State)
	case "":
		state = st.Dim.Render("state unknown")
	default:
		state = st.Warn.Render(k.State)
	}
	txt := state + st.Dim.Render(fmt.Sprintf(" prio %d", k.Priority))
	if k.StateFrom != "" && k.StateFrom != nodes.StateFromFile {
		// No redkeep state file: no priority known, and where the state
		// was read says how far to trust it.
		txt = state + st.Dim.Render(" from "+k.StateFrom)
	}
	if s.HoldsVIP {
		txt += " " + st.Bold.Render("◆ VIP")
	}
	return txt
}

func redisText(st *Styles, r nodes.Redis) string {
	if !r.Up {
		if r.Err != "" {
			return st.Bad.Render("down") + st.Dim.Render(": "+r.Err)
		}
		return st.Bad.Render("down")
	}
	var role string
	switch r.Info.Role {
	case replication.RoleMaster:
		role = st.Good.Render("master")
	case replication.RoleReplica:
		role = st.Accent.Render("replica")
	default:
		role = st.Warn.Render("role unknown")
	}
	txt := role + st.Dim.Render(fmt.Sprintf(" · %s keys", count(r.Info.Keys)))
	if r.Info.Loading {
		txt += " " + st.Warn.Render("loading")
	}
	return txt
}

func linkText(st *Styles, r nodes.Redis) string {
	if !r.Up {
		return st.Dim.Render("—")
	}
	i := r.Info
	switch i.Role {
	case replication.RoleMaster:
		online := 0
		for _, rep := range i.Replicas {
			if rep.State == "online" {
				online++
			}
		}
		txt := fmt.Sprintf("%d replica(s), %d online", i.ConnectedReplicas, online)
		if i.ConnectedReplicas == 0 {
			return st.Warn.Render(txt)
		}
		return txt
	case replication.RoleReplica:
		to := st.Dim.Render(fmt.Sprintf(" ← %s:%d", i.MasterHost, i.MasterPort))
		switch {
		case i.SyncInProgress:
			return st.Warn.Render("syncing") + to
		case i.LinkUp:
			return st.Good.Render("up") + to
		case i.LinkDownSecs >= 0:
			return st.Bad.Render(fmt.Sprintf("down %ds", i.LinkDownSecs)) + to
		default:
			return st.Bad.Render("down") + to
		}
	}
	return st.Dim.Render("—")
}

func offsetText(r nodes.Redis) string {
	if !r.Up {
		return "—"
	}
	return fmt.Sprint(r.Info.Offset())
}

// lagText shows how far a replica is behind its master: bytes from the two
// offsets (replication.Lag), and seconds from the master's offsets over the
// polls (offsetHistory.age): 0 s when the replica had all the master had at
// the last poll.
func lagText(st *Styles, s nodes.Snapshot, peer *nodes.Snapshot, peerOffsets *offsetHistory, lagWarn int64) string {
	r := s.Redis
	if !r.Up || r.Info.Role != replication.RoleReplica {
		return st.Dim.Render("—")
	}
	if peer == nil || !peer.Redis.Up || peer.Redis.Info.Role != replication.RoleMaster {
		return st.Dim.Render("? B · ? s")
	}
	lag, ok := replication.Lag(r.Info, peer.Redis.Info)
	if !ok {
		return st.Bad.Render("other history than " + peer.Node)
	}
	secs := "? s"
	if peerOffsets != nil {
		age, known := peerOffsets.age(r.Info.ReplID, r.Info.Offset(), s.Time)
		secs = seconds(age)
		if !known {
			secs = "> " + secs
		}
	}
	style := st.Good
	switch {
	case lag > lagWarn:
		style = st.Bad
	case lag > lagWarn/2:
		style = st.Warn
	}
	return style.Render(human.Bytes(lag)) + " · " + secs + " " + style.Render(bar(lag, lagWarn, 6))
}

// seconds shows d to a tenth of a second below 10 s.
func seconds(d time.Duration) string {
	switch {
	case d == 0:
		return "0 s"
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%d s", int64(d/time.Second))
}

// bar is a small gauge of v against max, in cells of eighths.
func bar(v, max int64, cells int) string {
	if max <= 0 {
		max = 1
	}
	eighths := int64(cells * 8)
	fill := v * eighths / max
	if v > 0 && fill == 0 {
		fill = 1 // any lag at all is visible
	}
	if fill > eighths {
		fill = eighths
	}
	parts := []rune(" ▏▎▍▌▋▊▉")
	var b strings.Builder
	b.WriteString("▕")
	for i := 0; i < cells; i++ {
		switch rem := fill - int64(i*8); {
		case rem >= 8:
			b.WriteRune('█')
		case rem > 0:
			b.WriteRune(parts[rem])
		default:
			b.WriteRune(' ')
		}
	}
	b.WriteString("▏")
	return b.String()
}

func hookText(st *Styles, k nodes.Keepalived) string {
	if k.LastAction == "" {
		return st.Dim.Render("—")
	}
	txt := k.LastAction
	if k.LastResult != "" {
		txt += st.Dim.Render(": " + k.LastResult)
	}
	if !k.Since.IsZero() {
		txt += st.Dim.Render(" @" + k.Since.Format("15:04:05"))
	}
	return txt
}

func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 10000 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// ago formats an elapsed time compactly: 7s, 3m04s, 2h05m, 3d.
func ago(d time.Duration) string { return human.Duration(d) }
