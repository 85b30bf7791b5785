package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redkeep/redkeep/config"
	"github.com/redkeep/redkeep/internal/human"
	"github.com/redkeep/redkeep/internal/nodefile"
	"github.com/redkeep/redkeep/internal/termsafe"
	"github.com/redkeep/redkeep/wire"
)

// Deliverer is `redkeep hook deliver`: it sends the spooled events to
// notify.command and notify.webhook, one at a time, oldest first.
type Deliverer struct {
	Cfg *config.Config
	// Logf logs a step; failed marks a failure.
	Logf func(failed bool, format string, args ...any)
	// TrustFile refuses a notify.webhook_file that someone other than root
	// could change (the hooks' rule 11 check, when running as root); nil
	// accepts any.
	TrustFile func(path string) error
}

// maxRounds bounds how often a deliverer takes its lock again for events
// queued while it was releasing it.
const maxRounds = 4

// Run delivers until the spool is empty. When another deliverer holds the
// node's deliver lock it returns at once: that one delivers what is queued.
func (d *Deliverer) Run(ctx context.Context) error {
	dir := SpoolDir(d.Cfg)
	for range maxRounds {
		l, err := tryLock(filepath.Join(dir, ".lock"))
		if errors.Is(err, errBusy) {
			return nil
		}
		if err != nil {
			return err
		}
		for {
			names, err := spooled(dir)
			if err != nil || len(names) == 0 {
				break
			}
			for _, n := range names {
				d.deliverFile(ctx, filepath.Join(dir, n))
			}
		}
		l.unlock()
		// An event queued after the last listing found the lock held and
		// left it to this deliverer: look once more.
		if names, err := spooled(dir); err != nil || len(names) == 0 {
			return err
		}
	}
	return nil
}

// deliverFile delivers one spooled event and removes its file whatever
// happens: each event is tried once.
func (d *Deliverer) deliverFile(ctx context.Context, path string) {
	data, err := nodefile.Read(path)
	_ = os.Remove(path)
	if err != nil {
		d.count(false, fmt.Sprintf("spooled event %s: %v", filepath.Base(path), err))
		return
	}
	ev, err := wire.ParseEvent(bytes.TrimSpace(data))
	if err != nil {
		d.count(false, fmt.Sprintf("spooled event %s: %v", filepath.Base(path), err))
		return
	}
	d.Deliver(ctx, ev)
}

// Deliver sends one event to every configured channel at once, each
// bounded by notify.timeout, and counts and logs each outcome.
func (d *Deliverer) Deliver(ctx context.Context, ev wire.Event) {
	n := d.Cfg.Notify
	var wg sync.WaitGroup
	if len(n.Command) > 0 {
		wg.Go(func() {
			start := time.Now()
			err := RunCommand(ctx, n.Command, n.Timeout, ev)
			d.outcome(ev, "command "+n.Command[0], start, err)
		})
	}
	if n.Webhook != "" || n.WebhookFile != "" {
		wg.Go(func() {
			start := time.Now()
			url, err := d.webhookURL()
			if err == nil {
				err = PostWebhook(ctx, url, n.Timeout, ev)
			}
			d.outcome(ev, "webhook", start, err)
		})
	}
	wg.Wait()
}

func (d *Deliverer) outcome(ev wire.Event, what string, start time.Time, err error) {
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		d.count(false, fmt.Sprintf("notify %s: %s event of %s: failed after %s: %v", what, ev.Event, ev.Time.Format(wire.EventTimeLayout), took, err))
		return
	}
	d.count(true, fmt.Sprintf("notify %s: %s event of %s delivered in %s", what, ev.Event, ev.Time.Format(wire.EventTimeLayout), took))
}

func (d *Deliverer) count(ok bool, msg string) {
	if d.Logf != nil {
		d.Logf(!ok, "%s", msg)
	}
	err := updateStats(d.Cfg, func(s *Stats) {
		if ok {
			s.Delivered++
			s.LastDelivered = time.Now()
			return
		}
		s.Failed++
		s.LastError, s.LastErrorTime = msg, time.Now()
	})
	if err != nil && d.Logf != nil {
		d.Logf(true, "notify: cannot count the delivery: %v", err)
	}
}

