package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"fmt"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
)

// readStoreFile reads a file under /nix/store from the on-disk store.
func readStoreFile(nix nixinstall.Nix, path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(nix.Dir, strings.TrimPrefix(path, "/nix/")))
}

// copyClosure copies the runtime closure into the target.
func copyClosure(in Input, nix nixinstall.Nix, paths []string, output string, target Target) error {
	dir, reused, err := target.ClosureDir(output)
	if err != nil {
		return err
	}
	if reused {
		in.Log.Bodyf("Reusing the runtime closure of %s", output)
		return nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o755); err != nil {
		return err
	}
	for _, p := range paths {
		src := filepath.Join(nix.Dir, strings.TrimPrefix(p, "/nix/"))
		if out, err := exec.Command("cp", "-a", src, filepath.Join(dir, "store")).CombinedOutput(); err != nil {
			return fmt.Errorf("unable to copy %s\n%s%w", p, out, err)
		}
	}
	return nil
}
