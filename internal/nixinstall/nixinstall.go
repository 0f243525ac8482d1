// Package nixinstall installs Nix from the official binary installer tarball
// (nix-<version>-<system>.tar.xz: store/ plus .reginfo) into a directory that
// is shown at /nix, writes the buildpack's Nix configuration, and runs Nix's
// tools through that view.
package nixinstall

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixenv"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/storelock"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// Tarball is a Nix installer tarball.
type Tarball struct {
	// Version is Nix's version, as in the store path <hash>-nix-<version>.
	Version string
	// Checksum identifies the tarball (its sha256); a change reinstalls.
	Checksum string
	// Open returns the tarball's bytes, already verified by the caller.
	Open func() (io.ReadCloser, error)
}

// Nix is an installed Nix and the view its tools run through.
type Nix struct {
	// View shows Dir at /nix.
	View nixmount.View
	// Dir is the on-disk directory shown at /nix (holds store/, var/).
	Dir string
	// StorePath is Nix's own store path, /nix/store/<hash>-nix-<version>.
	StorePath string
	// Version is Nix's version.
	Version string
	// Reused says whether an earlier build's installation was kept.
	Reused bool
	// Nixpkgs is what <nixpkgs> resolves to in evaluations and builds.
	Nixpkgs Nixpkgs
	// Sandbox says whether Nix builds in its sandbox, and why.
	Sandbox Sandbox
}

const markerName = ".nixbp-installed"

// Key identifies an installation: the tarball's version and checksum. The
// marker file in the Nix directory holds it; a different key reinstalls.
func Key(src Tarball) string { return src.Version + " " + src.Checksum }

// Ensure makes Nix usable in dir: it reuses an installation of the same
// tarball, or installs it (wiping an installation of another one), opens the
// /nix view with the wanted strategy, and writes nix.conf.
func Ensure(dir string, tarball Tarball, strategy nixmount.Strategy, conf Conf, opts ...func(*nixmount.View)) (Nix, error) {
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o755); err != nil {
		return Nix{}, fmt.Errorf("unable to create %s\n%w", dir, err)
	}
	n := Nix{Dir: dir, Version: tarball.Version, Nixpkgs: conf.Nixpkgs}
	want := Key(tarball)
	if marker, err := os.ReadFile(filepath.Join(dir, markerName)); err == nil {
		lines := strings.SplitN(string(marker), "\n", 3)
		if len(lines) >= 2 && lines[0] == want && exists(filepath.Join(dir, "store", filepath.Base(lines[1]))) {
			n.StorePath, n.Reused = lines[1], true
		}
	}
	// An installation of another tarball goes before the view is opened:
	// the view keeps what it needs in dir (the empty files it hides with).
	if !n.Reused {
		if err := wipe(dir); err != nil {
			return Nix{}, err
		}
	}
	view, err := nixmount.Open(dir, strategy, opts...)
	if err != nil {
		return Nix{}, err
	}
	n.View = view
	if !n.Reused {
		if n.StorePath, err = install(n, tarball); err != nil {
			return Nix{}, err
		}
		if err := os.WriteFile(filepath.Join(dir, markerName), []byte(want+"\n"+n.StorePath+"\n"), 0o644); err != nil {
			return Nix{}, fmt.Errorf("unable to write %s\n%w", markerName, err)
		}
	}
	if err := writeConf(dir, conf, Sandbox{}); err != nil {
		return Nix{}, err
	}
	if n.Sandbox, err = n.enableSandbox(conf); err != nil {
		return Nix{}, err
	}
	return n, nil
}

// install unpacks the tarball into dir and registers its paths.
func install(n Nix, src Tarball) (string, error) {
	r, err := src.Open()
	if err != nil {
		return "", fmt.Errorf("unable to open the Nix %s tarball\n%w", src.Version, err)
	}
	defer r.Close()
	reginfo, err := unpackTarXz(r, n.Dir)
	if err != nil {
		return "", fmt.Errorf("unable to unpack the Nix %s tarball\n%w", src.Version, err)
	}
	storePath := ""
	for _, line := range strings.Split(string(reginfo), "\n") {
		if strings.HasPrefix(line, "/nix/store/") && strings.HasSuffix(line, "-nix-"+src.Version) {
			storePath = line
		}
	}
	if storePath == "" {
		return "", fmt.Errorf("the Nix %s tarball's .reginfo names no store path ending in -nix-%s", src.Version, src.Version)
	}
	n.StorePath = storePath
	if err := makeStateDirs(n.Dir); err != nil {
		return "", err
	}
	if err := n.Store().LoadDB(reginfo); err != nil {
		return "", fmt.Errorf("unable to register Nix's store paths\n%w", err)
	}
	return storePath, nil
}

// Command runs one of Nix's tools (nix-build, nix-store, ...) through the
// view, with the buildpack's configuration and an environment built by
// nixenv from an allow-list: never the buildpack's own environment, which
// holds the platform's settings and secrets.
func (n Nix) Command(tool string, args ...string) *exec.Cmd {
	cmd := n.View.Command(n.StorePath+"/bin/"+tool, args...)
	cmd.Env = nixenv.Build(n.Env()...)
	return cmd
}

// Store is the installation's store, for nix-store's queries, validity
// and registration, run through the view.
func (n Nix) Store() nixstore.Store { return nixstore.New(filepath.Join(n.Dir, "store"), n) }

// wipe empties dir of a previous installation, making read-only store
// directories writable first; the build lock stays.
func wipe(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("unable to list %s\n%w", dir, err)
	}
	for _, e := range entries {
		if e.Name() == storelock.FileName {
			continue // held by this build: removing it would let another in
		}
		if err := tree.Remove(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(dir, "store"), 0o755)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
