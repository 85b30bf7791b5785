// Package proc reads /proc for what redkeep must know of the processes on
// a node: whether keepalived runs in this network namespace, seen as root
// or as an unprivileged user.
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Running reports whether a process named name runs, like pgrep -x,
// reading proc (normally /proc). Zombies do not count (a keepalived killed
// with SIGKILL lingers as one until reaped), and neither do processes in
// another network namespace: on a host running several network namespaces
// (the lab), the other node's keepalived is not this node's.
//
// An unprivileged user (the console's SSH login) cannot read another user's
// /proc/PID/ns/net. Such a process counts when this network namespace has a
// VRRP socket open, which every user can see in /proc/net/raw: keepalived
// opens one for its VRRP instances, and a keepalived of another namespace
// cannot have opened one in this one.
func Running(proc, name string) bool {
	comms, err := filepath.Glob(filepath.Join(proc, "[0-9]*", "comm"))
	if err != nil {
		return false
	}
	selfNS, _ := os.Readlink(filepath.Join(proc, "self", "ns", "net"))
	for _, c := range comms {
		b, err := os.ReadFile(c)
		if err != nil || string(bytes.TrimSpace(b)) != name {
			continue
		}
		dir := filepath.Dir(c)
		if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err != nil || Zombie(stat) {
			continue
		}
		if selfNS != "" {
			ns, err := os.Readlink(filepath.Join(dir, "ns", "net"))
			switch {
			case errors.Is(err, fs.ErrPermission):
				if !vrrpSocketHere(proc) {
					continue
				}
			case err != nil || ns != selfNS:
				continue
			}
		}
		return true
	}
	return false
}

// vrrpSocketHere reports whether a raw socket for VRRP (IP protocol 112) or
// for VRRP with IPsec AH (51) is open in this network namespace, from
// proc/net/raw and raw6. Their local_address column ends with the protocol:
// "00000000:0070".
func vrrpSocketHere(proc string) bool {
	for _, table := range []string{"raw", "raw6"} {
		f, err := os.Open(filepath.Join(proc, "net", table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			_, hexProto, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexProto, 16, 16); ok && err == nil && (p == 112 || p == 51) {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

// Zombie reports whether a /proc/PID/stat line is a zombie's. The state
// follows the command name in parentheses, which may itself hold spaces or
// parentheses, so it is read after the last ')'.
func Zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	return stat[i+2] == 'Z' || stat[i+2] == 'X'
}
