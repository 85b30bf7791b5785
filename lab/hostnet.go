package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// ipCmd runs ip(8) and returns its stdout; the error carries its stderr.
func ipCmd(ctx context.Context, args ...string) ([]byte, error) {
	return runCmd(ctx, "ip", args...)
}

func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return stdout.Bytes(), nil
}

// hostUse is one address or route already on the machine.
type hostUse struct {
	What   string // e.g. "address 192.0.2.2/24 on eth0"
	Prefix netip.Prefix
}

// hostUses lists the root namespace's IPv4 addresses and routes (all tables),
// except default routes, which every subnet "overlaps" and which the lab
// never competes with: it adds no default route anywhere.
func hostUses(ctx context.Context) ([]hostUse, error) {
	out, err := ipCmd(ctx, "-j", "-4", "addr", "show")
	if err != nil {
		return nil, fmt.Errorf("list the machine's addresses: %w", err)
	}
	var links []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("parse `ip -j addr`: %w", err)
	}
	var uses []hostUse
	for _, l := range links {
		for _, a := range l.AddrInfo {
			addr, err := netip.ParseAddr(a.Local)
			if err != nil || !addr.Is4() {
				continue
			}
			p := netip.PrefixFrom(addr, a.PrefixLen)
			uses = append(uses, hostUse{What: fmt.Sprintf("address %s on %s", p, l.IfName), Prefix: p.Masked()})
		}
	}
	out, err = ipCmd(ctx, "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, fmt.Errorf("list the machine's routes: %w", err)
	}
	var routes []struct {
		Dst   string `json:"dst"`
		Dev   string `json:"dev"`
		Gw    string `json:"gateway"`
		Table string `json:"table"`
		Type  string `json:"type"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return nil, fmt.Errorf("parse `ip -j route`: %w", err)
	}
	for _, r := range routes {
		// A gateway is in use even on a default route: a lab bridge on its
		// subnet would hijack the machine's way out.
		if gw, err := netip.ParseAddr(r.Gw); err == nil && gw.Is4() {
			uses = append(uses, hostUse{What: "gateway " + r.Gw, Prefix: netip.PrefixFrom(gw, 32)})
		}
		if r.Dst == "" || r.Dst == "default" {
			continue
		}
		dst := r.Dst
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		p, err := netip.ParsePrefix(dst)
		if err != nil || !p.Addr().Is4() || p.Bits() == 0 {
			continue
		}
		what := "route " + r.Dst
		if r.Dev != "" {
			what += " dev " + r.Dev
		}
		if r.Gw != "" {
			what += " via " + r.Gw
		}
		if r.Table != "" && r.Table != "main" {
			what += " table " + r.Table
		}
		uses = append(uses, hostUse{What: what, Prefix: p.Masked()})
	}
	return append(uses, peerUses()...), nil
}

// peerUses lists addresses the machine talks to through its default route:
// its name servers and the peers of its open TCP connections. A lab subnet
// holding one of them would take the machine's traffic to it into the lab
// bridge (package mirrors have been seen on documentation ranges).
func peerUses() []hostUse {
	var uses []hostUse
	seen := map[netip.Addr]bool{}
	add := func(what string, a netip.Addr) {
		if !a.Is4() || a.IsLoopback() || a.IsUnspecified() || seen[a] {
			return
		}
		seen[a] = true
		uses = append(uses, hostUse{What: what + " " + a.String(), Prefix: netip.PrefixFrom(a, 32)})
	}
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" {
				if a, err := netip.ParseAddr(f[1]); err == nil {
					add("name server", a)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/net/tcp"); err == nil {
		for _, a := range tcpPeers(b) {
			add("connection to", a)
		}
	}
	return uses
}

// tcpPeers reads the remote addresses of the live connections in a
// /proc/net/tcp table (IPv4, in little-endian hex: 0100007F is 127.0.0.1).
// Only ESTABLISHED, SYN_SENT and SYN_RECV count: the TIME_WAIT sockets a
// lab leaves behind for a minute after `lab down` must not block the next
// `lab up` on the same subnet (they did: bench's baseline lab was refused).
func tcpPeers(table []byte) []netip.Addr {
	var peers []netip.Addr
	for i, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 4 {
			continue
		}
		if st := f[3]; st != "01" && st != "02" && st != "03" {
			continue
		}
		hexAddr, _, ok := strings.Cut(f[2], ":")
		if !ok || len(hexAddr) != 8 {
			continue
		}
		v, err := strconv.ParseUint(hexAddr, 16, 32)
		if err != nil {
			continue
		}
		peers = append(peers, netip.AddrFrom4([4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}))
	}
	return peers
}

// checkSubnetFree refuses a subnet that any address or route on the machine
// already uses: a lab bridge there would cut the host off from that network
// and send lab traffic out of its real interface.
func checkSubnetFree(ctx context.Context, subnet netip.Prefix, uses []hostUse) error {
	var clash []string
	for _, u := range uses {
		if u.Prefix.Overlaps(subnet) {
			clash = append(clash, u.What)
		}
	}
	if len(clash) > 0 {
		return fmt.Errorf("lab subnet %s is already used on this machine (%s); nothing was created: pick a free one with --subnet (e.g. 198.51.100.0/24 or 198.18.0.0/24 if unused)",
			subnet, strings.Join(clash, "; "))
	}
	return nil
}

// linkExists reports whether a network interface exists in the root namespace.
func linkExists(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name)
	return err == nil
}

// netnsExists reports whether a named network namespace exists.
func netnsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

// createNetwork builds the bridge, both cables and both namespaces. Every
// node's only route is its connected lab subnet: no default route, and the
// root namespace forwards nothing for the lab, so no lab packet can leave
// through the host's interfaces.
func createNetwork(ctx context.Context, s *Settings) error {
	br := s.Bridge()
	steps := [][]string{
		{"link", "add", br, "type", "bridge"},
		{"link", "set", br, "up"},
		{"addr", "add", netip.PrefixFrom(s.BridgeAddr(), s.Subnet.Bits()).String(), "dev", br},
	}
	for _, args := range steps {
		if _, err := ipCmd(ctx, args...); err != nil {
			return err
		}
	}
	// IPv6 on the bridge would only add router solicitations and MLD noise.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+br+"/disable_ipv6", []byte("1"), 0o644)
	for _, n := range NodeNames {
		ns, hv, nv := s.Namespace(n), s.HostVeth(n), s.nodeVeth(n)
		addr := netip.PrefixFrom(s.NodeAddr(n), s.Subnet.Bits()).String()
		steps := [][]string{
			{"netns", "add", ns},
			{"link", "add", hv, "type", "veth", "peer", "name", nv},
			{"link", "set", hv, "master", br},
			{"link", "set", hv, "up"},
			{"link", "set", nv, "netns", ns},
			{"-n", ns, "link", "set", nv, "name", "eth0"},
			{"-n", ns, "addr", "add", addr, "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
			{"-n", ns, "link", "set", "lo", "up"},
		}
		for _, args := range steps {
			if _, err := ipCmd(ctx, args...); err != nil {
				return fmt.Errorf("node %s: %w", n, err)
			}
		}
		// Redis listens on the VIP too, as on real nodes: it must be able to
		// bind it while the peer holds it.
		if _, err := runCmd(ctx, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1"); err != nil {
			return fmt.Errorf("node %s: %w", n, err)
		}
		_, _ = runCmd(ctx, "ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	}
	return nil
}

// deleteNetwork removes whatever of the lab's network exists.
func deleteNetwork(ctx context.Context, s *Settings) error {
	var errs []error
	for _, n := range NodeNames {
		if netnsExists(s.Namespace(n)) {
			if _, err := ipCmd(ctx, "netns", "del", s.Namespace(n)); err != nil {
				errs = append(errs, err)
			}
		}
		// Deleting the namespace deletes its veth end and so the pair; this
		// catches a half-made pair from an interrupted up.
		for _, l := range []string{s.HostVeth(n), s.nodeVeth(n)} {
			if linkExists(l) {
				if _, err := ipCmd(ctx, "link", "del", l); err != nil && linkExists(l) {
					errs = append(errs, err)
				}
			}
		}
	}
	if linkExists(s.Bridge()) {
		if _, err := ipCmd(ctx, "link", "del", s.Bridge()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// setLink sets the host end of node n's cable up or down: pulling the cable.
func setLink(ctx context.Context, s *Settings, n string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := ipCmd(ctx, "link", "set", s.HostVeth(n), state)
	return err
}

// linkUp reports whether the host end of node n's cable is up.
func linkUp(s *Settings, n string) bool {
	b, err := os.ReadFile("/sys/class/net/" + s.HostVeth(n) + "/flags")
	if err != nil {
		return false
	}
	var flags uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "0x%x", &flags); err != nil {
		return false
	}
	return flags&1 != 0 // IFF_UP
}

// holdsVIP reports whether node n has the VIP on its eth0, where
// keepalived puts it (on lo it is a switchover's bridge for a moment).
func holdsVIP(ctx context.Context, s *Settings, n string) (bool, error) {
	out, err := ipCmd(ctx, "-n", s.Namespace(n), "-j", "-4", "addr", "show", "dev", "eth0")
	if err != nil {
		return false, err
	}
	return bytes.Contains(out, []byte(`"local":"`+s.VIP().String()+`"`)), nil
}

// dropVIP removes a leftover VIP from node n, as a reboot would.
func dropVIP(ctx context.Context, s *Settings, n string) error {
	has, err := holdsVIP(ctx, s, n)
	if err != nil || !has {
		return err
	}
	_, err = ipCmd(ctx, "-n", s.Namespace(n), "addr", "del", netip.PrefixFrom(s.VIP(), s.Subnet.Bits()).String(), "dev", "eth0")
	return err
}
