// Package loadcheck is a write-load checker for a Redis behind a VIP: it
// writes sequential keys at a steady rate, each write with a short timeout,
// remembers every write Redis acknowledged, and afterwards reads them back
// from the final master to count acknowledged writes lost and the longest
// window in which writes failed. It is how the lab proves a failover lost
// nothing (or how much).
package loadcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var quiet sync.Once

// QuietRedisLog silences go-redis's own logger, which otherwise prints every
// failed dial to stderr: during a failover that is hundreds of lines, and
// the checker records each failure itself.
func QuietRedisLog() {
	quiet.Do(func() { redis.SetLogger(nopLogger{}) })
}

type nopLogger struct{}

func (nopLogger) Printf(context.Context, string, ...any) {}

// Options configure a load run.
type Options struct {
	// Addr is host:port of the Redis to write to (the VIP).
	Addr string
	// Interval between write attempts (default 5ms).
	Interval time.Duration
	// Timeout bounds each write (default 200ms): a client that waits longer
	// than this counts the write as failed, acknowledged or not.
	Timeout time.Duration
	// Prefix starts every key (default "loadcheck:<start time>:").
	Prefix string
	// Dialer, when set, opens the client's connections (e.g. from inside
	// a lab node's network namespace: a client on that side of a partition).
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Write is one acknowledged write.
type Write struct {
	Seq int64
	// At is when the acknowledgement arrived.
	At time.Time
}

// Outage is a run of failed writes between two acknowledged ones.
type Outage struct {
	// Start is when the first failed write was sent.
	Start time.Time
	// End is when the next acknowledged write arrived (zero if none did).
	End time.Time
	// Failed is how many attempts failed in it.
	Failed int
	// FirstErr is the first failed write's error.
	FirstErr string
}

// Duration is how long writes were unavailable.
func (o Outage) Duration() time.Duration {
	if o.End.IsZero() {
		return 0
	}
	return o.End.Sub(o.Start)
}

// Run is a load run in progress.
type Run struct {
	opts   Options
	client *redis.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	acked    []Write
	attempts int64
	failed   int64
	outages  []Outage
	cur      *Outage
}

// Start begins writing; call Stop to end the run.
func Start(ctx context.Context, opts Options) *Run {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.Prefix == "" {
		opts.Prefix = fmt.Sprintf("loadcheck:%d:", time.Now().UnixNano())
	}
	QuietRedisLog()
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{
		opts:   opts,
		client: newClient(opts.Addr, opts.Timeout, opts.Dialer),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go r.loop(ctx)
	return r
}

// NewClient returns a go-redis client that tries each command exactly once
// within timeout: no retries, one connection, no client-side pipelining,
// so an acknowledgement means this one write was applied by the server.
func NewClient(addr string, timeout time.Duration) *redis.Client {
	return newClient(addr, timeout, nil)
}

func newClient(addr string, timeout time.Duration, dialer func(context.Context, string, string) (net.Conn, error)) *redis.Client {
	return redis.NewClient(&redis.Options{
		Dialer:                dialer,
		Addr:                  addr,
		Protocol:              2,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              1,
		PoolTimeout:           timeout,
		DisableIdentity:       true,
	})
}

func (r *Run) key(seq int64) string { return r.opts.Prefix + formatSeq(seq) }

func formatSeq(seq int64) string { return strconv.FormatInt(seq, 10) }

func (r *Run) loop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	var seq int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seq++
		sent := time.Now()
		wctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		err := r.client.Set(wctx, r.key(seq), seq, 0).Err()
		cancel()
		if ctx.Err() != nil && err != nil {
			// Stopped mid-write: neither acknowledged nor a failure.
			return
		}
		r.record(seq, sent, time.Now(), err)
		if err != nil {
			// A fresh client after every failure: go-redis's pool, once a
			// dial fails, refuses new dials and retries only once a second
			// in the background, which would add up to a second of outage
			// that is the client's, not the pair's.
			r.client.Close()
			r.client = newClient(r.opts.Addr, r.opts.Timeout, r.opts.Dialer)
		}
	}
}

