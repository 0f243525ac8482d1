package caching

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// SourceDigest is the digest of the app's source (the package's
// SourceDigest) when the caches can use it: a cache is configured and the
// policy is not always; else "". Compute it once per build, before anything
// writes into the app (a template's expression): the same key serves the
// reuse of a previous image, the restore and the push.
func (c Caches) SourceDigest(appDir string) (string, error) {
	if !c.Any() || c.Policy == settings.BuildAlways {
		return "", nil
	}
	return SourceDigest(appDir)
}

// SourceDigest is a digest of everything an app ships: every file's path,
// type, executable bit and content (or link target), .git excluded. Two
// checkouts with the same digest build the same output, so the digest keys
// the cache pointer that lets a build skip evaluation.
func SourceDigest(appDir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(appDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(appDir, p)
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".nixbp") && rel != "." {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			fmt.Fprintf(h, "d %s\x00", rel)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "l %s\x00%s\x00", rel, target)
		case info.Mode().IsRegular():
			fmt.Fprintf(h, "f %s %t %d\x00", rel, info.Mode()&0o111 != 0, info.Size())
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("unable to digest the app source in %s\n%w", appDir, err)
	}
	return strings.ToLower(hex.EncodeToString(h.Sum(nil))), nil
}
