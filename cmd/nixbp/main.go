// Command nixbp is nix-buildpack's command line for operators and users:
//
//	nixbp prune   prune a store tree with .slugexclude rules, as rsync would
//	nixbp cache   push, pull, list and verify a closure cache
//	nixbp store   a build cache's Nix store: sizes by GC root, soundness
//	nixbp nix     generate or eject the expression of a hop3.toml [nix] template
//	nixbp check-reproducible   rebuild the last output and compare
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

var version = "dev"

type command struct {
	run  func(args []string, stdout, stderr io.Writer) error
	help string
}

var commands = map[string]command{
	"prune":              {runPrune, "copy a store tree applying .slugexclude rules exactly as rsync -a --exclude-from does"},
	"cache":              {runCache, "push, pull, ls, verify: a closure cache (s3://, http(s)://, file://)"},
	"nix":                {runNix, "generate, eject: the Nix expression of a hop3.toml [nix] template (Hop3's ADR 008)"},
	"store":              {runStore, "du, verify: a build cache's Nix store by GC root, and whether it is sound (--nix-dir DIR)"},
	"check-reproducible": {runCheckReproducible, "rebuild the last build's output from its derivation and compare: reproducible, not deterministic, failed"},
}

func main() {
	nixmount.MaybeRunChild()
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage(os.Stdout)
		return
	}
	if os.Args[1] == "version" || os.Args[1] == "--version" {
		fmt.Println("nixbp", version)
		return
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "nixbp: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	if err := c.run(os.Args[2:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "nixbp %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: nixbp <command> [arguments]\n\ncommands:")
	for _, name := range []string{"prune", "cache", "store", "nix", "check-reproducible"} {
		fmt.Fprintf(w, "  %-6s %s\n", name, commands[name].help)
	}
	fmt.Fprintln(w, "  version print the version")
}
