package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redkeep/redkeep/internal/human"
)

// Where two histories part, and what one server wrote after that, is read
// from the server's own replication stream, the way a replica reads it
// (PSYNC), so a decision about diverged histories never has to guess from
// offsets alone. An isolated master's offset moves without any client
// write: while it still lists a replica it writes a PING into its stream
// every repl-ping-replica-period. Comparing offsets calls that a fork; the
// stream shows it is nothing.

// Divergence is where two servers' histories part.
type Divergence struct {
	// ReplID is the most recent history both hold.
	ReplID string `json:"replid"`
	// Fork is the first offset of ReplID that is not common to both: both
	// hold every byte before it.
	Fork int64 `json:"fork"`
}

// historyEnd is the offset one past the last byte of history id that in
// holds, and whether in holds id at all.
func historyEnd(in Info, id string) (int64, bool) {
	switch {
	case !validReplID(id):
		return 0, false
	case in.ReplID == id:
		return in.Offset() + 1, true
	case in.ReplID2 == id && in.SecondReplOffset > 0:
		// A promotion keeps the old history up to second_repl_offset-1.
		return in.SecondReplOffset, true
	}
	return 0, false
}

// Diverge finds the most recent history a and b share and the offset where
// they part. ok is false when they share none (a restart, or unrelated
// servers): then no byte of either is known to be common.
func Diverge(a, b Info) (d Divergence, ok bool) {
	for _, id := range []string{a.ReplID, a.ReplID2} {
		ea, oka := historyEnd(a, id)
		eb, okb := historyEnd(b, id)
		if !oka || !okb {
			continue
		}
		if f := min(ea, eb); !ok || f > d.Fork {
			d, ok = Divergence{ReplID: id, Fork: f}, true
		}
	}
	return d, ok
}

// TailBytes is how many bytes of in's stream lie past the divergence.
func (d Divergence) TailBytes(in Info) int64 {
	return max(0, in.Offset()-d.Fork+1)
}

// Tail is what one server's replication stream holds after a divergence:
// the bytes it has and the other server lacks.
type Tail struct {
	Divergence
	// RunID is the server whose stream was read.
	RunID string `json:"run_id"`
	// To is the last offset read: the server's offset when it was asked.
	To       int64 `json:"to"`
	Bytes    int64 `json:"bytes"`
	Commands int64 `json:"commands"`
	// Writes counts the commands that change data (anything but PING,
	// REPLCONF, SELECT and PUBLISH), WriteBytes their bytes.
	Writes     int64 `json:"writes"`
	WriteBytes int64 `json:"write_bytes"`
	// FirstWrite names the first data-changing command, for messages.
	FirstWrite string `json:"first_write,omitempty"`
}

// Clean reports whether the tail changes no data: following the other
// server loses nothing but PINGs.
func (t Tail) Clean() bool { return t.Writes == 0 }

// Covers reports whether t was read from server in (the same run) past
// divergence d and up to in's offset, so no byte of in is unaccounted for.
func (t Tail) Covers(in Info, d Divergence) bool {
	return t.RunID == in.RunID && t.Divergence == d && t.To >= in.Offset()
}

// String describes the tail for logs and messages.
func (t Tail) String() string {
	if t.Clean() {
		return fmt.Sprintf("%d bytes past offset %d, no data changes (%d commands: PINGs and the like)", t.Bytes, t.Fork-1, t.Commands)
	}
	commands := "data-changing commands"
	if t.Writes == 1 {
		commands = "data-changing command"
	}
	return fmt.Sprintf("%d bytes past offset %d with %d %s (%d bytes; first %s)", t.Bytes, t.Fork-1, t.Writes, commands, t.WriteBytes, t.FirstWrite)
}

// harmless are the commands a master writes into its stream that change no
// data: keepalives, acknowledgements, database selection (which only ever
// precedes a write), and pub/sub messages.
func harmless(name string) bool {
	switch strings.ToLower(name) {
	case "ping", "replconf", "select", "publish", "spublish":
		return true
	}
	return false
}

