package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

const storeUsage = `usage: nixbp store du|verify --nix-dir DIR [--strategy auto|native|userns|proot]

  du      sizes by GC root
  verify  every registered path on disk, every root valid, nix-store --verify --check-contents clean

du shows how the Nix store a build keeps between builds splits between its GC roots.
DIR holds store/ and var/: <layers>/nix-buildpack_nix/nix/nix in a CNB cache layer,
$CACHE_DIR/nix for the Heroku-style buildpack. Sizes are NAR sizes; a path kept by
several roots counts for the first:
  nix       the Nix installation
  output    the last build's output and its runtime closure
  build     that output's build-time closure (its .drv, the inputs its build read)
  previous  the output of the build before it
  /...      other roots Nix finds (profiles, links made by hand, running processes)
Unrooted paths are what the next build's collection deletes (BP_NIX_GC, BP_NIX_CACHE_MAX_SIZE).
`

// runStore is `nixbp store`: operators' view of a build cache's Nix store.
func runStore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nixbp store", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("nix-dir", "", "")
	strategyName := fs.String("strategy", "auto", "")
	words, err := parseArgs(fs, args, storeUsage)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, storeUsage)
		return nil
	}
	if err != nil {
		return err
	}
	if len(words) != 1 || (words[0] != "du" && words[0] != "verify") {
		return fmt.Errorf("nixbp store takes one command, du or verify; got %q\n%s", words, storeUsage)
	}
	if *dir == "" {
		return fmt.Errorf("nixbp store %s needs --nix-dir DIR\n%s", words[0], storeUsage)
	}
	strategy, err := nixmount.ParseStrategy(*strategyName)
	if err != nil {
		return fmt.Errorf("--strategy: %w", err)
	}
	nix, err := nixinstall.Open(*dir, strategy)
	if err != nil {
		return err
	}
	if words[0] == "verify" {
		problems, err := storegc.Verify(nix)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("%s: %d problems:\n  %s", *dir, len(problems), strings.Join(problems, "\n  "))
		}
		fmt.Fprintf(stdout, "Nix store %s: every registered path is on disk and intact, every root valid\n", *dir)
		return nil
	}
	u, err := storegc.Inspect(nix)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Nix store %s (Nix %s, /nix through %s)\n%s", *dir, nix.Version, nix.View.Through(), u.Table())
	return nil
}
