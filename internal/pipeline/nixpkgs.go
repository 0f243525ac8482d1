package pipeline

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nix-buildpack/nix-buildpack/internal/nixinstall"
	"github.com/nix-buildpack/nix-buildpack/internal/nixpkgs"
)

// unpackNixpkgs unpacks a <nixpkgs> tarball into the store natively
// (package nixpkgs) when the app's expressions name <nixpkgs>, so that
// Nix evaluates it from that store path instead of downloading and
// unpacking it through the /nix view. A failure is a warning: Nix then
// fetches it itself, as before.
func unpackNixpkgs(in Input, nix *nixinstall.Nix) {
	if !nix.Nixpkgs.Tarball() || !namesNixpkgs(in.AppDir) {
		return
	}
	ok, why := nixpkgs.Natively(string(nix.View.Strategy))
	if !ok {
		in.Log.Bodyf("Nix unpacks <nixpkgs> itself: %s", why)
		return
	}
	res, err := nixpkgs.Fetch(context.Background(), nix.Store(), nix.Nixpkgs.Entry, filepath.Join(nix.Dir, nixpkgsState),
		nixinstall.ConnectTimeout*time.Second)
	if err != nil {
		in.Log.Bodyf("warning: unable to unpack <nixpkgs> natively, Nix fetches it itself: %v", err)
		return
	}
	nix.Nixpkgs.Unpacked = res.StorePath
	in.Log.Bodyf("<nixpkgs> is %s: %s (%.1f MiB downloaded) in %s; %s", res.StorePath, res.Why,
		float64(res.Bytes)/(1<<20), res.Elapsed.Round(time.Millisecond), why)
}

// nixpkgsState records the tarball unpacked last (relative to the Nix
// directory).
const nixpkgsState = "var/nixbp/nixpkgs.json"

// namesNixpkgs says whether one of the app's .nix files (the [nix]
// template's generated one included) names <nixpkgs>: only then would Nix
// fetch the tarball, and only then is it unpacked ahead of Nix.
func namesNixpkgs(appDir string) bool {
	found, seen := false, 0
	_ = filepath.WalkDir(appDir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil || found || seen > 2000:
			return filepath.SkipAll
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") && p != appDir:
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(d.Name(), ".nix"):
			return nil
		}
		seen++
		data, err := os.ReadFile(p)
		if err == nil && len(data) < 4<<20 && strings.Contains(string(data), "<nixpkgs") {
			found = true
		}
		return nil
	})
	return found
}
