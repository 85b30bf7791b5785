package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/config"
)

func TestConfirmDeploy(t *testing.T) {
	for _, tc := range []struct {
		pair, typed string
		ok          bool
	}{
		{"prod", "prod\n", true},
		{"prod", "  prod  \n", true},
		{"prod", "yes\n", false},
		{"prod", "", false},
		{"", "deploy\n", true},
		{"", "y\n", false},
	} {
		var out bytes.Buffer
		err := confirmDeploy(strings.NewReader(tc.typed), &out, tc.pair)
		if (err == nil) != tc.ok {
			t.Errorf("pair %q, typed %q: err %v, want ok=%v", tc.pair, tc.typed, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errNotConfirmed) {
			t.Errorf("pair %q, typed %q: err %v is not errNotConfirmed", tc.pair, tc.typed, err)
		}
		if !strings.Contains(out.String(), "Type ") {
			t.Errorf("no prompt: %q", out.String())
		}
	}
}

// TestPairFileRefusesAPairsList: the nodes read one pair's file, so deploy
// refuses to install a file listing several pairs.
func TestPairFileRefusesAPairsList(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pairs.yaml")
	if err := os.WriteFile(p, []byte("pairs:\n  - name: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := pairFile(&config.Config{Path: p})
	if err == nil || !strings.Contains(err.Error(), "own config file") {
		t.Fatalf("err = %v, want a refusal naming the pair's own file", err)
	}
	if _, err := pairFile(&config.Config{}); err == nil {
		t.Fatal("a config without a file: no error")
	}
}
