package storegc

import (
	"os"
	"path/filepath"
	"strings"
)

// dropBuildLogs removes the build logs Nix keeps in var/log/nix/drvs
// (<2 characters>/<rest of the .drv's name>.bz2) of derivations no longer
// in the store: Nix's collector leaves them, one per build, for ever.
func dropBuildLogs(nixDir string, s Store) (removed int) {
	root := filepath.Join(nixDir, "var", "log", "nix", "drvs")
	dirs, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	for _, d := range dirs {
		logs, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			continue
		}
		for _, l := range logs {
			drv := "/nix/store/" + d.Name() + strings.TrimSuffix(l.Name(), ".bz2")
			if _, ok := s.Infos[drv]; !ok && os.Remove(filepath.Join(root, d.Name(), l.Name())) == nil {
				removed++
			}
		}
	}
	return removed
}
