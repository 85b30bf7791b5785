// Command redkeep runs a two-node Redis + keepalived pair: the operator console,
// keepalived's hooks on each node, planned switchovers and a lab to try them in.
//
// The commands live in internal/cli; the logic in the packages they call.
package main

import (
	"os"

	"github.com/redkeep/redkeep/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.StdStreams()))
}
