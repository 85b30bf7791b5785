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
// files, different from the key recorded there, marked @revoked, or of a
// type known_hosts has no key of for the host (then the handshake stops
// before any key is seen, and OfferedAlgos says what the node offers). It
// is never retried silently and never accepted on the fly: the operator
// checks the fingerprint out of band and updates known_hosts.
type HostKeyError struct {
	Addr        string // host:port as looked up in known_hosts
	KnownHosts  []string
	Fingerprint string // SHA256 fingerprint of the key the server offered
	KeyType     string
	Changed     bool   // the host is known with a different key
	Revoked     bool   // the offered key is marked @revoked
	Where       string // file:line of the recorded (or revoked) key
	// KnownAlgos and OfferedAlgos are set when no key could be checked:
	// known_hosts has keys of other types than the node offers.
	KnownAlgos   []string
	OfferedAlgos []string
	Err          error
}

func (e *HostKeyError) Error() string {
	file := "~/.ssh/known_hosts"
	if len(e.KnownHosts) > 0 {
		file = e.KnownHosts[0]
	}
	switch {
	case e.Revoked:
		// Never advise adding it back: whoever holds a revoked key's
		// private half can impersonate the node.
		return fmt.Sprintf("host key for %s is REVOKED: it offers %s %s, which %s marks @revoked; refusing to connect. "+
			"A revoked key is never trusted again: give the node a new host key on its console "+
			"(remove /etc/ssh/ssh_host_%s_key*, run ssh-keygen -A, restart sshd), then check the new key's fingerprint there before recording it",
			e.Addr, e.KeyType, e.Fingerprint, e.Where, keyFileType(e.KeyType))
	case len(e.OfferedAlgos) > 0:
		t := keyFileType(e.OfferedAlgos[0])
		return fmt.Sprintf("host key for %s cannot be checked: %s records only %s for it, but it offers only %s. "+
			"Either the node's host key was replaced by one of another type (treat that like a changed key: it may be a man-in-the-middle) "+
			"or known_hosts lacks the node's %s key. Check it out of band: on the node's console, ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub; "+
			"then record that key only if a scan shows the same fingerprint: %s",
			e.Addr, strings.Join(e.KnownHosts, ", "), strings.Join(e.KnownAlgos, ", "), strings.Join(e.OfferedAlgos, ", "),
			t, t, recordKey(e.Addr, t, "SHA256:<the fingerprint the console showed>", file))
	case e.Changed:
		return fmt.Sprintf("host key for %s CHANGED: it now offers %s %s but %s records a different key; "+
			"this may be a man-in-the-middle or a reinstalled node. Check it out of band: on the node's console, "+
			"ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub must print %s. Only then remove the old line (ssh-keygen -R '%s' -f %s) and record the new key: %s",
			e.Addr, e.KeyType, e.Fingerprint, e.Where, keyFileType(e.KeyType), e.Fingerprint, knownhosts.Normalize(e.Addr), file,
			recordKey(e.Addr, keyFileType(e.KeyType), e.Fingerprint, file))
	}
	return fmt.Sprintf("host key for %s is unknown: it offers %s %s and %s has no entry for it. "+
		"Check it out of band before trusting it: on the node's console, ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub must print %s. "+
		"Then record that key, and only that key: %s",
		e.Addr, e.KeyType, e.Fingerprint, strings.Join(e.KnownHosts, ", "), keyFileType(e.KeyType), e.Fingerprint,
		recordKey(e.Addr, keyFileType(e.KeyType), e.Fingerprint, file))
}

// recordKey is the shell line that appends addr's host key of type
// keyType to file only when its fingerprint is fp: one scan, checked, then
// appended, so a second scan cannot bring a different key.
func recordKey(addr, keyType, fp, file string) string {
	host, port, _ := net.SplitHostPort(addr)
	typ := ""
	if keyType != "*" {
		typ = " -t " + keyType
	}
	return fmt.Sprintf(`k=$(ssh-keyscan -p %s%s %s 2>/dev/null) && echo "$k" | ssh-keygen -lf - | grep -qF '%s' && echo "$k" >> %s`,
		port, typ, host, fp, file)
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
// known_hosts files, the key algorithms to ask for so the server offers a
// key type known_hosts has (else a known host would look changed), and the
// files that exist.
func hostKeyCheck(t *Target) (cb ssh.HostKeyCallback, algos, files []string, err error) {
	for _, f := range t.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("known_hosts %s: %w", f, err)
		}
	}
	if len(files) == 0 {
		// No file: every host is unknown. Refuse with the usual advice
		// rather than failing before we know the offered fingerprint.
		cb := func(hostname string, _ net.Addr, key ssh.PublicKey) error {
			return &HostKeyError{Addr: hostname, KnownHosts: t.KnownHosts, Fingerprint: ssh.FingerprintSHA256(key),
				KeyType: key.Type(), Err: errors.New("known_hosts file does not exist")}
		}
		return cb, nil, nil, nil
	}
	db, err := knownhosts.NewDB(files...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	inner := db.HostKeyCallback()
	cb = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := inner(hostname, remote, key)
		if err == nil {
			return nil
		}
		he := &HostKeyError{Addr: hostname, KnownHosts: files, Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type(), Err: err}
		var re *xknownhosts.RevokedError
		switch {
		case errors.As(err, &re):
			he.Revoked = true
			he.Where = fmt.Sprintf("%s:%d", re.Revoked.Filename, re.Revoked.Line)
		case knownhosts.IsHostKeyChanged(err):
			he.Changed = true
			he.Where = keyErrWhere(err)
		}
		return he
	}
	return cb, db.HostKeyAlgorithms(t.Addr()), files, nil
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
