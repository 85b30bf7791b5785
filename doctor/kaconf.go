package doctor

import (
	"fmt"
	"strconv"
	"strings"
)

// Bounds on parsing a keepalived.conf: it comes from a node, and doctor
// must neither panic nor grow without bound on any content.
const (
	maxStmts = 20000
	maxDepth = 16
)

// stmt is one keepalived.conf statement: a keyword, its arguments on the
// same line, and the block that follows it when there is one.
type stmt struct {
	Key   string
	Args  []string
	Line  int
	Block []stmt
}

// arg returns the i-th argument, "" when missing.
func (s stmt) arg(i int) string {
	if i < len(s.Args) {
		return s.Args[i]
	}
	return ""
}

// token is one word of a keepalived.conf, or a brace.
type token struct {
	text   string
	line   int
	quoted bool
}

// tokenize splits keepalived.conf text into tokens: words, double-quoted
// strings (one token, quotes removed) and braces. Comments start with #
// or ! and run to the end of the line.
func tokenize(text string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || c == '!':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '{' || c == '}':
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '"':
			j := i + 1
			for j < len(text) && text[j] != '"' && text[j] != '\n' {
				j++
			}
			if j >= len(text) || text[j] != '"' {
				return nil, fmt.Errorf("line %d: unterminated quote", line)
			}
			toks = append(toks, token{text: text[i+1 : j], line: line, quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n{}\"", rune(text[j])) {
				j++
			}
			toks = append(toks, token{text: text[i:j], line: line})
			i = j
		}
		if len(toks) > 4*maxStmts {
			return nil, fmt.Errorf("more than %d words: not a keepalived.conf doctor reads", 4*maxStmts)
		}
	}
	return toks, nil
}

// parseConf parses keepalived.conf text into statements. A statement is
// the words of one line; a "{" ends it and opens its block.
func parseConf(text string) ([]stmt, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	out, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("line %d: unmatched }", p.toks[p.i].line)
	}
	return out, nil
}

type parser struct {
	toks  []token
	i     int
	count int
}

func (p *parser) block(depth int) ([]stmt, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("blocks nested deeper than %d", maxDepth)
	}
	var out []stmt
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		switch t.text {
		case "}":
			if !t.quoted {
				return out, nil
			}
		case "{":
			if !t.quoted {
				// A block without a keyword (inside virtual_ipaddress, say,
				// it would be a typo): keep its content under "".
				p.i++
				inner, err := p.blockBody(depth)
				if err != nil {
					return nil, err
				}
				out = append(out, stmt{Line: t.line, Block: inner})
				continue
			}
		}
		s := stmt{Key: t.text, Line: t.line}
		p.i++
		for p.i < len(p.toks) && p.toks[p.i].line == t.line && !(isBrace(p.toks[p.i])) {
			s.Args = append(s.Args, p.toks[p.i].text)
			p.i++
		}
		if p.i < len(p.toks) && p.toks[p.i].text == "{" && !p.toks[p.i].quoted {
			p.i++
			inner, err := p.blockBody(depth)
			if err != nil {
				return nil, err
			}
			s.Block = inner
		}
		p.count++
		if p.count > maxStmts {
			return nil, fmt.Errorf("more than %d statements", maxStmts)
		}
		out = append(out, s)
	}
	return out, nil
}

// blockBody parses a block's statements after its "{" and eats its "}".
func (p *parser) blockBody(depth int) ([]stmt, error) {
	start := p.toks[p.i-1].line
	inner, err := p.block(depth + 1)
	if err != nil {
		return nil, err
	}
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("line %d: block never closed", start)
	}
	p.i++ // "}"
	return inner, nil
}

func isBrace(t token) bool { return !t.quoted && (t.text == "{" || t.text == "}") }

// find returns the statements of ss with keyword key.
func find(ss []stmt, key string) []stmt {
	var out []stmt
	for _, s := range ss {
		if s.Key == key {
			out = append(out, s)
		}
	}
	return out
}

// first returns the first statement with keyword key.
func first(ss []stmt, key string) (stmt, bool) {
	for _, s := range ss {
		if s.Key == key {
			return s, true
		}
	}
	return stmt{}, false
}

// kaConf is what doctor reads of one keepalived.conf.
type kaConf struct {
	scripts   map[string]vrrpScript
	instances []instance
	// trackFiles are the top-level track_file blocks: name -> file.
	trackFiles map[string]string
}

