package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/internal/loadcheck"
)

// SoakOptions tune Soak: how long, and how hard both nodes are loaded.
type SoakOptions struct {
	Duration time.Duration
	// CPUWorkers is the number of stress-ng CPU workers started inside each
	// node's namespace (0: no CPU stress).
	CPUWorkers int
	// NetRate is the rate, in bits per second, of the token-bucket shaper
	// (tbf) on both ends of each node's link (0: no network stress).
	NetRate int64
	// NetLatency bounds how long a packet may wait in a shaper's queue
	// before tbf drops it: the delay and jitter a flood can add.
	NetLatency time.Duration
	// Flood is the rate of the UDP flood from the host to each node, as a
	// fraction of NetRate, sent in bursts so the shapers' queues swing
	// between empty and full.
	Flood float64
	// Log receives progress lines; may be nil.
	Log func(format string, args ...any)
}

// SoakResult is what a soak saw.
type SoakResult struct {
	Timing   Timing
	Duration time.Duration
	// Transitions are the keepalived state changes (Entering ... STATE)
	// logged on either node during the soak, "node: line".
	Transitions []string
	// CheckFailures are the check runs keepalived saw fail or time out.
	CheckFailures []string
	// Load is the write load's verified result.
	Load *loadcheck.Result
	// RTT is the spread of TCP connect times from the host to node b's
	// Redis, measured every 50 ms: what the network stress did to a
	// packet's trip. Probes that failed are counted in RTTFailed.
	RTT       []time.Duration
	RTTFailed int
}

// Passed reports whether the soak saw no transition, no failed write
// that stayed failed, and no acknowledged write lost.
func (r *SoakResult) Passed() bool {
	return len(r.Transitions) == 0 && r.Load != nil && r.Load.Verified && len(r.Load.Lost) == 0
}

// Print writes the soak's report.
func (r *SoakResult) Print(w io.Writer) {
	fmt.Fprintf(w, "soak of %s with %s\n", r.Duration.Round(time.Second), r.Timing)
	if len(r.RTT) > 0 {
		rtt := slices.Clone(r.RTT)
		slices.Sort(rtt)
		q := func(p float64) time.Duration { return rtt[int(float64(len(rtt)-1)*p)] }
		fmt.Fprintf(w, "host -> b TCP connect: %d probes, median %s, p99 %s, max %s, %d failed\n",
			len(rtt)+r.RTTFailed, q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), rtt[len(rtt)-1].Round(10*time.Microsecond), r.RTTFailed)
	}
	if r.Load != nil {
		fmt.Fprintf(w, "write load: %s\n", r.Load.Summary())
	}
	fmt.Fprintf(w, "check runs failed or timed out: %d\n", len(r.CheckFailures))
	for _, l := range r.CheckFailures {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "keepalived transitions while nothing failed: %d\n", len(r.Transitions))
	for _, l := range r.Transitions {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// Soak runs the lab for o.Duration with nothing failing, under CPU stress
// on both nodes and network stress on their links, with a write load
// through the VIP, and reports every keepalived transition: on a pair
// where nothing failed, each one is a false failover.
//
// The network stress is a token-bucket shaper on both ends of each
// node's link and a bursty UDP flood from the host into both nodes, so
// VRRP adverts wait behind it (delay and jitter up to NetLatency) and are
// sometimes dropped with it. (tc netem, the obvious tool for delay and
// jitter, needs sch_netem, which not every kernel has.)
func (l *Lab) Soak(ctx context.Context, o SoakOptions) (*SoakResult, error) {
	if o.Duration <= 0 {
		return nil, errors.New("soak: the duration must be positive")
	}
	if o.NetRate > 0 && (o.NetLatency <= 0 || o.Flood < 0 || o.Flood > 10) {
		return nil, fmt.Errorf("soak: network stress needs a positive queue latency and a flood of 0-10 x the rate (got %s, %g)", o.NetLatency, o.Flood)
	}
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &l.S
	res := &SoakResult{Timing: s.timing(), Duration: o.Duration}
	if _, err := l.WaitHealthy(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	offsets := map[string]int64{}
	for _, n := range NodeNames {
		fi, err := os.Stat(s.Syslog(n))
		if err != nil {
			return nil, fmt.Errorf("soak: node %s's syslog: %w", n, err)
		}
		offsets[n] = fi.Size()
	}

	sctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if o.NetRate > 0 {
		undo, err := l.shape(ctx, o.NetRate, o.NetLatency)
		defer undo()
		if err != nil {
			return nil, err
		}
		logf("links shaped to %d bit/s, queues of at most %s", o.NetRate, o.NetLatency)
		if o.Flood > 0 {
			for _, n := range NodeNames {
				conn, err := net.Dial("udp", net.JoinHostPort(s.NodeAddr(n).String(), "9"))
				if err != nil {
					return nil, fmt.Errorf("soak: flood socket to %s: %w", n, err)
				}
				defer conn.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					flood(sctx, conn, int64(float64(o.NetRate)*o.Flood))
				}()
			}
			logf("UDP flood into both nodes at %.0f%% of the shaped rate", o.Flood*100)
		}
	}
	if o.CPUWorkers > 0 {
		for _, n := range NodeNames {
			stop, err := l.stressCPU(n, o.CPUWorkers, o.Duration)
			if err != nil {
				return nil, err
			}
			defer stop()
		}
		logf("stress-ng: %d CPU workers in each node", o.CPUWorkers)
	}
	var rtt []time.Duration
	var rttFailed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		rtt, rttFailed = probeRTT(sctx, net.JoinHostPort(s.NodeAddr("b").String(), strconv.Itoa(RedisPort)))
	}()
	run := loadcheck.Start(ctx, loadcheck.Options{Addr: redisAddr(s.VIP())})
	logf("soaking for %s (%s)", o.Duration, res.Timing)
	<-sctx.Done()
	res.Load = run.Stop()
	cancel()
	wg.Wait()
	res.RTT, res.RTTFailed = rtt, rttFailed
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for _, n := range NodeNames {
		trans, checks, err := soakLines(s.Syslog(n), offsets[n])
		if err != nil {
			return res, err
		}
		for _, t := range trans {
			res.Transitions = append(res.Transitions, n+": "+t)
		}
		for _, c := range checks {
			res.CheckFailures = append(res.CheckFailures, n+": "+c)
		}
	}
	if _, err := l.verifyOnHolder(ctx, res.Load); err != nil {
		return res, err
	}
	return res, nil
}