// Auth is how the stream reader logs in (AUTH [username] password); empty
// when Redis has no password.
type Auth struct {
	Username string
	Password string
}

// maxTailBytes bounds how much stream ReadTail reads: a backlog is 1 MiB by
// default and rarely above a few hundred.
const maxTailBytes = 1 << 30

// Limits of the RESP the stream reader accepts: more is a broken stream.
const (
	maxArgs   = 1 << 20
	maxBulk   = 512 << 20
	maxLine   = 1024
	nameBytes = 64
)

// ErrNotInBacklog marks a tail the server can no longer serve: its backlog
// no longer reaches back to the fork (or it would have to send everything).
var ErrNotInBacklog = errors.New("the server's replication backlog no longer holds that offset")

// CanReadTail reports whether in's backlog still holds the bytes past d,
// so that ReadTail gets them as a partial resync rather than making the
// server start a full one (a fork and an RDB for nobody).
func CanReadTail(in Info, d Divergence) error {
	switch {
	case in.ReplID != d.ReplID && !(in.ReplID2 == d.ReplID && d.Fork <= in.SecondReplOffset):
		return fmt.Errorf("%w: it does not hold history %s up to offset %d", ErrNotInBacklog, short(d.ReplID), d.Fork)
	case !in.BacklogActive:
		return fmt.Errorf("%w: it has no replication backlog", ErrNotInBacklog)
	case d.Fork < in.BacklogFirstByte || d.Fork > in.BacklogFirstByte+in.BacklogHistLen:
		return fmt.Errorf("%w: its backlog holds offsets %d..%d, the fork is at %d", ErrNotInBacklog, in.BacklogFirstByte, in.BacklogFirstByte+in.BacklogHistLen-1, d.Fork)
	}
	return nil
}

// ReadTail reads server in's replication stream past d up to in's offset,
// over conn (a connection to that server, which the caller closes), as a
// replica resuming at the fork would, and counts what it holds. The server
// logs it as a replica that connected and left.
func ReadTail(ctx context.Context, conn net.Conn, auth Auth, in Info, d Divergence) (Tail, error) {
	t := Tail{Divergence: d, RunID: in.RunID, To: in.Offset()}
	want := d.TailBytes(in)
	if want == 0 {
		return t, nil
	}
	if want > maxTailBytes {
		return t, fmt.Errorf("the tail past offset %d is %d bytes, more than the %d this reads", d.Fork-1, want, maxTailBytes)
	}
	if err := CanReadTail(in, d); err != nil {
		return t, err
	}
	s := newSession(ctx, conn)
	defer s.stop()
	if err := s.handshake(auth, "psync2"); err != nil {
		return t, s.fail(err)
	}
	reply, err := s.command("PSYNC", d.ReplID, strconv.FormatInt(d.Fork, 10))
	if err != nil {
		return t, s.fail(err)
	}
	if !strings.HasPrefix(reply, "+CONTINUE") {
		return t, s.fail(fmt.Errorf("%w: PSYNC %s %d answered %q", ErrNotInBacklog, short(d.ReplID), d.Fork, human.Abbrev(reply, 60)))
	}
	for t.Bytes < want {
		name, n, err := s.readCommand()
		if err != nil {
			return t, s.fail(fmt.Errorf("reading the stream at offset %d: %w", d.Fork+t.Bytes, err))
		}
		t.Bytes += n
		t.Commands++
		if !harmless(name) {
			if t.Writes == 0 {
				t.FirstWrite = strings.ToUpper(name)
			}
			t.Writes++
			t.WriteBytes += n
		}
	}
	if t.Bytes != want {
		return t, fmt.Errorf("the stream past offset %d ends %d bytes after the server's offset %d: not on a command boundary", d.Fork-1, t.Bytes-want, in.Offset())
	}
	return t, nil
}

// Snapshot describes an RDB that DumpRDB wrote.
type Snapshot struct {
	ReplID string `json:"replid"`
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
}