// webhookURL is notify.webhook, or the URL held in notify.webhook_file.
func (d *Deliverer) webhookURL() (string, error) {
	n := d.Cfg.Notify
	if n.WebhookFile == "" {
		return n.Webhook, nil
	}
	if d.TrustFile != nil {
		if err := d.TrustFile(n.WebhookFile); err != nil {
			return "", fmt.Errorf("notify.webhook_file: %w", err)
		}
	}
	data, err := nodefile.Read(n.WebhookFile)
	if err != nil {
		return "", fmt.Errorf("notify.webhook_file: %w", err)
	}
	u := strings.TrimSpace(string(data))
	if err := config.CheckWebhook(u); err != nil {
		return "", fmt.Errorf("notify.webhook_file %s: %w", n.WebhookFile, err)
	}
	return u, nil
}

// Text is the event as one line for people: a chat message, a page.
func Text(ev wire.Event) string {
	e := ev
	e.Time = e.Time.UTC()
	return termsafe.Clean("redkeep: " + strings.Join(strings.Fields(e.String()), " "))
}

// Env is the event as REDKEEP_* environment variables for notify.command,
// each value cleaned to printable text.
func Env(ev wire.Event) []string {
	vars := []struct{ k, v string }{
		{"EVENT", ev.Event}, {"NODE", ev.Node}, {"TIME", ev.Time.Format(wire.EventTimeLayout)},
		{"FROM", ev.From}, {"TO", ev.To}, {"RESULT", ev.Result},
		{"WRITES_PAUSED_MS", strconv.FormatInt(ev.WritesPausedMS, 10)}, {"VIP_MOVED_MS", strconv.FormatInt(ev.VIPMovedMS, 10)},
		{"TOTAL_MS", strconv.FormatInt(ev.TotalMS, 10)},
		{"OPERATOR", ev.Operator}, {"REASON", ev.Reason}, {"DETAIL", ev.Detail}, {"TEXT", Text(ev)},
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	for _, v := range vars {
		env = append(env, "REDKEEP_"+v.k+"="+termsafe.Clean(v.v))
	}
	return env
}

// maxOutput caps what is kept of a command's output or a receiver's reply
// for the log.
const maxOutput = 512

// RunCommand runs argv once with the event as JSON on stdin and as REDKEEP_*
// variables (and only those, with a fixed PATH), no shell, in its own
// process group, killed with its children at timeout.
func RunCommand(ctx context.Context, argv []string, timeout time.Duration, ev wire.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(append(body, '\n'))
	cmd.Env = Env(ev)
	cmd.Dir = "/"
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("no exit within %s: killed", timeout)
	case err != nil:
		if o := strings.TrimSpace(out.String()); o != "" {
			return fmt.Errorf("%v: %s", err, termsafe.Clean(o))
		}
		return err
	}
	return nil
}

// webhookBody is the event plus a Slack-compatible text field.
type webhookBody struct {
	wire.Event
	Text string `json:"text"`
}

// MarshalJSON keeps the event's fields (and its time layout) beside text.
func (b webhookBody) MarshalJSON() ([]byte, error) {
	ev, err := json.Marshal(b.Event)
	if err != nil {
		return nil, err
	}
	text, err := json.Marshal(b.Text)
	if err != nil {
		return nil, err
	}
	return append(append(append(ev[:len(ev)-1], `,"text":`...), text...), '}'), nil
}

// PostWebhook POSTs the event once as JSON with a "text" field; a reply
// other than 2xx, or none within timeout, is an error.
func PostWebhook(ctx context.Context, url string, timeout time.Duration, ev wire.Event) error {
	body, err := json.Marshal(webhookBody{Event: ev, Text: Text(ev)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %s", redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "redkeep")
	client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no reply within %s", timeout)
		}
		return fmt.Errorf("%s", redact(err))
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %s: %s", resp.Status, termsafe.Clean(human.Truncate(strings.TrimSpace(string(reply)), 200)))
	}
	return nil
}

// redact drops the URL from an HTTP error: it may hold a token.
func redact(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// tail keeps the last maxOutput bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > maxOutput {
		t.buf = t.buf[len(t.buf)-maxOutput:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.ToValidUTF8(string(t.buf), "")
}
