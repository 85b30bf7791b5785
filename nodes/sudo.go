package nodes

import (
	"fmt"
	"strings"
)

// RootPrefix is what the node's SSH user puts before a command that needs
// root's rights: nothing for root, else `sudo -n ` (never a password
// prompt: the console has no terminal to ask on). It is the one place
// that decides; which commands need root is the caller's call
// (wire.RootVerbs for redkeep's node verbs).
func (c *Conn) RootPrefix() string {
	if c.target.User == "root" {
		return ""
	}
	return "sudo -n "
}

// SudoRefused turns the error of a command run with RootPrefix into one
// that says sudo refused it, on which node, what sudo said and how to fix
// it; other errors come back unchanged. what names the command.
func SudoRefused(node, user, what string, err error) error {
	if err == nil {
		return nil
	}
	said := ""
	for _, line := range strings.Split(err.Error(), "\n") {
		if i := strings.Index(line, "sudo: "); i >= 0 {
			said = strings.TrimSpace(line[i:])
			break
		}
	}
	if said == "" {
		return err
	}
	return &SudoError{Node: node, User: user, Command: what, Said: said, Err: err}
}

// SudoError is a node verb that sudo refused to run.
type SudoError struct {
	Node, User, Command, Said string
	Err                       error
}

func (e *SudoError) Error() string {
	return fmt.Sprintf("sudo refused `%s` to SSH user %s on node %s (%s): run `redkeep deploy` to grant %s the node verbs",
		e.Command, e.User, e.Node, e.Said, e.User)
}

func (e *SudoError) Unwrap() error { return e.Err }
