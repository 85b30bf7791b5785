package switchover

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"
)

// When keepalived drops the VIP here (the drain), the target adds it only
// after its skew time, (256 - priority)/256 of advert_int, and clients
// learn its MAC from its gratuitous ARP. Packets that reach this node in
// that gap are dropped: no address here owns them any more. A client whose
// request is dropped learns nothing until TCP retransmits it, 200 ms at the
// soonest, which made the gap, a dozen milliseconds, cost every planned
// switchover 200 ms of writes.
//
// The bridge closes the gap: the VIP, as a host address on the loopback
// device, for a moment. While it is there, this node's kernel still takes
// packets sent to the VIP: they reach the local Redis, a replica by then,
// which answers READONLY at once, and the client retries until the target's
// ARP announcement sends it there. keepalived never manages addresses on
// loopback and never announces them, and Held ignores them. The bridge is
// added before the Redis step (off the path writes wait on) with a kernel
// lifetime, so it goes away by itself even if this process dies, and it is
// removed once the target has had time to take the VIP.

// Bridger holds the VIP on this node past the drain; nil means no bridge.
type Bridger interface {
	Bridge(lifetime time.Duration) error
	Unbridge() error
}

// LoopbackBridge is the Bridger of a real node: `ip addr` on lo.
type LoopbackBridge struct {
	VIP netip.Addr
}

func (b LoopbackBridge) prefix() string {
	bits := 32
	if b.VIP.Is6() {
		bits = 128
	}
	return netip.PrefixFrom(b.VIP, bits).String()
}

// Bridge adds the VIP to lo for at most lifetime (whole seconds, at least
// one: the kernel's granularity). An address that is already there (a
// bridge of an earlier run still alive) has its lifetime renewed.
func (b LoopbackBridge) Bridge(lifetime time.Duration) error {
	secs := max(int((lifetime+time.Second-1)/time.Second), 1)
	args := []string{"addr", "replace", b.prefix(), "dev", "lo", "valid_lft", fmt.Sprint(secs), "preferred_lft", "0"}
	if b.VIP.Is6() {
		args = append(args, "nodad")
	}
	return ip(args...)
}

// Unbridge removes the VIP from lo; an address already gone is no error.
func (b LoopbackBridge) Unbridge() error {
	err := ip("addr", "del", b.prefix(), "dev", "lo")
	if err != nil && (strings.Contains(err.Error(), "Address not found") || strings.Contains(err.Error(), "Cannot assign requested address")) {
		return nil
	}
	return err
}

// ipPaths are where iproute2 installs ip. The hooks run as root: the
// command is taken from these, never from $PATH.
var ipPaths = []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}

func ip(args ...string) error {
	bin := ""
	for _, p := range ipPaths {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			bin = p
			break
		}
	}
	if bin == "" {
		return fmt.Errorf("no ip command (iproute2) in %s", strings.Join(ipPaths, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// bridgeHold is how long the bridge stays after the VIP left this node:
// the target's skew time, then a margin for its keepalived to add the
// address and announce it, and for the announcement to reach clients.
func bridgeHold(advertInt time.Duration, targetPriority int) time.Duration {
	const margin = 40 * time.Millisecond
	return time.Duration(256-targetPriority)*advertInt/256 + margin
}
