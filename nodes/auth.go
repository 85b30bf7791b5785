package nodes

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host key redkeep refused: unknown to the known_hosts
// files, or different from the key recorded there. It is never retried
// silently and never accepted on the fly: the operator checks the
// fingerprint out of band and updates known_hosts.
type HostKeyError struct {
	Addr        string // host:port as looked up in known_hosts
	KnownHosts  []string
	Fingerprint string // SHA256 fingerprint of the key the server offered
	KeyType     string
	Changed     bool   // the host is known with a different key
	Where       string // file:line of the recorded key when Changed
	Err         error
}

func (e *HostKeyError) Error() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	file := "~/.ssh/known_hosts"
	if len(e.KnownHosts) > 0 {
		file = e.KnownHosts[0]
	}
	scan := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, file)
	if e.Changed {
		return fmt.Sprintf("host key for %s CHANGED: it now offers %s %s but %s records a different key; "+
			"this may be a man-in-the-middle or a reinstalled node. Check the fingerprint on the node "+
			"(ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then remove the old line (ssh-keygen -R '%s' -f %s) and run: %s",
			e.Addr, e.KeyType, e.Fingerprint, e.Where, keyFileType(e.KeyType), knownhosts.Normalize(e.Addr), file, scan)
	}
	return fmt.Sprintf("host key for %s is unknown: it offers %s %s and %s has no entry for it. "+
		"Check the fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), then run: %s",
		e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.KnownHosts, ", "), keyFileType(e.KeyType), scan)
}

func (e *HostKeyError) Unwrap() error { return e.Err }

// keyFileType maps an SSH key type to OpenSSH's host key file name part.
func keyFileType(t string) string {
	switch {
	case strings.Contains(t, "ed25519"):
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa"):
		return "ecdsa"
	case strings.Contains(t, "rsa"):
		return "rsa"
	}
	return "*"
}

// hostKeyCheck builds a strict host key callback from the target's
// known_hosts files, and the key algorithms to ask for so the server offers
// a key type known_hosts has (else a known host would look changed).
func hostKeyCheck(t *Target) (ssh.HostKeyCallback, []string, error) {
	var files []string
	for _, f := range t.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("known_hosts %s: %w", f, err)
		}
	}
	if len(files) == 0 {
		// No file: every host is unknown. Refuse with the usual advice
		// rather than failing before we know the offered fingerprint.
		cb := func(hostname string, _ net.Addr, key ssh.PublicKey) error {
			return &HostKeyError{Addr: hostname, KnownHosts: t.KnownHosts, Fingerprint: ssh.FingerprintSHA256(key),
				KeyType: key.Type(), Err: errors.New("known_hosts file does not exist")}
		}
		return cb, nil, nil
	}
	db, err := knownhosts.NewDB(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	inner := db.HostKeyCallback()
	cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := inner(hostname, remote, key)
		if err == nil {
			return nil
		}
		he := &HostKeyError{Addr: hostname, KnownHosts: files, Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type(), Err: err}
		if knownhosts.IsHostKeyChanged(err) {
			he.Changed = true
			he.Where = keyErrWhere(err)
		}
		return he
	}
	return cb, db.HostKeyAlgorithms(t.Addr()), nil
}

// authMethods returns the agent's keys and then the identity files'. An
// encrypted key file is only usable through the agent: redkeep never prompts
// for passphrases (it runs unattended and inside a TUI), so such a key yields
// a note used to explain an authentication failure.
func authMethods(t *Target) (methods []ssh.AuthMethod, notes []string, closeAgent func()) {
	closeAgent = func() {}
	var agentKeys map[string]bool
	if sock := t.AgentSock; sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			ag := agent.NewClient(c)
			closeAgent = func() { c.Close() }
			agentKeys = map[string]bool{}
			if keys, err := ag.List(); err == nil {
				for _, k := range keys {
					agentKeys[string(k.Marshal())] = true
				}
			}
			methods = append(methods, ssh.PublicKeysCallback(ag.Signers))
		} else {
			notes = append(notes, fmt.Sprintf("ssh-agent at %s is not reachable: %v", sock, err))
		}
	}
	var signers []ssh.Signer
	for _, f := range t.IdentityFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) || t.explicitKeys {
				notes = append(notes, fmt.Sprintf("identity file %s: %v", f, err))
			}
			continue
		}
		s, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			if pm.PublicKey != nil && agentKeys[string(pm.PublicKey.Marshal())] {
				continue // the agent offers it already
			}
			if agentKeys == nil {
				notes = append(notes, fmt.Sprintf("identity file %s is encrypted and no ssh-agent is available ($SSH_AUTH_SOCK unset or IdentityAgent none): "+
					"start one and load the key with `eval $(ssh-agent) && ssh-add %s`; redkeep never asks for passphrases", f, f))
			} else {
				notes = append(notes, fmt.Sprintf("identity file %s is encrypted and not loaded in ssh-agent: run `ssh-add %s`; "+
					"redkeep never asks for passphrases", f, f))
			}
		case err != nil:
			notes = append(notes, fmt.Sprintf("identity file %s: %v", f, err))
		default:
			signers = append(signers, s)
		}
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	return methods, notes, closeAgent
}

// keyErrWhere names the known_hosts lines that hold the recorded keys.
func keyErrWhere(err error) string {
	var ke *xknownhosts.KeyError
	if !errors.As(err, &ke) {
		return "known_hosts"
	}
	var where []string
	for _, k := range ke.Want {
		where = append(where, fmt.Sprintf("%s:%d", k.Filename, k.Line))
	}
	return strings.Join(where, ", ")
}
