package launch

import (
	"os"
	"path/filepath"
	"runtime"
)

// PRoot finds the static proot the buildpack bundles beside nixbp-launch
// (scripts/proot.sh; lib/linux-<arch>/ in the Heroku-style tarball, bin/ in
// a CNB package), which both front-ends copy beside the launcher so that it
// runs where the image has no proot. Empty where the buildpack bundles none
// (a checkout whose binaries were built without package.sh).
func PRoot(buildpackDir string) string {
	for _, p := range []string{
		filepath.Join(buildpackDir, "lib", "linux-"+runtime.GOARCH, "proot"),
		filepath.Join(buildpackDir, "bin", "proot"),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}
