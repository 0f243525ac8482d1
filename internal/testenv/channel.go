package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Channel copies the nixpkgs-shaped test channel (fixtures/nixpkgs: .nix
// files only) to dst and copies busybox into it as bb/bin/busybox with the
// link bb/bin/sh, which its default.nix builds everything from. dst then
// works as NIX_PATH=nixpkgs=dst, as BP_NIX_NIXPKGS, and as a flake input.
func Channel(dst, busybox string) error {
	if err := os.MkdirAll(filepath.Join(dst, "bb", "bin"), 0o755); err != nil {
		return err
	}
	src := filepath.Join(RepoRoot(), "fixtures", "nixpkgs")
	if out, err := exec.Command("cp", "-a", src+"/.", dst+"/").CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s to %s: %v\n%s", src, dst, err, out)
	}
	bin := filepath.Join(dst, "bb", "bin")
	if out, err := exec.Command("cp", busybox, filepath.Join(bin, "busybox")).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v\n%s", busybox, err, out)
	}
	if err := os.Symlink("busybox", filepath.Join(bin, "sh")); err != nil && !os.IsExist(err) {
		return err
	}
	return nil
}

// Nixpkgs makes the test channel in dir/nixpkgs for a test and returns its
// path. Busybox comes from /bin/busybox (Debian's busybox-static).
func Nixpkgs(t testing.TB, dir string) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		Missing(t, "busybox-static is not installed")
		return ""
	}
	dst := filepath.Join(dir, "nixpkgs")
	if err := Channel(dst, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	return dst
}

// LockFlake writes app/flake.lock with the flake's nixpkgs input locked to
// the test channel at channel (its path and NAR hash), keeping the input's
// URL as flake.nix writes it, so that a build honouring flake.lock fetches
// nothing. It runs the host's nix (Debian's nix-bin), which adds the
// channel to the host's store; the lock is the same for any Nix >= 2.8.
func LockFlake(app, channel string) error {
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command flakes",
		"flake", "lock", "--option", "substituters", "", "--override-input", "nixpkgs", "path:"+channel)
	cmd.Dir = app
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nix flake lock in %s: %v\n%s", app, err, out)
	}
	return nil
}
