package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// syslogSocket is where the lab's syslogd for node n listens: the node's
// /dev/log, or on a journal-only node the socket its journald forwards to
// (/run/systemd/journal/syslog in journald's mount namespace).
func (s *Settings) syslogSocket(n string) string {
	if s.journalOnly(n) {
		return filepath.Join(s.journalRun(n), "syslog")
	}
	return filepath.Join(s.NodeDir(n), "syslog.sock")
}

// Syslogd receives datagrams on the unix socket sock (bind-mounted as the
// node's /dev/log) and appends them to file in the usual syslog layout,
// "Nov 26 00:11:55 a Keepalived_vrrp[123]: message", with host as the host
// name. It returns when ctx ends.
func Syslogd(ctx context.Context, sock, file, host string) error {
	_ = os.Remove(sock)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("syslogd: listen on %s: %w", sock, err)
	}
	defer conn.Close()
	defer os.Remove(sock)
	if err := os.Chmod(sock, 0o666); err != nil {
		return fmt.Errorf("syslogd: %w", err)
	}
	out, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("syslogd: %w", err)
	}
	defer out.Close()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("syslogd: read: %w", err)
		}
		line := FormatSyslog(string(buf[:n]), host, time.Now())
		if _, err := out.WriteString(line); err != nil {
			return fmt.Errorf("syslogd: write %s: %w", file, err)
		}
	}
}

// FormatSyslog turns one datagram as glibc's syslog(3) or Go's log/syslog
// send it to /dev/log ("<PRI>Mmm dd hh:mm:ss tag[pid]: msg", the timestamp
// sometimes missing) into a syslog file line with host inserted. The sender's
// timestamp is kept when present, so lines read as on a real host.
func FormatSyslog(msg, host string, now time.Time) string {
	msg = strings.TrimRight(msg, "\x00\r\n")
	if strings.HasPrefix(msg, "<") {
		if i := strings.IndexByte(msg, '>'); i > 0 && i <= 4 {
			msg = msg[i+1:]
		}
	}
	stamp := now.Format(time.Stamp)
	if len(msg) >= len(time.Stamp) {
		if _, err := time.Parse(time.Stamp, msg[:len(time.Stamp)]); err == nil {
			stamp = msg[:len(time.Stamp)]
			msg = strings.TrimPrefix(msg[len(time.Stamp):], " ")
		}
	}
	// One record, one line, whatever the sender put in it.
	msg = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)
	return stamp + " " + host + " " + msg + "\n"
}

// startSyslogd runs `redkeep lab syslogd` for node n in the root namespace
// and waits for its socket.
func (s *Settings) startSyslogd(ctx context.Context, n string) error {
	if s.running(n, procSyslogd) > 0 {
		return nil
	}
	sock := s.syslogSocket(n)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		return err
	}
	_ = os.Remove(sock)
	argv := []string{s.labBinary(), "lab", "syslogd", "--socket", sock, "--file", s.Syslog(n), "--host", n}
	if _, err := s.startProc(n, procSyslogd, argv); err != nil {
		return err
	}
	return waitFor(ctx, 5*time.Second, fmt.Sprintf("node %s: syslogd socket %s", n, sock), func() (bool, error) {
		fi, err := os.Stat(sock)
		return err == nil && fi.Mode()&os.ModeSocket != 0, nil
	})
}

// waitFor polls cond every 50ms until it holds, fails, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: gave up after %s: %w", what, timeout, last)
			}
			return fmt.Errorf("waiting for %s: gave up after %s", what, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