// soakLines returns the keepalived state changes and failed check runs in
// a node's syslog from offset on.
func soakLines(path string, offset int64) (transitions, checks []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "Keepalived_vrrp") {
			continue
		}
		switch {
		case strings.Contains(line, "Entering") && strings.Contains(line, "STATE"):
			transitions = append(transitions, line)
		case strings.Contains(line, "VRRP_Script") && (strings.Contains(line, "timed_out") || strings.Contains(line, "failed")):
			checks = append(checks, line)
		}
	}
	return transitions, checks, sc.Err()
}

// shape puts a token-bucket filter on both ends of each node's link and
// returns what removes them.
func (l *Lab) shape(ctx context.Context, rate int64, latency time.Duration) (undo func(), err error) {
	s := &l.S
	type dev struct{ ns, name string }
	var done []dev
	undo = func() {
		for _, d := range done {
			args := []string{"qdisc", "del", "dev", d.name, "root"}
			if d.ns != "" {
				args = append([]string{"-n", d.ns}, args...)
			}
			_, _ = runCmd(context.WithoutCancel(ctx), "tc", args...)
		}
	}
	// A burst of 10 full frames: enough for the rate at HZ=1000, small
	// enough that the queue, not the bucket, absorbs a flood.
	tbf := []string{"root", "tbf", "rate", strconv.FormatInt(rate, 10) + "bit", "burst", "15000", "latency", strconv.FormatInt(latency.Microseconds(), 10) + "us"}
	for _, n := range NodeNames {
		for _, d := range []dev{{"", s.HostVeth(n)}, {s.Namespace(n), "eth0"}} {
			args := append([]string{"qdisc", "replace", "dev", d.name}, tbf...)
			if d.ns != "" {
				args = append([]string{"-n", d.ns}, args...)
			}
			if _, err := runCmd(ctx, "tc", args...); err != nil {
				return undo, fmt.Errorf("soak: shape node %s's link: %w", n, err)
			}
			done = append(done, d)
		}
	}
	return undo, nil
}

// flood sends 1400-byte UDP datagrams on conn at rate bits per second, in
// bursts of 20 ms, until ctx ends.
func flood(ctx context.Context, conn net.Conn, rate int64) {
	const size = 1400
	const period = 20 * time.Millisecond
	perBurst := max(int(rate*int64(period)/int64(time.Second)/(8*size)), 1)
	buf := make([]byte, size)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		for range perBurst {
			// Errors are expected: the ICMP port unreachable a node sends
			// back shows up as ECONNREFUSED on the next write.
			_, _ = conn.Write(buf)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probeRTT times a TCP connect to addr every 50 ms until ctx ends.
func probeRTT(ctx context.Context, addr string) (rtt []time.Duration, failed int) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return rtt, failed
		case <-t.C:
		}
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if ctx.Err() == nil {
				failed++
			}
			continue
		}
		rtt = append(rtt, time.Since(start))
		c.Close()
	}
}

// stressCPU starts stress-ng's CPU workers inside node n's namespace for
// at most d, and returns what stops them early.
func (l *Lab) stressCPU(n string, workers int, d time.Duration) (stop func(), err error) {
	bin, err := exec.LookPath("stress-ng")
	if err != nil {
		return func() {}, errors.New("soak: stress-ng is not installed (apt-get install stress-ng; scripts/setup installs it)")
	}
	cmd := exec.Command("ip", "netns", "exec", l.S.Namespace(n), bin, "--cpu", strconv.Itoa(workers),
		"--timeout", strconv.Itoa(int(d.Seconds())+1)+"s", "--quiet")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return func() {}, fmt.Errorf("soak: start stress-ng in %s: %w", n, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return func() {
		select {
		case <-done:
			return
		default:
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}, nil
}
