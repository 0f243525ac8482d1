// Package fake is a Nix for the pipeline's tests, as go-containerregistry's
// fake/ is an image: a directory of store paths and the records of the
// valid ones, whose "build" writes a small output (a web worker's
// runtime.json and a library it refers to) and records it with its real
// NAR hash, so that the binary caches (real ones, file://) take and give
// it as they would Nix's. The pipeline's decisions (build policy, source
// pointer, writable cache, reused layers) are then tested without Nix, and
// the counts say what was evaluated and built. It is not Nix: the real-Nix
// tests (cnb, heroku, caching, e2e) cover what Nix does.
package fake

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nar"
	"github.com/nix-buildpack/nix-buildpack/internal/narinfo"
	"github.com/nix-buildpack/nix-buildpack/internal/nixbuild"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/nixstore"
	"github.com/nix-buildpack/nix-buildpack/internal/sbom"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

// The store paths the fake's expression evaluates and builds to.
const (
	Derivation = "/nix/store/0f2rh1dq9x7sd8zlgxvpwyhbjyfnb0z2-app.drv"
	Output     = "/nix/store/1b7y4s4kmbn8w8jwq4mfc0l9cqsxvh6p-app"
	Library    = "/nix/store/2c9pz1c7vg4a5p8l9hzhvq0a9i9gc6xw-lib"
)

// Nix is a fake installed Nix whose store is Dir.
type Nix struct {
	dir string

	mu    sync.Mutex
	valid map[string]narinfo.PathInfo
	// Instantiated and Built count evaluations and builds.
	Instantiated, Built int
}

// New is a fake Nix whose store directory is root/store, empty.
func New(root string) (*Nix, error) {
	dir := filepath.Join(root, "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create %s\n%w", dir, err)
	}
	return &Nix{dir: dir, valid: map[string]narinfo.PathInfo{}}, nil
}

// Dir is the store directory.
func (n *Nix) Dir() string { return n.dir }

// Valid says which paths have records.
func (n *Nix) Valid(paths []string) (map[string]bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	valid := map[string]bool{}
	for _, p := range paths {
		if _, ok := n.valid[p]; ok {
			valid[p] = true
		}
	}
	return valid, nil
}

// Infos are the records of paths; a path without one is an error, as in
// nix-store --dump-db.
func (n *Nix) Infos(paths []string) ([]narinfo.PathInfo, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []narinfo.PathInfo
	for _, p := range paths {
		info, ok := n.valid[p]
		if !ok {
			return nil, fmt.Errorf("path '%s' is not valid", p)
		}
		out = append(out, info)
	}
	return out, nil
}

// Requisites is the closure of paths by their records; the derivation's
// is itself (it has no inputs).
func (n *Nix) Requisites(paths ...string) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[string]bool{}
	queue := append([]string(nil), paths...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		info, ok := n.valid[p]
		if !ok && p != Derivation {
			return nil, fmt.Errorf("path '%s' is not valid", p)
		}
		queue = append(queue, info.References...)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// Outputs of the derivation: Output.
func (n *Nix) Outputs(drvs ...string) ([]string, error) {
	var out []string
	for _, d := range drvs {
		if d != Derivation {
			return nil, fmt.Errorf("%s is not a derivation of the fake", d)
		}
		out = append(out, Output)
	}
	return out, nil
}

// StartRegistration records what Finish is given.
func (n *Nix) StartRegistration() (nixstore.Registration, error) { return registration{n}, nil }

type registration struct{ n *Nix }

func (r registration) Finish(infos []narinfo.PathInfo) error {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	for _, info := range infos {
		r.n.valid[info.StorePath] = info
	}
	return nil
}

// Strategy is native: the fake's store is a plain directory.
func (n *Nix) Strategy() nixmount.Strategy { return nixmount.Native }

// Instantiate "evaluates" the app: Derivation.
func (n *Nix) Instantiate(config.App) (string, error) {
	n.mu.Lock()
	n.Instantiated++
	n.mu.Unlock()
	return Derivation, nil
}

// Build writes Output (hop3/runtime.json with a web worker running
// Library's program) and Library, unless valid, and records them.
func (n *Nix) Build(_ config.App, _ nixbuild.Options, log io.Writer) (string, error) {
	n.mu.Lock()
	n.Built++
	n.mu.Unlock()
	fmt.Fprintf(log, "fake build of %s\n", Output)
	if err := n.add(Library, nil, map[string]string{"bin/serve": "#!/bin/sh\necho serving\n"}); err != nil {
		return "", err
	}
	runtime := `{"workers": {"web": "` + Library + `/bin/serve"}}`
	if err := n.add(Output, []string{Library}, map[string]string{"hop3/runtime.json": runtime}); err != nil {
		return "", err
	}
	return Output, nil
}

// add writes a store path's files (executable under bin/) and records it
// with its NAR's hash and size, unless it is valid already.
func (n *Nix) add(storePath string, refs []string, files map[string]string) error {
	if v, _ := n.Valid([]string{storePath}); v[storePath] {
		return nil
	}
	dir := filepath.Join(n.dir, filepath.Base(storePath))
	for rel, text := range files {
		p := filepath.Join(dir, rel)
		mode := os.FileMode(0o444)
		if filepath.Base(filepath.Dir(p)) == "bin" {
			mode = 0o555
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			return err
		}
	}
	packed, err := nar.Pack(dir, 0, "none")
	if err != nil {
		return err
	}
	defer packed.Close()
	return registration{n}.Finish([]narinfo.PathInfo{{StorePath: storePath, NarHash: narinfo.FormatSHA256(packed.NarSHA256),
		NarSize: uint64(packed.NarSize), References: refs}})
}

// Attributes: the fake's output has a runtime.json, so the pipeline never
// asks.
func (n *Nix) Attributes(config.App, nixbuild.Options, io.Writer) (nixbuild.Attrs, error) {
	return nixbuild.Attrs{}, fmt.Errorf("the fake Nix evaluates no attributes")
}

// Collect keeps everything.
func (n *Nix) Collect(log.Logger, string, storegc.Options) {}

// Provenance is none: the fake evaluates no nixpkgs.
func (n *Nix) Provenance(config.App) sbom.Provenance { return sbom.Provenance{} }
