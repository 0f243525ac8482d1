package nixinstall

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/nixmount"
)

// Open returns the Nix an earlier build installed in dir (a cache layer's
// nix directory, CACHE_DIR/nix), shown at /nix with the wanted strategy,
// without installing anything: for operators' tools.
func Open(dir string, strategy nixmount.Strategy) (Nix, error) {
	marker, err := os.ReadFile(filepath.Join(dir, markerName))
	if err != nil {
		return Nix{}, fmt.Errorf("%s holds no Nix installed by the buildpack (no %s)\n"+
			"pass the directory that holds store/ and var/: <layers>/nix-buildpack_nix/nix/nix (CNB) or $CACHE_DIR/nix (Heroku)", dir, markerName)
	}
	lines := strings.SplitN(string(marker), "\n", 3)
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "/nix/store/") || !exists(filepath.Join(dir, "store", filepath.Base(lines[1]))) {
		return Nix{}, fmt.Errorf("%s: %s names no Nix store path present in %s/store; the next build reinstalls Nix", dir, markerName, dir)
	}
	view, err := nixmount.Open(dir, strategy)
	if err != nil {
		return Nix{}, err
	}
	version, _, _ := strings.Cut(lines[0], " ")
	n := Nix{View: view, Dir: dir, StorePath: lines[1], Version: version, Reused: true}
	if conf, err := os.ReadFile(filepath.Join(dir, "etc", "nix", "nix.conf")); err == nil && strings.Contains(string(conf), "\nsandbox = true\n") {
		n.Sandbox = Sandbox{On: true, Why: "as the last build left nix.conf"}
	}
	return n, nil
}
