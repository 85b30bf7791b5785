package cli

import (
	"os"
	"strings"
	"testing"
)

// TestLabExitCodes covers the lab's command line where no lab is needed:
// usage errors are 2, "no lab here" is 1, and down on nothing succeeds.
func TestLabExitCodes(t *testing.T) {
	dir := t.TempDir() // no lab in it
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"lab", "--dir", dir, "fail", "meteor-strike"}, exitUsage, "unknown case"},
		{[]string{"lab", "--dir", dir, "fail"}, exitUsage, "accepts 1 arg"},
		{[]string{"lab", "--dir", dir, "status"}, exitUnhealthy, "no lab running"},
		{[]string{"lab", "--dir", dir, "heal"}, exitUnhealthy, "no lab running"},
		{[]string{"lab", "--dir", "relative/dir", "status"}, exitUsage, "absolute path"},
		{[]string{"lab", "--dir", dir, "--prefix", "Has-Caps", "status"}, exitUsage, "lab prefix"},
		{[]string{"lab", "--dir", dir, "up", "--subnet", "not-a-net"}, exitUsage, ""},
		{[]string{"lab", "bench", "--case", "meteor-strike"}, exitUsage, ""},
		{[]string{"lab", "bench", "--mode", "chaos"}, exitUsage, ""},
		// bench runs a lab of its own, named by the lab's --dir and --prefix.
		{[]string{"lab", "--dir", "relative/dir", "bench"}, exitUsage, "absolute path"},
		{[]string{"lab", "--prefix", "Has-Caps", "bench"}, exitUsage, "lab prefix"},
		{[]string{"lab", "--dir", "relative/dir", "chaos"}, exitUsage, "absolute path"},
		{[]string{"lab", "chaos", "--duration", "0s"}, exitUsage, ""},
		{[]string{"lab", "chaos", "--seed", "-1"}, exitUsage, ""},
		{[]string{"lab", "chaos", "--subnet", "not-a-net"}, exitUsage, ""},
		{[]string{"lab", "soak", "--duration", "0s"}, exitUsage, "must be positive"},
		{[]string{"lab", "soak", "--priorities", "254"}, exitUsage, "two numbers"},
		{[]string{"lab", "soak", "--priorities", "200,200"}, exitUsage, "priorities must be 1-254 and differ"},
		{[]string{"lab", "soak", "--cpu", "-1"}, exitUsage, "must not be negative"},
		{[]string{"lab", "soak", "--advert-int", "100ms"}, exitUsage, "VRRPv2 takes a whole-second advert_int"},
		{[]string{"lab", "soak", "--vrrp-version", "3", "--advert-int", "15ms"}, exitUsage, "multiple of 10ms"},
		{[]string{"lab", "--dir", "relative/dir", "soak"}, exitUsage, "absolute path"},
	} {
		code, out := execRoot(c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("redkeep %s: exit %d, want %d with %q; output:\n%s", strings.Join(c.args, " "), code, c.code, c.want, out)
		}
	}
	if os.Geteuid() == 0 {
		for i := 0; i < 2; i++ {
			if code, out := execRoot("lab", "--dir", dir, "--prefix", "rkclitest", "down"); code != exitOK {
				t.Errorf("lab down #%d with no lab: exit %d\n%s", i+1, code, out)
			}
		}
	} else if code, out := execRoot("lab", "--dir", dir, "down"); code != exitUsage || !strings.Contains(out, "root") {
		t.Errorf("lab down as non-root: exit %d\n%s", code, out)
	}
}