// DumpRDB asks the server behind conn for a full resynchronisation, as a new
// replica would, and copies the RDB it sends to w: the server's whole data
// set at Offset of ReplID, without touching its files (Redis sends it
// straight from a fork when diskless replication is on, after
// repl-diskless-sync-delay). It stops after limit bytes.
func DumpRDB(ctx context.Context, conn net.Conn, auth Auth, w io.Writer, limit int64) (Snapshot, error) {
	var snap Snapshot
	s := newSession(ctx, conn)
	defer s.stop()
	if err := s.handshake(auth, "eof", "psync2"); err != nil {
		return snap, s.fail(err)
	}
	reply, err := s.command("PSYNC", "?", "-1")
	if err != nil {
		return snap, s.fail(err)
	}
	f := strings.Fields(reply)
	if len(f) != 3 || f[0] != "+FULLRESYNC" {
		return snap, s.fail(fmt.Errorf("PSYNC ? -1 answered %q, want +FULLRESYNC", human.Abbrev(reply, 60)))
	}
	snap.ReplID = f[1]
	if snap.Offset, err = parseInt(f[2]); err != nil {
		return snap, s.fail(fmt.Errorf("PSYNC offset: %w", err))
	}
	// The server sends bare newlines while it prepares the RDB.
	var header string
	for header == "" {
		if header, err = s.line(); err != nil {
			return snap, s.fail(fmt.Errorf("waiting for the RDB: %w", err))
		}
	}
	switch {
	case strings.HasPrefix(header, "$EOF:"):
		mark := []byte(header[len("$EOF:"):])
		if len(mark) != 40 {
			return snap, fmt.Errorf("RDB header %q: want a 40-byte end mark", human.Abbrev(header, 60))
		}
		snap.Bytes, err = copyUntilMark(s.r, w, mark, limit)
	case strings.HasPrefix(header, "$"):
		var n int64
		if n, err = parseInt(header[1:]); err != nil || n < 0 {
			return snap, fmt.Errorf("RDB header %q: not a length", human.Abbrev(header, 60))
		}
		if n > limit {
			return snap, fmt.Errorf("the RDB is %d bytes, over the limit of %d", n, limit)
		}
		snap.Bytes, err = io.CopyN(w, s.r, n)
	default:
		return snap, fmt.Errorf("RDB header %q: want $<length> or $EOF:<mark>", human.Abbrev(header, 60))
	}
	if err != nil {
		return snap, s.fail(fmt.Errorf("copying the RDB after %d bytes: %w", snap.Bytes, err))
	}
	return snap, nil
}

