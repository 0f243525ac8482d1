package e2e

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/nix-buildpack/nix-buildpack/internal/testenv"
)

// makeNixpkgs makes the nixpkgs-shaped test channel at root/nixpkgs with
// busybox copied in, and locks app's flake (if it has a flake.nix and no
// flake.lock) to it. It returns the channel's directory.
func makeNixpkgs(root, app, busybox string) (string, error) {
	if busybox == "" {
		return "", errors.New("the test channel needs Busybox (a static busybox to copy in)")
	}
	channel := filepath.Join(root, "nixpkgs")
	if err := testenv.Channel(channel, busybox); err != nil {
		return "", err
	}
	_, errFlake := os.Stat(filepath.Join(app, "flake.nix"))
	_, errLock := os.Stat(filepath.Join(app, "flake.lock"))
	if errFlake == nil && os.IsNotExist(errLock) {
		if err := testenv.LockFlake(app, channel); err != nil {
			return "", err
		}
	}
	return channel, nil
}
