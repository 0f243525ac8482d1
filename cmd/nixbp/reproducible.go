package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/reproduce"
	"github.com/nix-buildpack/nix-buildpack/internal/storegc"
)

const reproducibleUsage = `usage: nixbp check-reproducible --nix-dir DIR [--strategy auto|native|userns|proot] [OUTPUT]

Rebuilds OUTPUT (default: the last build's output in DIR) from its derivation with
nix-store --realise --check and compares the two, in Nix's sandbox when the build had it:
  reproducible       the rebuild is identical (exit 0)
  not deterministic  the rebuild differs; it is kept as OUTPUT.check to compare (exit 1)
  failed             the rebuild did not build (exit 1)
DIR holds store/ and var/: <layers>/nix-buildpack_nix/nix/nix (CNB) or $CACHE_DIR/nix (Heroku).
The derivation and the build's inputs must be in DIR's store, as a build leaves them
(an output restored from a cache has nothing to be rebuilt from).
`

// runCheckReproducible is `nixbp check-reproducible`.
func runCheckReproducible(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("nixbp check-reproducible", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("nix-dir", "", "")
	strategyName := fs.String("strategy", "auto", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, reproducibleUsage)
			return nil
		}
		return fmt.Errorf("%v\n%s", err, reproducibleUsage)
	}
	if *dir == "" || fs.NArg() > 1 {
		return fmt.Errorf("nixbp check-reproducible needs --nix-dir DIR and at most one OUTPUT\n%s", reproducibleUsage)
	}
	strategy, err := nixmount.ParseStrategy(*strategyName)
	if err != nil {
		return fmt.Errorf("--strategy: %w", err)
	}
	nix, err := nixinstall.Open(*dir, strategy)
	if err != nil {
		return err
	}
	output := fs.Arg(0)
	if output == "" {
		if output = storegc.LastOutput(*dir); output == "" {
			return fmt.Errorf("%s holds no build output (no GC root var/nix/gcroots/nixbp/%s): name the OUTPUT to check", *dir, storegc.RootOutput)
		}
	}
	res, err := reproduce.Check(nix, output, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	if res.Verdict != reproduce.Reproducible {
		return errors.New(string(res.Verdict))
	}
	return nil
}
