// Package buildinfo says which redkeep this is. The console compares it across
// nodes: a switchover runs the same binary on both, so builds must match.
package buildinfo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"
)

// version is set by -ldflags "-X github.com/redkeep/redkeep/internal/buildinfo.version=v1.2.3".
var version string

var computed = sync.OnceValue(func() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return "devel-" + rev
})

// Version is redkeep's version: the release tag, else the VCS revision it was
// built from ("+dirty" when the tree had changes), else "devel".
func Version() string { return computed() }

// HashLen is how many hex digits of the executable's sha256 an ID carries:
// 48 bits, plenty to tell two builds apart.
const HashLen = 12

// hashPrefix separates the version from the hash in an ID.
const hashPrefix = " sha256:"

// unreadable stands for the hash of an executable that could not be read.
const unreadable = "unreadable"

var hashed = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the running executable: %w", err)
	}
	sum, err := FileSHA256(exe)
	if err != nil {
		return "", err
	}
	return sum[:HashLen], nil
})

// Hash is the short sha256 of the running executable: two builds that both
// say "devel" still differ here.
func Hash() (string, error) { return hashed() }

// ID is what a node reports as its build: the version and the short content
// hash, "devel sha256:0123456789ab". Two nodes run the same redkeep exactly
// when their IDs are equal and SameBuild says so.
func ID() string {
	h, err := Hash()
	if err != nil {
		h = unreadable
	}
	return Version() + hashPrefix + h
}

// HashOf returns the hash part of an ID, "" when it has none (an older
// redkeep reports its version only) or its executable could not be read.
func HashOf(id string) string {
	i := strings.LastIndex(id, hashPrefix)
	if i < 0 {
		return ""
	}
	h := id[i+len(hashPrefix):]
	if h == unreadable {
		return ""
	}
	return h
}

// SameBuild reports whether two reported builds are the same redkeep:
// equal, and identifying a build. An ID with a content hash does; a
// version alone (an older redkeep's report) does only when it names a
// release or a clean VCS revision: "devel" from two different builds, or
// "+dirty", says nothing about the binaries.
func SameBuild(a, b string) bool {
	return a == b && identifies(a)
}

func identifies(id string) bool {
	if HashOf(id) != "" {
		return true
	}
	if strings.Contains(id, hashPrefix) {
		return false // its executable was unreadable
	}
	return id != "" && id != "devel" && id != "unknown" && !strings.HasSuffix(id, "+dirty")
}

// FileSHA256 is the full hex sha256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
