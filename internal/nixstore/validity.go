package nixstore

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"

	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
)

// Valid says which of paths the store's database holds as valid
// (nix-store --check-validity --print-invalid). Only a valid path counts as
// present: one on disk that the database does not know was left by a
// restore or build that did not finish.
func (s Store) Valid(paths []string) (map[string]bool, error) {
	valid := make(map[string]bool, len(paths))
	if len(paths) == 0 {
		return valid, nil
	}
	invalid, err := s.lines(append([]string{"--check-validity", "--print-invalid"}, paths...)...)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		valid[p] = true
	}
	for _, p := range invalid {
		delete(valid, p)
	}
	return valid, nil
}

// Infos are the database's records of paths (one nix-store --dump-db);
// none for no paths.
func (s Store) Infos(paths []string) ([]narinfo.PathInfo, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	return s.dumpDB(paths)
}

// AllInfos are the records of every valid path in the store.
func (s Store) AllInfos() ([]narinfo.PathInfo, error) { return s.dumpDB(nil) }

func (s Store) dumpDB(paths []string) ([]narinfo.PathInfo, error) {
	out, err := s.run(nil, append([]string{"--dump-db"}, paths...)...)
	if err != nil {
		return nil, err
	}
	infos, err := narinfo.ParseRegistration(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("unable to read nix-store --dump-db output\n%w", err)
	}
	return infos, nil
}

// Register records paths whose files are already in the store, with their
// store modes and mtime, as valid (nix-store --load-db, which takes the NAR
// hashes and sizes as given: the caller verified them).
func (s Store) Register(infos []narinfo.PathInfo) error {
	if len(infos) == 0 {
		return nil
	}
	var reg bytes.Buffer
	if err := narinfo.FormatRegistration(&reg, infos); err != nil {
		return err
	}
	return s.LoadDB(reg.Bytes())
}

// LoadDB registers the records of a registration text as nix-store
// --dump-db writes it (an installer tarball's .reginfo).
func (s Store) LoadDB(registration []byte) error {
	_, err := s.run(bytes.NewReader(registration), "--load-db")
	return err
}

// Registration is a registration under way: Finish hands it the records.
type Registration interface {
	// Finish registers infos (none: nothing is registered) and waits for
	// the registration to end.
	Finish(infos []narinfo.PathInfo) error
}

// loadDB records the paths a Fetch installs in the Nix database, in
// one batch, with nix-store --load-db, started before the Fetch so that its
// start-up (the process, Nix's settings, opening the database: about half
// of a registration's time) overlaps the downloads instead of following
// them. Fetch already gave every file the store's modes and mtime, so the
// second pass --register-validity makes over each tree
// (canonicalisePathMetaData: an lstat and llistxattr per file) would change
// nothing; both take the NAR hashes and sizes, which Fetch verified, as
// given.
type loadDB struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   bytes.Buffer
}

// StartRegistration starts a nix-store --load-db that will read the paths
// to register on its standard input (Finish).
func (s Store) StartRegistration() (Registration, error) {
	r := &loadDB{cmd: s.nixStore("--load-db")}
	stdin, err := r.cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("unable to start nix-store --load-db\n%w", err)
	}
	r.cmd.Stdout = &r.out
	r.cmd.Stderr = s.messages(&r.out)
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("unable to start nix-store --load-db\n%w", err)
	}
	r.stdin = stdin
	return r, nil
}

// Finish registers infos and waits for nix-store. The registration is
// formatted whole before any of it is
// written: nix-store registers what it reads, in one transaction, once its
// input ends.
func (r *loadDB) Finish(infos []narinfo.PathInfo) error {
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
