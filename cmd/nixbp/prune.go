package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
)

const pruneUsage = `usage: nixbp prune [--exclude-from FILE] [--prune-empty-dirs] [--link] [--dry-run] [--explain PATH] SRC [DST]

Copies SRC to DST keeping what the rules in FILE keep, exactly as
  rsync -a [--prune-empty-dirs] --exclude-from=FILE SRC/ DST/
would (SRC means its contents, with or without a trailing slash).
  --dry-run       print the kept paths relative to SRC, one per line, sorted; no DST needed
  --explain PATH  print which rule (file:line) decides PATH, relative to SRC, or that the default did
`

// runPrune is `nixbp prune`: it prunes a tree (the Nix store that goes into a
// slug or image) with .slugexclude rules, or says what it would keep, or why.
func runPrune(args []string, stdout, stderr io.Writer) error {
	a, err := parsePruneArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, pruneUsage)
		return nil
	}
	if err != nil {
		return err
	}
	rules, err := readRules(a.excludeFrom, stderr)
	if err != nil {
		return err
	}
	if a.explain != "" {
		ex, err := prune.Explain(a.src, a.explain, rules, a.opts)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, strings.Join(ex.Lines(), "\n"))
		return nil
	}
	var rep *prune.Report
	if a.dryRun {
		rep, err = prune.Plan(a.src, rules, a.opts)
	} else {
		rep, err = prune.Copy(a.src, a.dst, rules, a.opts)
	}
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if a.dryRun {
		for _, p := range rep.KeptPaths() {
			fmt.Fprintln(stdout, p)
		}
		return nil
	}
	fmt.Fprintf(stderr, "nixbp prune: kept %d paths, left out %d (and all below them), pruned %d empty directories; %d files linked, %d copied (%d bytes)\n",
		len(rep.Kept), len(rep.Dropped), len(rep.Pruned), rep.Linked, rep.Copied, rep.Bytes)
	return nil
}

// pruneArgs is a `nixbp prune` command line.
type pruneArgs struct {
	excludeFrom, explain string
	dryRun               bool
	src, dst             string // dst "" with --dry-run or --explain
	opts                 prune.Options
}

// parsePruneArgs reads the flags (anywhere on the line) and SRC [DST];
// flag.ErrHelp asks for the usage.
func parsePruneArgs(args []string) (pruneArgs, error) {
	fs := flag.NewFlagSet("nixbp prune", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var a pruneArgs
	fs.StringVar(&a.excludeFrom, "exclude-from", "", "")
	fs.BoolVar(&a.opts.PruneEmptyDirs, "prune-empty-dirs", false, "")
	fs.BoolVar(&a.opts.Link, "link", false, "")
	fs.BoolVar(&a.dryRun, "dry-run", false, "")
	fs.StringVar(&a.explain, "explain", "", "")
	paths, err := parseArgs(fs, args, pruneUsage)
	if err != nil {
		return a, err
	}
	onlySrc := a.dryRun || a.explain != ""
	switch {
	case a.dryRun && a.explain != "":
		return a, fmt.Errorf("--dry-run and --explain do not go together\n%s", pruneUsage)
	case len(paths) == 0, len(paths) > 2, len(paths) == 1 && !onlySrc:
		return a, fmt.Errorf("nixbp prune takes SRC and DST (only SRC with --dry-run or --explain), got %d paths\n%s", len(paths), pruneUsage)
	}
	if a.src = strings.TrimSuffix(paths[0], "/"); a.src == "" {
		a.src = "/"
	}
	if len(paths) == 2 && !onlySrc {
		a.dst = paths[1]
	}
	return a, nil
}

// readRules parses the rule file, logging its warnings; no file keeps all.
func readRules(file string, stderr io.Writer) (*exclude.Rules, error) {
	if file == "" {
		return nil, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("unable to open rule file %s\n%w", file, err)
	}
	defer f.Close()
	rules, err := exclude.ParseRules(f, file)
	if err != nil {
		return nil, err
	}
	for _, w := range rules.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return rules, nil
}
