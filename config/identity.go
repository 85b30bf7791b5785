package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
)

// LocalNode decides which node this machine is: flag (--node) first, then
// $REDKEEP_NODE, then the node whose host is one of this machine's addresses.
func (c *Config) LocalNode(flag string) (*Node, error) {
	if flag != "" {
		n, err := c.Node(flag)
		if err != nil {
			return nil, fmt.Errorf("--node: %w", err)
		}
		return n, nil
	}
	if env := os.Getenv("REDKEEP_NODE"); env != "" {
		n, err := c.Node(env)
		if err != nil {
			return nil, fmt.Errorf("$REDKEEP_NODE: %w", err)
		}
		return n, nil
	}
	addrs, err := localAddrs()
	if err != nil {
		return nil, fmt.Errorf("identify node: %w", err)
	}
	var found []*Node
	for i := range c.Nodes {
		h, err := netip.ParseAddr(c.Nodes[i].Host)
		if err == nil && addrs[h] {
			found = append(found, &c.Nodes[i])
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("identify node: none of the hosts in %s is an address of this machine; pass --node or set $REDKEEP_NODE", c.Path)
	default:
		return nil, fmt.Errorf("identify node: both nodes' hosts are addresses of this machine; pass --node or set $REDKEEP_NODE")
	}
}

func localAddrs() (map[netip.Addr]bool, error) {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	m := map[netip.Addr]bool{}
	for _, a := range ifAddrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				m[ip.Unmap()] = true
			}
		}
	}
	return m, nil
}
