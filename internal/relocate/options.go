package relocate

import (
	"crypto/sha256"
	"fmt"
	"path"
	"strings"

	"github.com/nix-buildpack/nix-buildpack/internal/settings"
)

// Mode says when a build relocates the runtime closure.
type Mode string

// The modes.
const (
	// Auto relocates when the run directory is known and the check finds
	// nothing; otherwise the closure is copied as is, with a warning.
	Auto Mode = "auto"
	// Always relocates, and fails the build when the check finds something
	// (unless Options.Warn).
	Always Mode = "always"
	// Never copies the closure as is.
	Never Mode = "never"
)

// ParseMode reads a mode; "" is Auto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return Auto, nil
	case Auto, Always, Never:
		return m, nil
	}
	return "", fmt.Errorf("%q is not a relocation mode: expected auto, always or never", s)
}

// SlugDir is the directory of a slug (relative to the app's root) that
// holds the relocated closure: with the app at /app it is /app/.nixs,
// exactly as long as /nix/store.
const SlugDir = ".nixs"

// Options is how a front-end asks for relocation.
type Options struct {
	Mode Mode
	// AppDir is the app's directory at run time, "" when unknown (Auto
	// then does not relocate). The closure goes to AppDir/SlugDir.
	AppDir string
	// Warn turns findings into warnings under Always.
	Warn bool
	// StoreRuns, when set, says whether the unrelocated store could be
	// shown at /nix on a platform like the build's (nil: assume it can).
	// Under Auto, a closure that would stay unrelocated (unknown run
	// directory, or findings) is relocated anyway, with a warning, when it
	// returns an error: a store copy that no strategy can show is sure not
	// to run, a relocated one with a few broken files may.
	StoreRuns func() error
}

// NewOptions turns the relocation settings into Options. appDir is the
// front-end's own idea of the app's directory at run time ("" when it has
// none), used when the settings name no directory.
func NewOptions(r settings.Relocate, appDir string) (Options, error) {
	o := Options{Mode: Mode(r.Mode), AppDir: r.AppDir, Warn: r.Warn}
	if o.AppDir == "" {
		o.AppDir = appDir
	}
	if o.AppDir != "" && !strings.HasPrefix(o.AppDir, "/") {
		return o, fmt.Errorf("%s=%q: expected an absolute directory (where the slug is when the app runs)", settings.RelocateAppDirName, o.AppDir)
	}
	return o, nil
}

// Prefix is where the closure lives at run time: AppDir/SlugDir, padded.
func (o Options) Prefix() (Prefix, error) {
	if o.AppDir == "" {
		return "", fmt.Errorf("the app's directory at run time is unknown")
	}
	p, err := ParsePrefix(path.Join(o.AppDir, SlugDir))
	if err != nil {
		return "", fmt.Errorf("the app runs at %s: %w", o.AppDir, err)
	}
	return p, nil
}

// ImagePrefix is where a CNB image's relocated closure lives at run time:
// a /tmp link the launcher makes at start to the view layer's nix/store.
// It is fixed, not named from the closure, so a store path's relocated
// layer has the same bytes in every build and every app (the registry
// keeps one blob, an unchanged layer is reused); /tmp is private to a
// container, and the launcher refuses a link it finds that is not the
// user's own or holds another closure. It is exactly as long as /nix/store.
const ImagePrefix Prefix = "/tmp/.nixs"

// LinkPrefix is the prefix of a closure relocated for a /tmp link:
// /tmp/<5 characters named from id>, exactly as long as /nix/store. The
// launcher makes it a symlink to the relocated tree at start, for apps
// whose directory is unknown at build time or too long for AppDir/SlugDir.
func LinkPrefix(id string) Prefix {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz" // nixbase32's
	sum := sha256.Sum256([]byte(id))
	name := make([]byte, 5)
	for i := range name {
		name[i] = alphabet[sum[i]%32]
	}
	return Prefix("/tmp/" + string(name))
}
