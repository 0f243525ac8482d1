package nixbuild

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/config"
	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// Attrs are the expression's top-level workers/env/path attributes (the
// ADR 006 style, for apps without runtime.json).
type Attrs struct {
	// JSON is {"workers": ..., "env": ..., "path": ...} as runtime.json
	// writes them.
	JSON []byte
	// StorePaths are the store paths the attributes refer to (their string
	// context, e.g. "${pkgs.busybox}/bin/busybox httpd" in a worker),
	// realised and kept by GC roots (RootsDir): they belong in the runtime
	// closure beside the output.
	StorePaths []string
}

// RootsDir holds the GC roots of the attributes' store paths (relative to
// the Nix directory), so that a store collection between builds keeps
// them, as the output's own roots keep its closure.
const RootsDir = "var/nix/gcroots/nixbp-attrs"

// attrsExpr picks the attributes and the string context of every string in
// them. The JSON printer drops context, so getContext carries it out.
const attrsExpr = `{ file }:
let
  e = import file;
  v = if builtins.isFunction e then e { } else e;
  pick = n: if builtins.isAttrs v && v ? ${n} then { ${n} = v.${n}; } else { };
  value = pick "workers" // pick "env" // pick "path";
  strings = x:
    if builtins.isString x then [ x ]
    else if builtins.isPath x then [ "${x}" ]
    else if builtins.isList x then builtins.concatMap strings x
    else if builtins.isAttrs x then builtins.concatMap strings (builtins.attrValues x)
    else [ ];
in { inherit value; context = builtins.getContext (builtins.concatStringsSep "" (strings value)); }`

// Attributes evaluates the expression's workers/env/path attributes and
// realises the store paths they refer to (building or substituting what is
// missing, with opts' limits). It returns a zero Attrs when there are no
// such attributes.
func Attributes(nix nixinstall.Nix, app config.App, opts Options, log io.Writer) (Attrs, error) {
	// --read-write-mode writes the derivations and sources the strings
	// refer to into the store, so that they can be realised.
	args := []string{"--eval", "--strict", "--json", "--read-write-mode", "--arg", "file", app.NixPath(), "-E", attrsExpr}
	var stdout bytes.Buffer
	if rerr := run(nix, app, "nix-instantiate", args, &stdout, io.Discard); rerr != nil {
		return Attrs{}, fmt.Errorf("%s: unable to evaluate workers/env/path attributes\n%s", app.NixFile, rerr.tail)
	}
	var got struct {
		Value   json.RawMessage `json:"value"`
		Context map[string]struct {
			Path       bool     `json:"path"`
			AllOutputs bool     `json:"allOutputs"`
			Outputs    []string `json:"outputs"`
		} `json:"context"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		return Attrs{}, fmt.Errorf("%s: unable to read the workers/env/path attributes\n%w", app.NixFile, err)
	}
	if strings.TrimSpace(string(got.Value)) == "{}" {
		return Attrs{}, keepRoots(nix, nil)
	}
	var sources, wanted []string
	for p, c := range got.Context {
		if c.Path {
			sources = append(sources, p)
		}
		if c.AllOutputs {
			wanted = append(wanted, p)
		}
		for _, o := range c.Outputs {
			wanted = append(wanted, p+"!"+o)
		}
	}
	paths := sources
	if len(wanted) > 0 {
		sort.Strings(wanted)
		fmt.Fprintf(log, "Realising %d store paths the workers/env/path attributes refer to\n", len(wanted))
		tail := tailOf(log)
		realised, err := nix.Store().Realise(wanted, opts.limits(), tail)
		if err != nil {
			return Attrs{}, fmt.Errorf("%s: unable to realise the store paths the workers/env/path attributes refer to (%w)\n%s",
				app.NixFile, err, tail.message())
		}
		paths = append(paths, realised...)
	}
	sort.Strings(paths)
	if err := keepRoots(nix, paths); err != nil {
		return Attrs{}, err
	}
	return Attrs{JSON: got.Value, StorePaths: paths}, nil
}

// keepRoots makes paths the set of GC roots in RootsDir: direct roots,
// symlinks to /nix/store paths as the /nix view shows them.
func keepRoots(nix nixinstall.Nix, paths []string) error {
	dir := filepath.Join(nix.Dir, RootsDir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("unable to remove the GC roots in %s\n%w", dir, err)
	}
	if len(paths) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("unable to create %s\n%w", dir, err)
	}
	for _, p := range paths {
		if err := os.Symlink(p, filepath.Join(dir, filepath.Base(p))); err != nil {
			return fmt.Errorf("unable to write a GC root for %s\n%w", p, err)
		}
	}
	return nil
}
