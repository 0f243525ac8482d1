package closure

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// Registration records the paths a Fetch installs in the Nix database, in
// one batch, with nix-store --load-db, started before the Fetch so that its
// start-up (the process, Nix's settings, opening the database: about half
// of a registration's time) overlaps the downloads instead of following
// them. Fetch already gave every file the store's modes and mtime, so the
// second pass --register-validity makes over each tree
// (canonicalisePathMetaData: an lstat and llistxattr per file) would change
// nothing; both take the NAR hashes and sizes, which Fetch verified, as
// given.
type Registration struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
}

// StartRegistration starts cmd, a nix-store --load-db (not started yet)
// that will read the paths to register on its standard input.
func StartRegistration(cmd *exec.Cmd) (*Registration, error) {
	r := &Registration{cmd: cmd}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("unable to start nix-store --load-db\n%w", err)
	}
	cmd.Stdout, cmd.Stderr = &r.out, &r.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("unable to start nix-store --load-db\n%w", err)
	}
	r.stdin = stdin
	return r, nil
}

// Finish registers infos (none: nothing is registered) and waits for
// nix-store. The registration is formatted whole before any of it is
// written: nix-store registers what it reads, in one transaction, once its
// input ends.
func (r *Registration) Finish(infos []narinfo.PathInfo) error {
	var buf bytes.Buffer
	err := narinfo.FormatRegistration(&buf, infos)
	if err == nil {
		_, err = r.stdin.Write(buf.Bytes())
	}
	if cerr := r.stdin.Close(); err == nil {
		err = cerr
	}
	if werr := r.cmd.Wait(); werr != nil {
		return fmt.Errorf("unable to register %d restored paths (nix-store --load-db)\n%s%w", len(infos), r.out.Bytes(), werr)
	}
	if err != nil {
		return fmt.Errorf("unable to register %d restored paths (nix-store --load-db)\n%w", len(infos), err)
	}
	return nil
}
