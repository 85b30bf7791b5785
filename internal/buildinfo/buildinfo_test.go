package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIDCarriesTheExecutablesHash(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	want := hex.EncodeToString(sum[:])[:HashLen]
	h, err := Hash()
	if err != nil {
		t.Fatal(err)
	}
	if h != want {
		t.Fatalf("Hash() = %q, want %q", h, want)
	}
	id := ID()
	if id != Version()+" sha256:"+want {
		t.Fatalf("ID() = %q, want %q", id, Version()+" sha256:"+want)
	}
	if HashOf(id) != want {
		t.Fatalf("HashOf(%q) = %q, want %q", id, HashOf(id), want)
	}
}

func TestSameBuild(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"devel sha256:0123456789ab", "devel sha256:0123456789ab", true},
		{"devel sha256:0123456789ab", "devel sha256:ba9876543210", false},
		{"v1.2.0 sha256:0123456789ab", "v1.2.1 sha256:0123456789ab", false},
		// An older redkeep reports the version only: "devel" on both nodes
		// says nothing about the binaries.
		{"devel", "devel", false},
		{"devel sha256:unreadable", "devel sha256:unreadable", false},
		{"", "", false},
		{"devel sha256:0123456789ab", "devel", false},
		{"v1.0.0", "v1.0.0", true},
		{"devel-0123456789ab", "devel-0123456789ab", true},
		{"devel-0123456789ab+dirty", "devel-0123456789ab+dirty", false},
		{"unknown", "unknown", false},
	} {
		if got := SameBuild(tc.a, tc.b); got != tc.want {
			t.Errorf("SameBuild(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestFileSHA256(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("redkeep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("redkeep\n"))
	got, err := FileSHA256(p)
	if err != nil || got != hex.EncodeToString(sum[:]) {
		t.Fatalf("FileSHA256 = %q, %v; want %x", got, err, sum)
	}
	if _, err := FileSHA256(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("FileSHA256 of a missing file: err %v, want one naming the file", err)
	}
}