// copyUntilMark copies r to w until the 40-byte end mark of a diskless
// transfer, which is not copied.
func copyUntilMark(r *bufio.Reader, w io.Writer, mark []byte, limit int64) (int64, error) {
	held := make([]byte, 0, 64<<10+len(mark))
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		held = append(held, buf[:k]...)
		if len(held) >= len(mark) && string(held[len(held)-len(mark):]) == string(mark) {
			body := held[:len(held)-len(mark)]
			if n+int64(len(body)) > limit {
				return n, fmt.Errorf("the RDB is over the limit of %d bytes", limit)
			}
			_, werr := w.Write(body)
			return n + int64(len(body)), werr
		}
		if out := len(held) - len(mark); out > 0 {
			if n+int64(out) > limit {
				return n, fmt.Errorf("the RDB is over the limit of %d bytes", limit)
			}
			if _, werr := w.Write(held[:out]); werr != nil {
				return n, werr
			}
			n += int64(out)
			held = append(held[:0], held[out:]...)
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
}

// session is one replication connection: RESP requests out, replies and
// the stream in, every read and write bounded by the context's deadline.
type session struct {
	ctx  context.Context
	conn net.Conn
	r    *bufio.Reader
	done chan struct{}
}

func newSession(ctx context.Context, conn net.Conn) *session {
	s := &session{ctx: ctx, conn: conn, r: bufio.NewReaderSize(conn, 64<<10), done: make(chan struct{})}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	// A context cancelled without a deadline still ends blocked reads.
	go func() {
		select {
		case <-ctx.Done():
			_ = conn.SetDeadline(time.Unix(1, 0))
		case <-s.done:
		}
	}()
	return s
}

func (s *session) stop() { close(s.done) }

// fail prefers the context's reason over the I/O error it caused.
func (s *session) fail(err error) error {
	if cerr := context.Cause(s.ctx); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// handshake logs in and announces the replica's capabilities.
func (s *session) handshake(auth Auth, capa ...string) error {
	if auth.Password != "" {
		args := []string{"AUTH", auth.Password}
		if auth.Username != "" {
			args = []string{"AUTH", auth.Username, auth.Password}
		}
		if reply, err := s.command(args...); err != nil {
			return err
		} else if reply != "+OK" {
			return fmt.Errorf("AUTH: %s", human.Abbrev(reply, 60))
		}
	}
	args := []string{"REPLCONF"}
	for _, c := range capa {
		args = append(args, "capa", c)
	}
	if reply, err := s.command(args...); err != nil {
		return err
	} else if reply != "+OK" {
		return fmt.Errorf("REPLCONF: %s", human.Abbrev(reply, 60))
	}
	return nil
}

// command sends one request and returns its one-line reply; an error reply
// is an error.
func (s *session) command(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(s.conn, b.String()); err != nil {
		return "", fmt.Errorf("%s: %w", args[0], err)
	}
	reply, err := s.line()
	if err != nil {
		return "", fmt.Errorf("%s: %w", args[0], err)
	}
	if strings.HasPrefix(reply, "-") {
		return "", fmt.Errorf("%s: %s", args[0], human.Abbrev(reply[1:], 60))
	}
	return reply, nil
}

// line reads one CRLF- or LF-terminated line of at most maxLine bytes.
func (s *session) line() (string, error) {
	var b []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		b = append(b, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
		if len(b) > maxLine {
			return "", fmt.Errorf("a line longer than %d bytes", maxLine)
		}
	}
	if len(b) > maxLine {
		return "", fmt.Errorf("a line longer than %d bytes", maxLine)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readCommand reads one command of the stream (a RESP array of bulk
// strings) and returns its name and size in bytes. Arguments are skipped,
// not kept: a stream may carry values of hundreds of megabytes.
func (s *session) readCommand() (name string, n int64, err error) {
	head, err := s.line()
	if err != nil {
		return "", 0, err
	}
	n = int64(len(head)) + 2
	if !strings.HasPrefix(head, "*") {
		return "", n, fmt.Errorf("want a command array, got %q", human.Abbrev(head, 60))
	}
	argc, err := parseInt(head[1:])
	if err != nil || argc < 1 || argc > maxArgs {
		return "", n, fmt.Errorf("bad argument count %q", human.Abbrev(head, 60))
	}
	for i := int64(0); i < argc; i++ {
		h, err := s.line()
		if err != nil {
			return "", n, err
		}
		n += int64(len(h)) + 2
		size, err := parseInt(strings.TrimPrefix(h, "$"))
		if !strings.HasPrefix(h, "$") || err != nil || size < 0 || size > maxBulk {
			return "", n, fmt.Errorf("bad bulk header %q", human.Abbrev(h, 60))
		}
		if i == 0 {
			k := min(size, nameBytes)
			buf := make([]byte, k)
			if _, err := io.ReadFull(s.r, buf); err != nil {
				return "", n, err
			}
			name = string(buf)
			size -= k
			n += k
		}
		if _, err := s.r.Discard(int(size)); err != nil {
			return "", n, err
		}
		n += size
		if crlf, err := s.r.Peek(2); err != nil {
			return "", n, err
		} else if string(crlf) != "\r\n" {
			return "", n, fmt.Errorf("bulk string not followed by CRLF")
		}
		_, _ = s.r.Discard(2)
		n += 2
	}
	return name, n, nil
}