// vrrpScript is a vrrp_script block.
type vrrpScript struct {
	name, script string
	weight       int
	line         int
}

// instance is a vrrp_instance block.
type instance struct {
	name      string
	line      int
	state     string
	priority  int
	nopreempt bool
	vrid      string
	vrids     stmt
	authType  string
	authPass  string
	vips      []string
	// tracks are the track_script entries: name, weight override.
	tracks []track
	// trackFiles names the track_file blocks the instance tracks.
	trackFiles []string
	// notify maps notify, notify_master, ... to their command line.
	notify map[string]notifyCmd
}

type track struct {
	name      string
	weight    int
	hasWeight bool
	line      int
}

type notifyCmd struct {
	command string
	line    int
}

// notifyKeys are the instance keywords that run a script on a transition.
var notifyKeys = []string{"notify", "notify_master", "notify_backup", "notify_fault", "notify_stop"}

// readConf turns parsed statements into the parts doctor checks.
func readConf(ss []stmt) kaConf {
	c := kaConf{scripts: map[string]vrrpScript{}, trackFiles: map[string]string{}}
	for _, s := range find(ss, "track_file") {
		if f, ok := first(s.Block, "file"); ok {
			c.trackFiles[s.arg(0)] = f.arg(0)
		}
	}
	for _, s := range find(ss, "vrrp_script") {
		vs := vrrpScript{name: s.arg(0), line: s.Line}
		if sc, ok := first(s.Block, "script"); ok {
			vs.script = strings.Join(sc.Args, " ")
		}
		if w, ok := first(s.Block, "weight"); ok {
			vs.weight, _ = strconv.Atoi(w.arg(0))
		}
		c.scripts[vs.name] = vs
	}
	for _, s := range find(ss, "vrrp_instance") {
		in := instance{name: s.arg(0), line: s.Line, notify: map[string]notifyCmd{}}
		for _, b := range s.Block {
			switch b.Key {
			case "state":
				in.state = b.arg(0)
			case "priority":
				in.priority, _ = strconv.Atoi(b.arg(0))
			case "nopreempt":
				in.nopreempt = true
			case "virtual_router_id":
				in.vrid, in.vrids = b.arg(0), b
			case "authentication":
				if t, ok := first(b.Block, "auth_type"); ok {
					in.authType = t.arg(0)
				}
				if t, ok := first(b.Block, "auth_pass"); ok {
					in.authPass = t.arg(0)
				}
			case "virtual_ipaddress":
				for _, v := range b.Block {
					if v.Key != "" {
						in.vips = append(in.vips, v.Key)
					}
				}
			case "track_file":
				for _, t := range b.Block {
					if t.Key != "" {
						in.trackFiles = append(in.trackFiles, t.Key)
					}
				}
			case "track_script":
				for _, t := range b.Block {
					tr := track{name: t.Key, line: t.Line}
					if t.arg(0) == "weight" {
						tr.weight, _ = strconv.Atoi(t.arg(1))
						tr.hasWeight = true
					}
					if tr.name != "" {
						in.tracks = append(in.tracks, tr)
					}
				}
			}
			for _, k := range notifyKeys {
				if b.Key == k {
					in.notify[k] = notifyCmd{command: strings.Join(b.Args, " "), line: b.Line}
				}
			}
		}
		c.instances = append(c.instances, in)
	}
	return c
}

// commandPath is the program a keepalived script string runs: its first
// word, with the single quotes keepalived removes taken off.
func commandPath(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if strings.HasPrefix(cmd, "'") {
		if j := strings.IndexByte(cmd[1:], '\''); j >= 0 {
			return cmd[1 : j+1]
		}
		return cmd[1:]
	}
	if f := strings.Fields(cmd); len(f) > 0 {
		return f[0]
	}
	return ""
}

// isRedkeepHook reports whether a script string runs redkeep's hooks.
func isRedkeepHook(cmd, redkeep string) bool {
	p := commandPath(cmd)
	rest := strings.Fields(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(cmd), "'"+p+"'")))
	if len(rest) > 0 && rest[0] == p {
		rest = rest[1:]
	}
	return (p == redkeep || strings.HasSuffix(p, "/redkeep")) && len(rest) > 0 && rest[0] == "hook"
}
