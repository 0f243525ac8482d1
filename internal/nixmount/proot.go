package nixmount

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// FindPRoot finds the proot the proot strategy runs: the image's, the first
// proot on PATH, else the static one the buildpack bundles in dir, the
// directory of the running binary (scripts/proot.sh builds it; it sits
// beside the buildpack's binaries in bin/ or lib/linux-amd64/, beside
// nixbp-launch in the launcher layer and in the slug's .nix/bin). bundled
// says which one it is, for the log.
func FindPRoot(dir string) (path string, bundled bool, err error) {
	p := filepath.Join(dir, "proot")
	fi, err := os.Stat(p)
	here := err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
	if found, err := exec.LookPath("proot"); err == nil {
		// The slug's .profile.d puts .nix/bin, where the bundled one is,
		// on PATH.
		ffi, ferr := os.Stat(found)
		return found, here && ferr == nil && os.SameFile(fi, ffi), nil
	}
	if here {
		return p, true, nil
	}
	return "", false, fmt.Errorf("proot is not installed (not on PATH) and no bundled proot is beside %s", dir)
}

// Through names how the view shows /nix, for logs: the strategy, and for
// proot the binary and whether it is the bundled one.
func (v View) Through() string {
	if v.Strategy != PRoot {
		if v.NewRootEntry != "" {
			return fmt.Sprintf("%s (a new root holding / and /nix as / has none; entered by %s)", v.Strategy, v.NewRootEntry)
		}
		return string(v.Strategy)
	}
	if v.PRootBundled {
		return "proot " + v.PRootPath + " (bundled)"
	}
	return "proot " + v.PRootPath
}
