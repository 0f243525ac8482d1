package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/exclude"
	"github.com/nix-buildpack/nix-buildpack/internal/prune"
)

// ExcludeFile is the app's pruning rules, in rsync's --exclude-from syntax.
const ExcludeFile = ".slugexclude"

// pruneClosure copies the runtime closure from root (the directory holding
// store/) into the target through the app's
// .slugexclude rules. It returns nil when the target kept an earlier copy
// of the same closure and rules.
func pruneClosure(in Input, root string, paths []string, output string, rules rules, target Target) (*prune.Report, error) {
	dir, reused, err := target.ClosureDir(output + " " + rules.digest)
	if err != nil {
		return nil, err
	}
	if reused {
		in.Log.Bodyf("Reusing the runtime closure of %s", output)
		return nil, nil
	}
	for _, w := range exclude.Summarize(rules.Warnings()) {
		in.Log.Bodyf("warning: %s", w)
	}
	rep, err := prune.Copy(root, dir, rules.Rules, copyOptions(in, paths))
	if err != nil {
		return nil, fmt.Errorf("unable to copy the runtime closure into %s\n%w", dir, err)
	}
	for _, w := range exclude.Summarize(rep.Warnings) {
		in.Log.Bodyf("warning: %s", w)
	}
	in.Log.Bodyf("Copied %d store paths: %d files hard-linked, %d copied, %d paths pruned by %s",
		len(paths), rep.Linked, rep.Copied, len(rep.Dropped), ExcludeFile)
	return rep, nil
}

func copyOptions(in Input, paths []string) prune.Options {
	opts := prune.Options{Link: true, PruneEmptyDirs: in.Prune.PruneEmptyDirs}
	for _, p := range paths {
		opts.Selected = append(opts.Selected, "store/"+filepath.Base(p))
	}
	return opts
}

// measure logs the closure's size before and after pruning, and warns
// above the size limit.
func measure(in Input, root string, paths []string, rep *prune.Report) error {
	if rep == nil {
		return nil
	}
	sizes, err := prune.MeasureSizes(root, rep, copyOptions(in, paths), in.Prune.SizeLimit)
	if err != nil {
		return err
	}
	for _, l := range sizes.Lines() {
		in.Log.Body(l)
	}
	return nil
}

// rules are the app's .slugexclude rules and a digest of the file, for
// cache keys.
type rules struct {
	*exclude.Rules
	digest string
}

// readRules reads the app's .slugexclude (no file: keep everything).
func readRules(appDir string) (rules, error) {
	p := filepath.Join(appDir, ExcludeFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		data = nil
	} else if err != nil {
		return rules{}, fmt.Errorf("unable to read %s\n%w", p, err)
	}
	r, err := exclude.ParseRules(strings.NewReader(string(data)), ExcludeFile)
	if err != nil {
		return rules{}, err
	}
	sum := sha256.Sum256(data)
	return rules{Rules: r, digest: "slugexclude:" + hex.EncodeToString(sum[:8])}, nil
}
