package nodes

import (
	"os"
	"strings"
	"testing"

	"github.com/redkeep/redkeep/internal/vrrptest"
)

func TestMain(m *testing.M) {
	vrrptest.Main()
	os.Exit(m.Run())
}

// TestPlainKeepalivedRunning: the plain-node probe (no redkeep installed)
// decides as hook state does, for root and for an unprivileged SSH user.
func TestPlainKeepalivedRunning(t *testing.T) {
	vrrptest.Skip(t)
	ka := vrrptest.Start(t, vrrptest.Dir(t))
	probe := []string{"sh", "-c", keepalivedRunning}
	for _, c := range []struct {
		name string
		argv []string
		want string
	}{
		{"root, keepalived's namespace", ka.InItsNamespace(probe...), "yes"},
		{"nobody, keepalived's namespace", ka.InItsNamespace(vrrptest.AsNobody(probe...)...), "yes"},
		{"root, another namespace", vrrptest.InNewNamespace(probe...), "no"},
		{"nobody, another namespace", vrrptest.InNewNamespace(vrrptest.AsNobody(probe...)...), "no"},
	} {
		if got := strings.TrimSpace(string(vrrptest.Output(t, c.argv...))); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
