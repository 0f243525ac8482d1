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
	fs := flag.NewFlagSet("nixbp prune", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	excludeFrom := fs.String("exclude-from", "", "")
	pruneEmpty := fs.Bool("prune-empty-dirs", false, "")
	link := fs.Bool("link", false, "")
	dryRun := fs.Bool("dry-run", false, "")
	explain := fs.String("explain", "", "")
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, pruneUsage)
				return nil
			}
			return fmt.Errorf("%w\n%s", err, pruneUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		// Flags may follow the paths, as rsync users write them.
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	onlySrc := *dryRun || *explain != ""
	switch {
	case *dryRun && *explain != "":
		return fmt.Errorf("--dry-run and --explain do not go together\n%s", pruneUsage)
	case len(paths) == 0, len(paths) > 2, len(paths) == 1 && !onlySrc:
		return fmt.Errorf("nixbp prune takes SRC and DST (only SRC with --dry-run or --explain), got %d paths\n%s", len(paths), pruneUsage)
	}
	src := strings.TrimSuffix(paths[0], "/")
	if src == "" {
		src = "/"
	}
	rules, err := readRules(*excludeFrom, stderr)
	if err != nil {
		return err
	}
	opts := prune.Options{PruneEmptyDirs: *pruneEmpty, Link: *link}

	if *explain != "" {
		ex, err := prune.Explain(src, *explain, rules, opts)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, strings.Join(ex.Lines(), "\n"))
		return nil
	}
	var rep *prune.Report
	if *dryRun {
		rep, err = prune.Plan(src, rules, opts)
	} else {
		rep, err = prune.Copy(src, paths[1], rules, opts)
	}
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if *dryRun {
		for _, p := range rep.KeptPaths() {
			fmt.Fprintln(stdout, p)
		}
		return nil
	}
	fmt.Fprintf(stderr, "nixbp prune: kept %d paths, left out %d (and all below them), pruned %d empty directories; %d files linked, %d copied (%d bytes)\n",
		len(rep.Kept), len(rep.Dropped), len(rep.Pruned), rep.Linked, rep.Copied, rep.Bytes)
	return nil
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
