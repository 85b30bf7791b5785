package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ExecStreamer is a Streamer that runs commands on this machine with
// `sh -c`: for a node that is this machine, for the lab (with Prefix
// "ip netns exec NS"), and for tests.
type ExecStreamer struct {
	// Prefix is run in front of "sh -c CMD", e.g. {"ip", "netns", "exec", "lab-a"}.
	Prefix []string
}

// Stream implements Streamer. The command runs in its own process group,
// which is killed when the stream is closed or ctx ends, so nothing it
// started outlives the stream.
func (e ExecStreamer) Stream(ctx context.Context, cmd string) (io.ReadCloser, error) {
	argv := append(append([]string{}, e.Prefix...), "sh", "-c", cmd)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return killGroup(c) }
	c.WaitDelay = 2 * time.Second
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", cmd, err)
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("run %q: %w", cmd, err)
	}
	return &execStream{cmd: c, r: stdout}, nil
}

type execStream struct {
	cmd  *exec.Cmd
	r    io.Reader
	once sync.Once
	err  error
}

func (s *execStream) Read(p []byte) (int, error) { return s.r.Read(p) }

// Close kills the command's process group and reaps it.
func (s *execStream) Close() error {
	s.once.Do(func() {
		killGroup(s.cmd)
		err := s.cmd.Wait()
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			s.err = err
		}
	})
	return s.err
}

func killGroup(c *exec.Cmd) error {
	if c.Process == nil {
		return nil
	}
	if err := syscall.Kill(-c.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