func (r *Run) record(seq int64, sent, at time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if err != nil {
		r.failed++
		if r.cur == nil {
			r.cur = &Outage{Start: sent, FirstErr: err.Error()}
		}
		r.cur.Failed++
		return
	}
	r.acked = append(r.acked, Write{Seq: seq, At: at})
	if r.cur != nil {
		r.cur.End = at
		r.outages = append(r.outages, *r.cur)
		r.cur = nil
	}
}

// Acked returns how many writes were acknowledged so far.
func (r *Run) Acked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.acked)
}

// WaitAcked waits until n more writes than now have been acknowledged, so a
// test knows writes flow again before it moves on.
func (r *Run) WaitAcked(ctx context.Context, n int, timeout time.Duration) error {
	want := r.Acked() + n
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for r.Acked() < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("writes through %s: fewer than %d acknowledged in %s", r.opts.Addr, n, timeout)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Stop ends the run and returns what it saw. Verify then checks it.
func (r *Run) Stop() *Result {
	r.cancel()
	<-r.done
	r.client.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{
		Prefix:   r.opts.Prefix,
		Attempts: r.attempts,
		Failed:   r.failed,
		Acked:    append([]Write(nil), r.acked...),
		Outages:  append([]Outage(nil), r.outages...),
	}
	if r.cur != nil {
		res.Outages = append(res.Outages, *r.cur)
	}
	return res
}

// Result is a finished run.
type Result struct {
	Prefix   string
	Attempts int64
	Failed   int64
	Acked    []Write
	Outages  []Outage
	// Lost lists the acknowledged writes the final master does not have
	// (filled by Verify).
	Lost []Write
	// Verified is true once Verify has read every acknowledged key back.
	Verified bool
}

// Longest returns the longest window of failed writes that ended with an
// acknowledged write, and whether the run ended inside an unfinished one.
func (r *Result) Longest() (longest Outage, unfinished bool) {
	for _, o := range r.Outages {
		if o.End.IsZero() {
			unfinished = true
			continue
		}
		if o.Duration() > longest.Duration() {
			longest = o
		}
	}
	return longest, unfinished
}

// Verify reads every acknowledged key back from addr (the final master)
// and records the ones missing or wrong as lost.
func (r *Result) Verify(ctx context.Context, addr string) error {
	c := NewClient(addr, 2*time.Second)
	defer c.Close()
	r.Lost = nil
	const batch = 500
	for i := 0; i < len(r.Acked); i += batch {
		end := min(i+batch, len(r.Acked))
		keys := make([]string, 0, end-i)
		for _, w := range r.Acked[i:end] {
			keys = append(keys, r.Prefix+strconv.FormatInt(w.Seq, 10))
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			return fmt.Errorf("read back acknowledged writes from %s: %w", addr, err)
		}
		for j, v := range vals {
			w := r.Acked[i+j]
			if s, ok := v.(string); !ok || s != strconv.FormatInt(w.Seq, 10) {
				r.Lost = append(r.Lost, w)
			}
		}
	}
	r.Verified = true
	return nil
}

// Cleanup deletes the run's keys from addr, so repeated runs do not grow the
// data set.
func (r *Result) Cleanup(ctx context.Context, addr string) error {
	c := NewClient(addr, 2*time.Second)
	defer c.Close()
	const batch = 500
	var errs []error
	for i := int64(1); i <= r.Attempts; i += batch {
		keys := make([]string, 0, batch)
		for s := i; s < i+batch && s <= r.Attempts; s++ {
			keys = append(keys, r.Prefix+strconv.FormatInt(s, 10))
		}
		if err := c.Del(ctx, keys...).Err(); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// Summary is a one-line account of the run.
func (r *Result) Summary() string {
	l, unfinished := r.Longest()
	s := fmt.Sprintf("%d writes attempted, %d acknowledged, %d failed; longest outage %s (%d failed writes)",
		r.Attempts, len(r.Acked), r.Failed, l.Duration().Round(time.Millisecond), l.Failed)
	if unfinished {
		s += "; writes were still failing at the end"
	}
	if r.Verified {
		s += fmt.Sprintf("; %d acknowledged writes lost", len(r.Lost))
	}
	return s
}
