package cnb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/buildpacks/libcnb/v2"
	"github.com/paketo-buildpacks/libpak/v2/log"

	"github.com/nix-buildpack/nix-buildpack/internal/launch"
	"github.com/nix-buildpack/nix-buildpack/internal/layering"
	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/pipeline"
	"github.com/nix-buildpack/nix-buildpack/internal/process"
	"github.com/nix-buildpack/nix-buildpack/internal/relocate"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
	"github.com/nix-buildpack/nix-buildpack/internal/tree"
)

// relocation says whether the store layers hold the closure as built
// (shown at /nix at run time: a native run image, user namespaces or
// proot) or relocated to relocate.ImagePrefix, which runs natively on a
// stock run image with none of those.
type relocation struct {
	opts relocate.Options
	// wanted is true when this build relocates (unless auto's check finds
	// something): always, or auto on a builder that shows /nix neither
	// natively nor through a user namespace.
	wanted bool
}

// newRelocation reads the relocation settings; under auto it probes
// whether this builder can show nixDir at /nix natively or through a user
// namespace. A builder that cannot (a stock image under a default seccomp
// profile, building through proot or from the caches alone) is taken to
// stand for its run image, which then cannot either: the image is
// relocated. Elsewhere images keep today's layers.
func newRelocation(r settings.Relocate, nixDir string, logger log.Logger) (relocation, error) {
	o := relocate.Options{Mode: relocate.Mode(r.Mode), Warn: r.Warn}
	if r.AppDir != "" && o.Mode != relocate.Never {
		logger.Bodyf("%s=%s is for Heroku-style slugs; an image's closure is relocated to %s, whatever the app's directory",
			settings.RelocateAppDirName, r.AppDir, relocate.ImagePrefix)
	}
	switch o.Mode {
	case relocate.Never:
		return relocation{opts: o}, nil
	case relocate.Always:
		logger.Bodyf("%s=always: the store layers hold the closure relocated to %s", settings.RelocateName, relocate.ImagePrefix)
		return relocation{opts: o, wanted: true}, nil
	}
	if err := os.MkdirAll(filepath.Join(nixDir, "store"), 0o755); err != nil {
		return relocation{}, fmt.Errorf("unable to create %s\n%w", nixDir, err)
	}
	var why []string
	for _, s := range []nixmount.Strategy{nixmount.Native, nixmount.UserNS} {
		_, err := nixmount.Open(nixDir, s)
		if err == nil {
			return relocation{opts: o}, nil
		}
		var ns *nixmount.NoStrategyError
		if errors.As(err, &ns) && len(ns.Attempts) == 1 {
			err = ns.Attempts[0].Err
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		why = append(why, fmt.Sprintf("%s: %s", s, first))
	}
	logger.Bodyf("%s=auto: relocating the closure to %s, as this builder shows /nix neither natively nor through a user namespace (%s)",
		settings.RelocateName, relocate.ImagePrefix, strings.Join(why, "; "))
	return relocation{opts: o, wanted: true}, nil
}

// key is the store layers' key for a relocated closure: the prefix, and
// whether the check's findings were let through (always with warn).
func (r relocation) key() string {
	if r.opts.Mode == relocate.Always && r.opts.Warn {
		return string(relocate.ImagePrefix) + " check=warn"
	}
	return string(relocate.ImagePrefix)
}

// digest is what the relocation adds to the settings' digest: nothing
// when the build does not relocate, so unrelocated images keep theirs.
func (r relocation) digest() string {
	if !r.wanted {
		return ""
	}
	return "relocate " + r.key()
}

// relocatedStagingPath holds the relocated copies of the store paths whose
// layers change, until they are moved into them.
func (t *launchTarget) relocatedStagingPath() string {
	return filepath.Join(t.layers.Path, ".closure-relocated")
}

// relocateLayers copies the store paths of the layers that change into
// the relocated staging directory, rewritten for relocate.ImagePrefix, and
// checks them (relocate.Judge's rules). It returns the key the store
// layers carry and the directory to fill them from: "" and the staged
// closure when the build does not relocate (auto, and the check found
// something: a warning says what).
func (t *launchTarget) relocateLayers(plan []layering.Layer) (string, string, error) {
	staged := filepath.Join(t.stagingPath(), "store")
	if !t.reloc.wanted {
		return "", staged, nil
	}
	p, k := relocate.ImagePrefix, t.reloc.key()
	var names []string
	for _, l := range plan {
		if !t.storeLayer(l, staged, k).previousMatches(t.layers) {
			names = append(names, l.Paths...)
		}
	}
	dst := t.relocatedStagingPath()
	if err := tree.Remove(dst); err != nil {
		return "", "", err
	}
	t.logger.Headerf("Relocating the runtime closure to %s (%d of %d store paths: the layers that changed)", p, len(names), t.closureSize(plan))
	chk, err := relocate.CopyAndCheck(staged, dst, names, p, t.logger)
	if err != nil {
		return "", "", err
	}
	skipped, err := relocate.Judge(chk, t.reloc.opts, p, t.logger)
	if err != nil {
		return "", "", err
	}
	if skipped != "" {
		t.logger.Bodyf("warning: not relocating the closure (the image needs /nix at run time: a native run image, user namespaces or proot): %s", skipped)
		return "", staged, tree.Remove(dst)
	}
	return k, dst, nil
}

func (t *launchTarget) closureSize(plan []layering.Layer) int {
	n := 0
	for _, l := range plan {
		n += len(l.Paths)
	}
	return n
}

// previousMatches reports whether the layer as restored from the previous
// build was made from the same key (Contribute will leave it untouched).
func (s *storeLayer) previousMatches(layers libcnb.Layers) bool {
	l, err := layers.Layer(s.Name())
	return err == nil && len(changes(l.Metadata, s.metadata())) == 0
}

// relocatedProcesses are the processes naming the relocated closure.
func relocatedProcesses(ps []process.Process, p relocate.Prefix) []process.Process {
	return pipeline.Result{Processes: ps}.MapStorePaths(p.StorePath).Processes
}

// writeRelocated records in the view's nix directory that the closure is
// relocated to p, a /tmp link the launcher makes to nix/store
// (launch.RelocatedFile), and identifies the closure in nix/store
// (launch.ClosureIDFile) so the launcher accepts a link at p that another
// copy of the same closure made.
func writeRelocated(nixDir string, p relocate.Prefix, closureID string) error {
	for name, text := range map[string]string{
		filepath.Join(nixDir, launch.RelocatedFile):          p.Dir() + "\nlink store\n",
		filepath.Join(nixDir, "store", launch.ClosureIDFile): closureID + "\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o444); err != nil {
			return fmt.Errorf("unable to write %s\n%w", name, err)
		}
	}
	return nil
}
