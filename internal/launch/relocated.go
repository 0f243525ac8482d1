package launch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Relocate is the strategy of a closure that the build copied out of
// /nix/store into a directory of the same length, rewriting its store
// paths (internal/relocate): its programs run natively, with no /nix, no
// namespace and no ptrace.
const Relocate = settings.RelocateStrategy

// RelocatedFile, in the directory given as --nix-dir, names the directory
// the closure was relocated to (first line). Its presence selects
// Relocate. A second line "link REL" says that directory is a /tmp link the
// launcher makes, to REL (relative to --nix-dir): see linkPrefix.
const RelocatedFile = "relocated"

// relocatedView is the Relocate view of nixDir, when the build relocated
// the closure: ok is false when it did not. The relocated directory must
// exist where the build put it (the app's directory at run time).
func relocatedView(nixDir string, want nixmount.Strategy) (nixmount.View, bool, error) {
	data, err := os.ReadFile(filepath.Join(nixDir, RelocatedFile))
	if err != nil {
		if want == Relocate {
			return nixmount.View{}, false, fmt.Errorf("%s=relocate, but --nix-dir %s holds no relocated closure (no %s file)\n"+
				"build with BP_NIX_RELOCATE=always, or unset %s", settings.LaunchStrategyName, nixDir, RelocatedFile, settings.LaunchStrategyName)
		}
		return nixmount.View{}, false, nil
	}
	dir, rest, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	if want != nixmount.Auto && want != Relocate {
		return nixmount.View{}, false, fmt.Errorf("%s=%s, but the build relocated the closure to %s and kept no store to show at /nix\n"+
			"unset %s, or build with BP_NIX_RELOCATE=never", settings.LaunchStrategyName, want, dir, settings.LaunchStrategyName)
	}
	if rel, ok := strings.CutPrefix(strings.TrimSpace(rest), "link "); ok {
		target, err := filepath.Abs(filepath.Join(nixDir, rel))
		if err == nil {
			err = linkPrefix(dir, target)
		}
		if err != nil {
			return nixmount.View{}, false, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return nixmount.View{}, false, fmt.Errorf("the build relocated the closure to %s, which does not exist here (%v): "+
			"the app runs from another directory than the build expected\n"+
			"build with BP_NIX_RELOCATE_APP_DIR set to the app's directory at run time, or BP_NIX_RELOCATE=never", dir, err)
	}
	return nixmount.View{Strategy: Relocate, NixDir: dir}, true, nil
}

// Binary finds nixbp-launch in a buildpack: lib/linux-<arch>/ in the
// Heroku-style tarball and a checkout with built binaries, bin/ in a CNB
// package. Both front-ends copy it into the image or slug.
func Binary(buildpackDir string) string {
	p := filepath.Join(buildpackDir, "lib", "linux-"+runtime.GOARCH, "nixbp-launch")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return filepath.Join(buildpackDir, "bin", "nixbp-launch")
}
