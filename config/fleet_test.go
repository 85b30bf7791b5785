package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadFleet(t *testing.T) {
	for _, tc := range []struct {
		path  string
		names []string
		vips  []string
	}{
		// A single pair file is one pair, named by the file.
		{"testdata/good.yaml", []string{"good"}, []string{"198.51.100.100/24"}},
		{"testdata/fleet/pairs.yaml", []string{"sessions", "cache"}, []string{"198.51.100.100/24", "203.0.113.100/24"}},
		// Sorted by file name; README and hidden files are not read.
		{"testdata/fleet/dir", []string{"cache", "sessions"}, []string{"203.0.113.100/24", "198.51.100.100/24"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			f, err := LoadFleet(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Names(); !slices.Equal(got, tc.names) {
				t.Errorf("names %v, want %v", got, tc.names)
			}
			for i, c := range f.Pairs {
				if c.VIP != tc.vips[i] {
					t.Errorf("pair %s: vip %s, want %s", c.Pair, c.VIP, tc.vips[i])
				}
				// Defaults apply to every pair.
				if c.Hooks.StateFile != DefaultStateFile || len(c.Nodes) != 2 {
					t.Errorf("pair %s: not defaulted: %+v", c.Pair, c)
				}
				if got, err := f.Pair(c.Pair); err != nil || got != c {
					t.Errorf("Pair(%s) = %v, %v", c.Pair, got, err)
				}
			}
			if _, err := f.Pair("nope"); err == nil || !strings.Contains(err.Error(), strings.Join(tc.names, ", ")) {
				t.Errorf("Pair(nope): %v, want the pairs listed", err)
			}
		})
	}
	f, err := LoadFleet("testdata/fleet/pairs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Pairs[1]; c.Console.PollInterval.String() != "2s" || c.Nodes[0].Keepalived.Interface != "eth1" {
		t.Errorf("second pair's own settings lost: %+v", c)
	}
}

// TestLoadFleetErrors: every error names its file and line, and the field
// inside the pairs list.
func TestLoadFleetErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"testdata/fleet/pairs-bad.yaml", []string{
			`testdata/fleet/pairs-bad.yaml:8: pairs[1].name: duplicate pair name "sessions" (also pairs[0])`,
			`testdata/fleet/pairs-bad.yaml:12: pairs[1].nodes[1].host: host 198.51.100.12 is outside the VIP's subnet 203.0.113.0/24`,
			`testdata/fleet/pairs-bad.yaml:13: pairs[1].keepalived.virtual_router_id: virtual_router_id must be 1-255`,
		}},
		{"testdata/fleet/pairs-unknown.yaml", []string{`testdata/fleet/pairs-unknown.yaml:8: pairs[0].colour: unknown field "colour" in a pair`}},
		{"testdata/fleet/pairs-mixed.yaml", []string{`testdata/fleet/pairs-mixed.yaml:1: vip: unknown field "vip" in a file with a pairs list`}},
		{"testdata/fleet/pairs-three-nodes.yaml", []string{`testdata/fleet/pairs-three-nodes.yaml:4: pairs[0].nodes: a pair has exactly two nodes, found 3`}},
		{"testdata/fleet/dir-bad", []string{
			`testdata/fleet/dir-bad/Upper.yaml: the file's name without .yaml names its pair: "Upper" is not a pair name`,
			`testdata/fleet/dir-bad/listed.yaml:2: pairs: a file in a directory of pair files holds one pair`,
			`testdata/fleet/dir-bad/wrong-host.yaml:4: nodes[1].host: host 198.51.101.12 is outside the VIP's subnet`,
		}},
		{empty, []string{empty + ": no pair files in this directory"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, err := LoadFleet(tc.path)
			if err == nil {
				t.Fatal("loaded, want errors")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestLoadRefusesPairsList: the hooks read one pair's file; given a pairs
// list they say so rather than "unknown field".
func TestLoadRefusesPairsList(t *testing.T) {
	_, err := Load("testdata/fleet/pairs.yaml")
	if err == nil || !strings.Contains(err.Error(), "pairs.yaml:2: pairs: this file lists several pairs") {
		t.Errorf("Load(pairs list): %v", err)
	}
}

func TestLoadFleetBounds(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxPairs + 1 {
		if err := os.WriteFile(filepath.Join(dir, "p"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+strings.Repeat("0", i/26)+".yaml"), good, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadFleet(dir); err == nil || !strings.Contains(err.Error(), "more than 256 pair files") {
		t.Errorf("LoadFleet(%d files): %v", MaxPairs+1, err)
	}
	var b strings.Builder
	b.WriteString("pairs:\n")
	for range MaxPairs + 1 {
		b.WriteString("  - {name: x}\n")
	}
	path := filepath.Join(t.TempDir(), "many.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFleet(path); err == nil || !strings.Contains(err.Error(), "257 items in one list, at most 256") {
		t.Errorf("LoadFleet(%d pairs): %v", MaxPairs+1, err)
	}
}

// TestReadmeFleetExample: the pairs list the README shows loads.
func TestReadmeFleetExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "# /etc/redkeep/fleet.yaml")
	if !ok {
		t.Fatal("README has no fleet.yaml example")
	}
	body, _, _ := strings.Cut(rest, "```")
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFleet(path)
	if err != nil {
		t.Fatalf("README's fleet.yaml: %v\n%s", err, body)
	}
	if got := f.Names(); !slices.Equal(got, []string{"sessions", "cache"}) {
		t.Errorf("pairs %v", got)
	}
}
