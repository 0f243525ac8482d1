// Package launch is the process launcher that ships in the launch layer (and
// the slug): it makes the app's store visible at /nix by the cheapest
// strategy the platform allows, then runs a worker's command line with POSIX
// shell semantics (no /bin/sh needed), or serves a static directory.
//
//	nixbp-launch --nix-dir DIR -- 'busybox httpd -f -p "$BIND_ADDRESS:$PORT"'
//	nixbp-launch --nix-dir DIR --static /nix/store/...-site/public
package launch

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// StrategyEnv forces a /nix strategy at run time (auto, native, userns, proot).
const StrategyEnv = "NIXBP_STRATEGY"

// inViewEnv marks the launcher re-run inside the view.
const inViewEnv = "NIXBP_IN_VIEW"

// Defaults for the variables every worker may use.
var Defaults = map[string]string{"PORT": "8080", "BIND_ADDRESS": "0.0.0.0"}

// Invocation is a parsed command line of the launcher.
type Invocation struct {
	NixDir  string
	Static  string
	Command string
	Quiet   bool
}

// Parse reads the launcher's arguments.
func Parse(args []string, stderr io.Writer) (Invocation, error) {
	var inv Invocation
	fs := flag.NewFlagSet("nixbp-launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&inv.NixDir, "nix-dir", "", "directory holding store/ to show at /nix")
	fs.StringVar(&inv.Static, "static", "", "serve this directory over HTTP on $BIND_ADDRESS:$PORT")
	fs.BoolVar(&inv.Quiet, "quiet", os.Getenv("NIXBP_QUIET") != "", "do not log the /nix strategy")
	if err := fs.Parse(args); err != nil {
		return inv, err
	}
	inv.Command = strings.Join(fs.Args(), " ")
	if (inv.Static == "") == (inv.Command == "") {
		return inv, errors.New("usage: nixbp-launch [--nix-dir DIR] (--static DIR | -- COMMAND LINE)")
	}
	return inv, nil
}

// Main runs the launcher and returns the process's exit status.
func Main(args []string) int {
	inv, err := Parse(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 2
	}
	for k, v := range Defaults {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	if inv.NixDir == "" || os.Getenv(inViewEnv) != "" {
		return runWorker(inv)
	}
	want, err := nixmount.ParseStrategy(os.Getenv(StrategyEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %s: %v\n", StrategyEnv, err)
		return 2
	}
	view, err := nixmount.Open(inv.NixDir, want)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixbp-launch: %v\n", err)
		return 126
	}
	if !inv.Quiet {
		fmt.Fprintf(os.Stderr, "nixbp-launch: /nix through %s (%s)\n", view.Strategy, inv.NixDir)
	}
	if view.Strategy == nixmount.Native {
		return runWorker(inv)
	}
	return runInView(view, args)
}
