package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxPairs bounds the pairs one config names (a directory's pair files or
// a pairs list): the console polls every one of them.
const MaxPairs = 256

// pairNameRE is a pair's name: its file's name without .yaml in a
// directory of pair files, or its name in a pairs list.
var pairNameRE = namePattern("a-z0-9", "a-z0-9_.-", 63)

const pairNameRules = "lowercase letters, digits, '-', '_', '.', starting with a letter or digit, at most 63"

// Fleet is every pair one config names: a single pair file (one pair), a
// directory of pair files (one pair a file, named by the file), or a file
// with a pairs list.
type Fleet struct {
	// Path is the file or directory the fleet was read from.
	Path string
	// Pairs in the order of the directory's file names or of the list.
	Pairs []*Config
}

// Names lists the pairs' names in order.
func (f *Fleet) Names() []string {
	names := make([]string, len(f.Pairs))
	for i, c := range f.Pairs {
		names[i] = c.Pair
	}
	return names
}

// Pair returns the pair called name.
func (f *Fleet) Pair(name string) (*Config, error) {
	for _, c := range f.Pairs {
		if c.Pair == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no pair %s in %s (pairs: %s)", show(name), escapeControls(f.Path), strings.Join(f.Names(), ", "))
}

// Warnings are every pair's warnings.
func (f *Fleet) Warnings() []*Error {
	var ws []*Error
	for _, c := range f.Pairs {
		ws = append(ws, c.Warnings...)
	}
	return ws
}

// LoadFleet reads the pairs at path: a directory of pair files (NAME.yaml
// or NAME.yml, one pair each; other files and hidden ones are not read), a
// file with a pairs list, or a single pair file, whose pair is named by
// the file. Every error names its file and line.
func LoadFleet(path string) (*Fleet, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if fi.IsDir() {
		return loadDir(path)
	}
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if root, _ := pairsRoot(data, path); root != nil {
		pairs, err := parsePairs(data, root, path)
		if err != nil {
			return nil, err
		}
		return &Fleet{Path: path, Pairs: pairs}, nil
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	c.Pair = fileStem(path)
	return &Fleet{Path: path, Pairs: []*Config{c}}, nil
}

// readFile reads at most MaxFileSize+1 bytes of path (Parse refuses more).
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

// pairsRoot returns data's document when it is a pairs list; nil, and
// what Parse will say, otherwise.
func pairsRoot(data []byte, file string) (*yaml.Node, error) {
	if len(data) > MaxFileSize || checkText(data) != nil {
		return nil, nil
	}
	root, err := parseDocument(data, file)
	if err != nil || root == nil || !isPairsList(root) {
		return nil, err
	}
	return root, nil
}

// isPairsList tells a file with a top-level pairs key.
func isPairsList(root *yaml.Node) bool {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "pairs" {
			return true
		}
	}
	return false
}

// fileStem is a file's name without its directory and extension.
func fileStem(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// pairsFile is a file holding a pairs list and nothing else.
type pairsFile struct {
	Pairs []pairEntry `yaml:"pairs"`
}

// pairEntry is one item of a pairs list: a name and a pair's fields.
type pairEntry struct {
	Name   string `yaml:"name"`
	Config `yaml:",inline"`
}

func parsePairs(data []byte, root *yaml.Node, file string) ([]*Config, error) {
	if errs := checkShape(root, file); errs != nil {
		return nil, errs
	}
	var pf pairsFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, data, root, err)
	}
	list := valueAt(root, "pairs")
	if len(pf.Pairs) == 0 || list == nil || list.Kind != yaml.SequenceNode || len(list.Content) != len(pf.Pairs) {
		return nil, Errors{{File: file, Line: lineOf(root, "pairs"), Field: "pairs", Msg: "want a list of pairs, each a name and a pair's fields (vip, nodes, ...)"}}
	}
	var errs Errors
	seen := map[string]int{}
	pairs := make([]*Config, 0, len(pf.Pairs))
	for i := range pf.Pairs {
		e := &pf.Pairs[i]
		item := list.Content[i]
		if item.Kind == yaml.AliasNode && item.Alias != nil {
			item = item.Alias
		}
		nameErr := func(msg string) {
			errs = append(errs, &Error{File: file, Line: lineOf(root, "pairs", i, "name"), Field: fmt.Sprintf("pairs[%d].name", i), Msg: msg})
		}
		switch {
		case e.Name == "":
			nameErr("required: the pair's name (" + pairNameRules + ")")
		case !pairNameRE.MatchString(e.Name):
			nameErr(fmt.Sprintf("%s is not a pair name (%s)", show(e.Name), pairNameRules))
		default:
			if j, dup := seen[e.Name]; dup {
				nameErr(fmt.Sprintf("duplicate pair name %q (also pairs[%d])", e.Name, j))
			}
			seen[e.Name] = i
		}
		c := e.Config
		c.Path, c.Pair = file, e.Name
		c.applyDefaults()
		prefix := fmt.Sprintf("pairs[%d]", i)
		for _, pe := range c.validate(item) {
			if pe.Field == "" {
				pe.Field = prefix
			} else {
				pe.Field = prefix + "." + pe.Field
			}
			errs = append(errs, pe)
		}
		for _, w := range c.Warnings {
			w.Field = prefix + "." + w.Field
		}
		pairs = append(pairs, &c)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, errs
	}
	return pairs, nil
}

// valueAt is the value of key in root's top-level mapping, nil if none.
func valueAt(root *yaml.Node, key string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// loadDir reads a directory of pair files, one pair each, named by the
// file. Every file's errors are reported, not only the first file's.
func loadDir(dir string) (*Fleet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read config directory: %w", err)
	}
	f := &Fleet{Path: dir}
	var errs Errors
	seen := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		path := filepath.Join(dir, name)
		stem := strings.TrimSuffix(name, ext)
		if !pairNameRE.MatchString(stem) {
			errs = append(errs, &Error{File: path, Msg: fmt.Sprintf("the file's name without %s names its pair: %s is not a pair name (%s)", ext, show(stem), pairNameRules)})
			continue
		}
		if other, dup := seen[stem]; dup {
			errs = append(errs, &Error{File: path, Msg: fmt.Sprintf("pair %s is also %s; one file a pair", stem, escapeControls(other))})
			continue
		}
		seen[stem] = path
		if len(seen) > MaxPairs {
			errs = append(errs, &Error{File: dir, Msg: fmt.Sprintf("more than %d pair files", MaxPairs)})
			break
		}
		c, err := loadPairFile(path)
		var ferrs Errors
		switch {
		case errors.As(err, &ferrs):
			errs = append(errs, ferrs...)
		case err != nil:
			errs = append(errs, &Error{File: path, Msg: err.Error()})
		default:
			c.Pair = stem
			f.Pairs = append(f.Pairs, c)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(f.Pairs) == 0 {
		return nil, Errors{{File: dir, Msg: "no pair files in this directory (one pair a file, named NAME.yaml)"}}
	}
	return f, nil
}

// loadPairFile reads one pair file of a directory, which holds one pair.
func loadPairFile(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if root, _ := pairsRoot(data, path); root != nil {
		return nil, Errors{{File: path, Line: lineOf(root, "pairs"), Field: "pairs",
			Msg: "a file in a directory of pair files holds one pair, named by the file; this one has a pairs list"}}
	}
	return Parse(data, path)
}
